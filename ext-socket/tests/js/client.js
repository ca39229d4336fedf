// Drives a Phial app with the official Socket.IO client (socket.io-client
// from npm) over one transport, and prints what it saw as one JSON line.
//
//   node client.js BASE_URL TRANSPORT SESSION_COOKIE
//
// The Rust test (js_client.rs) starts the app, runs this, and checks each
// field; a step that fails records its error instead of stopping the rest.
const { io } = require("socket.io-client");

const [base, transport, cookie] = process.argv.slice(2);
const out = { transport };

function connect(ns, opts = {}) {
  return io(base + ns, {
    transports: [transport],
    reconnection: false,
    forceNew: true,
    timeout: 5000,
    ...opts,
  });
}

// The first `event` on `socket`, or a rejection after `ms`.
function once(socket, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    socket.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

async function step(name, f) {
  try {
    out[name] = await f();
  } catch (e) {
    out[name] = { error: String(e && e.message ? e.message : e) };
  }
}

(async () => {
  await step("anonymous_private", async () => {
    const s = connect("/private");
    const [err] = await once(s, "connect_error");
    s.close();
    return err.message;
  });

  await step("signed_in_private", async () => {
    const s = connect("/private", { extraHeaders: { cookie } });
    const [id] = await once(s, "you");
    s.close();
    return id;
  });

  await step("foreign_origin", async () => {
    const s = connect("/live", { extraHeaders: { origin: "https://evil.example" } });
    const [err] = await once(s, "connect_error");
    s.close();
    return err.message;
  });

  // Listeners go on before the first await: events that arrive earlier
  // are not kept for later listeners.
  const a = connect("/live");
  const aHello = once(a, "hello");
  const b = connect("/live");
  const bHello = once(b, "hello");
  await step("hello", async () => (await aHello)[0]);
  await step("engine_transport", async () => a.io.engine.transport.name);
  await step("ack", async () => a.timeout(5000).emitWithAck("add", [40, 2]));
  await step("joined", async () => a.timeout(5000).emitWithAck("join", "news"));
  await step("headline", async () => {
    const got = once(a, "headline");
    const res = await fetch(base + "/announce");
    if ((await res.text()) !== "sent") throw new Error(`/announce answered ${res.status}`);
    return (await got)[0];
  });
  await step("room", async () => {
    await bHello;
    await b.timeout(5000).emitWithAck("join", "kitchen");
    const got = once(b, "said");
    a.emit("say", { room: "kitchen", text: "dinner is ready" });
    return (await got)[0];
  });
  a.close();
  b.close();
  console.log(JSON.stringify(out));
  process.exit(0);
})();
