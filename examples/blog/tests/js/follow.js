// Follows a post on a blog node over /live with the official client and
// prints what arrives: `joined`, then the first comment as a JSON line.
//   node follow.js http://127.0.0.1:5103 POST_ID
const { io } = require("socket.io-client");

const [base, postId] = process.argv.slice(2);
const fail = (why) => {
  console.log(JSON.stringify({ error: String(why) }));
  process.exit(1);
};
setTimeout(() => fail("no comment within 30 s"), 30000);
const socket = io(base + "/live", { transports: ["websocket"], reconnection: false });
socket.on("connect_error", fail);
socket.on("connect", () => {
  socket.emit("join", { post_id: Number(postId) }, (answer) => {
    if (!answer || !answer.ok) fail(JSON.stringify(answer));
    console.log("joined");
  });
});
socket.on("comment", (comment) => {
  console.log(JSON.stringify(comment));
  socket.close();
  process.exit(0);
});
