// Live comments: follow this post over /live and add each new comment as
// it is written, wherever it was written (API, form, admin, any node).
(() => {
  const section = document.getElementById("comments");
  if (!section || typeof io === "undefined") return;
  const postId = Number(section.dataset.postId);
  const list = document.getElementById("comment-list");
  const count = document.getElementById("comment-count");
  // WebSocket first: one connection that stays on the node it reached, so
  // several nodes need no sticky sessions (deploy/nginx.conf). Long polling
  // only where a WebSocket cannot open (its requests must then reach one
  // node: see the note there).
  const socket = io("/live", { transports: ["websocket", "polling"] });
  // `data-live` says whether the page follows its post (tests wait on it).
  socket.on("connect", () =>
    socket.emit("join", { post_id: postId }, (answer) => {
      section.dataset.live = answer && answer.ok ? "on" : "refused";
    }),
  );
  socket.on("disconnect", () => {
    section.dataset.live = "off";
  });
  socket.on("comment", (c) => {
    if (c.post_id !== postId || document.getElementById(`comment-${c.id}`)) return;
    const p = document.createElement("p");
    p.className = "comment";
    p.id = `comment-${c.id}`;
    const who = document.createElement("b");
    who.textContent = c.author_name;
    p.append(who, `: ${c.body}`);
    list.append(p);
    count.textContent = String(list.querySelectorAll(".comment").length);
  });
})();
