// Phial admin: progressive enhancement only; every page works without it.
(function () {
  "use strict";
  var body = document.body;

  // Select all on this page, and a count of what is selected.
  var all = document.querySelector("[data-select-all]");
  var count = document.querySelector("[data-selected-count]");
  function boxes() { return document.querySelectorAll('input[name="_selected"]'); }
  function recount() {
    if (!count) return;
    var n = 0; boxes().forEach(function (b) { if (b.checked) n++; });
    count.textContent = n ? n + " selected" : "";
  }
  if (all) all.addEventListener("change", function () {
    boxes().forEach(function (b) { b.checked = all.checked; }); recount();
  });
  document.addEventListener("change", function (e) {
    if (e.target && e.target.name === "_selected") recount();
  });

  // "/" focuses the search box, as on most consoles.
  document.addEventListener("keydown", function (e) {
    var t = e.target && e.target.tagName;
    if (e.key === "/" && t !== "INPUT" && t !== "TEXTAREA" && t !== "SELECT") {
      var q = document.getElementById("q");
      if (q) { e.preventDefault(); q.focus(); q.select(); }
    }
  });

  // Foreign keys over large tables: a search that fills the datalist.
  document.querySelectorAll("[data-fk-search]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var url = input.getAttribute("data-fk-search") + "?q=" + encodeURIComponent(input.value);
        fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (items) {
            list.innerHTML = "";
            items.forEach(function (it) {
              var o = document.createElement("option");
              o.value = it.value; o.label = it.label; o.textContent = it.label;
              list.appendChild(o);
            });
          }).catch(function () {});
      }, 200);
    });
  });

  // Live updates: with the socket extension, watch this page's table and
  // refresh the rows (lists) or say the row changed (detail and edit).
  var path = body.getAttribute("data-live-path");
  var ns = body.getAttribute("data-live-ns");
  var table = document.querySelector("[data-live-table]");
  var row = document.querySelector("[data-live-row]");
  if (!path || !ns || (!table && !row)) return;
  function start() {
    if (typeof io !== "function") return;
    var name = table ? table.getAttribute("data-live-table") : row.getAttribute("data-live-row");
    var socket = io(ns, { path: path, transports: ["websocket", "polling"] });
    var connectedBefore = false;
    socket.on("connect", function () {
      socket.emit("watch", name, function (answer) {
        if (answer && answer.ok) body.setAttribute("data-live", "on");
        // Back after a disconnection: what changed meanwhile was not
        // pushed; a list refreshes its rows, a row says it may have changed.
        if (connectedBefore && answer && answer.ok) {
          if (table) refreshRows();
        }
        connectedBefore = true;
      });
    });
    socket.on("disconnect", function (reason) {
      body.setAttribute("data-live", "off");
      // The server ended the session (its node shutting down, a
      // sign-out): socket.io stays away after that; come back a moment
      // later (a sign-out is refused then, and the page stays off).
      if (reason === "io server disconnect") {
        setTimeout(function () { socket.connect(); }, 250 + Math.random() * 750);
      }
    });
    var pending = null;
    socket.on("changed", function (ev) {
      if (table) {
        clearTimeout(pending);
        pending = setTimeout(refreshRows, 150);
      } else {
        var key = JSON.stringify(JSON.parse(row.getAttribute("data-key") || "null"));
        var mine = !ev.keys || ev.keys.length === 0 || ev.keys.some(function (k) { return JSON.stringify(k) === key; });
        if (!mine) return;
        var el = document.querySelector(ev.op === "delete" ? "[data-live-gone]" : "[data-live-changed]");
        if (el) el.hidden = false;
        body.setAttribute("data-live-seen", ev.op);
      }
    });
  }
  function refreshRows() {
    var url = new URL(window.location.href);
    url.searchParams.set("_partial", "rows");
    // Asked by the page, not the person: it does not keep the sign-in
    // from going idle.
    fetch(url.toString(), { credentials: "same-origin", headers: { "X-Phial-Background": "1" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var tbody = table.querySelector("[data-rows]");
        var checked = {};
        boxes().forEach(function (b) { if (b.checked) checked[b.value] = true; });
        var before = {};
        tbody.querySelectorAll("tr[data-key]").forEach(function (tr) { before[tr.getAttribute("data-key")] = tr.textContent; });
        tbody.innerHTML = html;
        tbody.querySelectorAll("tr[data-key]").forEach(function (tr) {
          var k = tr.getAttribute("data-key");
          if (before[k] !== tr.textContent) tr.classList.add("flash-row");
          var b = tr.querySelector('input[name="_selected"]');
          if (b && checked[b.value]) b.checked = true;
        });
        var note = document.querySelector("[data-live-note]");
        if (note) note.hidden = false;
        body.setAttribute("data-live-refreshed", String(Date.now()));
        recount();
      }).catch(function () {});
  }
  if (typeof io === "function") start(); else window.addEventListener("load", start);
})();
