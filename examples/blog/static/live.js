// Live comments: follow this post over /live and add each new comment as
// it is written, wherever it was written (API, form, admin, any node).
//
// Any disconnection is recovered: the client reconnects by itself after a
// lost transport (its node restarted: another node answers), and also
// after the server said goodbye (socket.io's client would stay away), and
// joins again with the offset of the last comment it got: the server
// replays what was sent meanwhile (its room log). When it cannot (Redis
// was away, or the page was gone too long) it says so, and the page reads
// the comments written meanwhile through the API, so none is missed.
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

  // The newest comment on the page, so a reconnection asks for what came after.
  let newest = 0;
  for (const p of list.querySelectorAll(".comment[data-id]")) {
    newest = Math.max(newest, Number(p.dataset.id));
  }

  const add = (c) => {
    if (c.post_id !== postId || document.getElementById(`comment-${c.id}`)) return;
    const p = document.createElement("p");
    p.className = "comment";
    p.id = `comment-${c.id}`;
    p.dataset.id = String(c.id);
    const who = document.createElement("b");
    who.textContent = c.author_name;
    p.append(who, `: ${c.body}`);
    list.append(p);
    newest = Math.max(newest, c.id);
    count.textContent = String(list.querySelectorAll(".comment").length);
  };

  // What was written while this page was not connected.
  const catchUp = async () => {
    for (;;) {
      const url = `/api/comments?post_id=${postId}&id__gt=${newest}&sort=id&per_page=100`;
      const res = await fetch(url, { headers: { accept: "application/json" } });
      if (!res.ok) return;
      const page = await res.json();
      const items = page.items || [];
      items.forEach(add);
      if (items.length < 100) return;
    }
  };

  let connectedBefore = false;
  // `data-live` says whether the page follows its post (tests wait on it).
  // The offset of the last comment event (sent back when joining again).
  let since = null;
  socket.on("connect", () =>
    socket.emit("join", { post_id: postId, since }, (answer) => {
      section.dataset.live = answer && answer.ok ? "on" : "refused";
      // Back with no offset (nothing came before it left), or a replay
      // that could not be whole: read what was written meanwhile.
      if (connectedBefore && answer && answer.ok && (since === null || !answer.complete)) {
        catchUp().catch(() => {});
      }
      connectedBefore = true;
    }),
  );
  socket.on("disconnect", (reason) => {
    section.dataset.live = "off";
    // The server ended the session (a node going away, a sign-out):
    // socket.io does not come back by itself after that; we do, a moment
    // later (a sign-out is then refused, and the page stays off).
    if (reason === "io server disconnect") {
      setTimeout(() => socket.connect(), 250 + Math.random() * 750);
    }
  });
  // Offsets are `ms-seq`; events sent on several nodes may come out of order.
  const later = (a, b) => {
    const [am, as] = a.split("-").map(Number);
    const [bm, bs] = b.split("-").map(Number);
    return am > bm || (am === bm && as > bs);
  };
  socket.on("comment", (c, offset) => {
    if (typeof offset === "string" && (since === null || later(offset, since))) since = offset;
    add(c);
  });
})();
