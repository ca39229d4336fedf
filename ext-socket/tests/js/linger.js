// Connects to /live over one transport and stays until the server ends the
// connection; prints `connected`, then `disconnect <reason>`.
//
//   node linger.js BASE_URL TRANSPORT
const { io } = require("socket.io-client");

const [base, transport] = process.argv.slice(2);
const s = io(base + "/live", { transports: [transport], reconnection: false });
s.on("connect", () => console.log("connected"));
s.on("disconnect", (reason) => {
  console.log(`disconnect ${reason}`);
  process.exit(0);
});
s.on("connect_error", (e) => {
  console.log(`connect_error ${e.message}`);
  process.exit(1);
});
