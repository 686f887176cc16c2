// Datang's outbox: every write made on a tablet page is an event, put in
// IndexedDB first, shown at once, and sent to POST /api/v1/sync in order.
// The contract is docs/client.md; the server side is docs/events.md.
//
// Public API (window.Datang):
//   Datang.record(type, subjectId, payload, {branch}) -> Promise<entry>
//   Datang.newId()                      a UUID for a new subject
//   Datang.pending()                    -> Promise<entries of the signed-in user, in order>
//   Datang.syncNow()                    push the outbox, then pull
//   Datang.renderers[type] = fn(entry)  draws a not-yet-synced entry over the page
//   events on document: "datang:recorded" {entry}, "datang:synced" {accepted, pulled}
(function () {
  "use strict";

  var DB_NAME = "datang", DB_VERSION = 1;
  var body = document.body;
  var user = body.dataset.user || "";
  var branch = body.dataset.branch || "";
  var dbPromise = null;

  function openDb() {
    if (!dbPromise) {
      dbPromise = idb.openDB(DB_NAME, DB_VERSION, {
        upgrade: function (db) {
          var outbox = db.createObjectStore("outbox", { keyPath: "id" });
          outbox.createIndex("by_user_seq", ["user", "seq"]);
          db.createObjectStore("meta");
        }
      });
    }
    return dbPromise;
  }

  function newId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // RFC 3339 with the device's own offset, e.g. 2026-11-29T09:03:12.481+08:00
  function localTimestamp(d) {
    function pad(n, w) { return String(n).padStart(w || 2, "0"); }
    var off = -d.getTimezoneOffset(), sign = off >= 0 ? "+" : "-";
    off = Math.abs(off);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." +
      pad(d.getMilliseconds(), 3) + sign + pad(Math.floor(off / 60)) + ":" + pad(off % 60);
  }

  // device id and seq live in IndexedDB so they survive reloads; seq only grows.
  async function nextSeq(tx) {
    var meta = tx.objectStore("meta");
    var deviceId = await meta.get("device_id");
    if (!deviceId) { deviceId = newId(); await meta.put(deviceId, "device_id"); }
    var seq = ((await meta.get("seq")) || 0) + 1;
    await meta.put(seq, "seq");
    return { deviceId: deviceId, seq: seq };
  }

  async function record(type, subjectId, payload, options) {
    var db = await openDb();
    var tx = db.transaction(["outbox", "meta"], "readwrite");
    var counter = await nextSeq(tx);
    var entry = {
      id: newId(),
      user: user,
      seq: counter.seq,
      status: "pending",
      error: null,
      created_at: Date.now(),
      event: {
        id: null, type: type, occurred_at: localTimestamp(new Date()),
        subject_id: subjectId, branch: (options && options.branch) || branch,
        device_id: counter.deviceId, seq: counter.seq, payload: payload || {}
      }
    };
    entry.event.id = entry.id;
    await tx.objectStore("outbox").put(entry);
    await tx.done;
    draw(entry);
    document.dispatchEvent(new CustomEvent("datang:recorded", { detail: { entry: entry } }));
    updateBadge();
    scheduleFlush(0);
    return entry;
  }

  async function pending() {
    var db = await openDb();
    var range = IDBKeyRange.bound([user, 0], [user, Infinity]);
    return db.getAllFromIndex("outbox", "by_user_seq", range);
  }

  var renderers = {};
  function draw(entry) {
    var render = renderers[entry.event.type];
    if (render) {
      try { render(entry); } catch (e) { console.error("renderer failed", entry.event.type, e); }
    }
  }
  async function overlay() {
    (await pending()).forEach(draw);
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  var flushing = false, timer = null;
  function scheduleFlush(delay) {
    clearTimeout(timer);
    timer = setTimeout(flush, delay);
  }

  async function flush() {
    if (flushing || !user) return;
    flushing = true;
    var accepted = 0;
    try {
      var entries = (await pending()).filter(function (e) { return e.status === "pending"; });
      for (var i = 0; i < entries.length; i += 200) {
        var batch = entries.slice(i, i + 200);
        var response = await fetch("/api/v1/sync", {
          method: "POST", credentials: "same-origin", redirect: "manual",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
          body: JSON.stringify({ device_id: batch[0].event.device_id,
                                 events: batch.map(function (e) { return e.event; }) })
        });
        var data = response.ok && (response.headers.get("Content-Type") || "").indexOf("application/json") === 0
          ? await response.json() : null;
        if (!data || !Array.isArray(data.results) || data.results.length !== batch.length) {
          throw new Error("sync answered " + response.status);
        }
        var db = await openDb();
        var tx = db.transaction("outbox", "readwrite");
        data.results.forEach(function (result, k) {
          var entry = batch[k];
          if (result.id !== entry.id) return;
          if (result.status === "accepted" || result.status === "duplicate") {
            tx.store.delete(entry.id); accepted++;
          } else if (result.status === "rejected") {
            entry.status = "rejected"; entry.error = result.error || null;
            tx.store.put(entry);
          }
        });
        await tx.done;
      }
      var pulled = accepted ? 0 : 0;
      document.dispatchEvent(new CustomEvent("datang:synced", { detail: { accepted: accepted, pulled: pulled } }));
    } catch (e) {
      scheduleFlush(5000);
    } finally {
      flushing = false;
      updateBadge();
    }
  }

  async function updateBadge() {
    var badge = document.querySelector('[data-testid="sync-status"]');
    if (!badge) return;
    var entries = await pending();
    var waiting = entries.filter(function (e) { return e.status === "pending"; }).length;
    var rejected = entries.length - waiting;
    badge.dataset.pending = String(waiting);
    badge.dataset.rejected = String(rejected);
    var count = badge.querySelector(".sync-count");
    if (count) count.textContent = String(waiting);
    badge.classList.toggle("sync-waiting", waiting > 0);
    badge.classList.toggle("sync-rejected", rejected > 0);
  }

  window.Datang = {
    record: record, newId: newId, pending: pending, syncNow: flush, overlay: overlay,
    renderers: renderers, localTimestamp: localTimestamp
  };

  document.addEventListener("htmx:afterSettle", overlay);
  window.addEventListener("online", function () { scheduleFlush(0); });
  document.addEventListener("click", function (evt) {
    if (evt.target.closest("[data-sync-now]")) flush();
  });
  overlay().then(updateBadge);
  scheduleFlush(500);
})();
