// Datang's outbox, the engine: every write made on a tablet page is an event,
// put in IndexedDB first and sent to POST /api/v1/sync in order; the server's
// events are pulled back. It draws nothing: static/js/outbox-ui.js draws the
// badge, its panel and the entries not yet synced, from the API and events below.
// It reads the page only for its settings (<body data-user, data-branch,
// data-cursor>, one string) and the CSRF token it sends (and refreshes).
// The contract is docs/sync-contract.md; how this file keeps it, docs/client.md.
// (About 500 lines, one file: the storage, the sending and its timing share one
// state, the pause, the back-off and the lock, which no other file should touch.)
//
// Public API (window.Datang), stable: others build pages against it.
//   Datang.record(type, subjectId, payload, {branch}) -> Promise<entry>
//   Datang.newId()                      a UUID for a new subject
//   Datang.pending()                    -> Promise<entries of the signed-in user, in order>
//                                          (waiting and refused; entry.status tells which)
//   Datang.syncNow()                    push the outbox, then pull -> Promise<summary>
//   Datang.resume()                     the user asked: forget a pause and the back-off, syncNow()
//   Datang.discard(id)                  drop a refused entry of the signed-in user
//   Datang.status()                     -> {online, paused, syncing, attempt, pending, rejected,
//                                           oldest, lastSync, nextTry, lastError, sent}
//   events on document: "datang:recorded" {entry},
//                       "datang:synced" {accepted, rejected, pulled, events}
//                       "datang:changed" the same, when any of the counts is not 0
//                       "datang:settled" {accepted: [ids], rejected: [entries]} the moment
//                                        entries leave the outbox or are refused
//                       "datang:discarded" {id}
//                       "datang:status" {status, entries} the counts were read again
//                                       (entries: the user's, as pending() gives them)
//                       "datang:paused" {reason} "auth" | "wrong_user" | null (sending again)
(function () {
  "use strict";

  var DB_NAME = "datang", DB_VERSION = 1;
  var MAX_EVENTS = 500;
  var MAX_BYTES = 1024 * 1024 - 1024;   // the server's 1 MiB, less room for the wrapper
  var PULL_LIMIT = 1000, PULL_PAGES = 20;
  var BACKOFF_BASE = 1000, BACKOFF_MAX = 60000;
  var IDLE_SYNC = 30000;                 // pull now and then, so two tablets converge
  var LOCK_NAME = "datang-sync";

  var body = document.body;
  var user = body.dataset.user || "";
  var branch = body.dataset.branch || "";
  var tooLargeMessage = readStrings().tooLarge || "too_large";   // kept with a refused entry
  var dbPromise = null;

  function readStrings() {
    var block = document.getElementById("datang-strings");
    try { return block ? JSON.parse(block.textContent) : {}; } catch (e) { return {}; }
  }
  function emit(name, detail) {
    document.dispatchEvent(new CustomEvent(name, { detail: detail }));
  }

  function openDb() {
    if (!dbPromise) {
      dbPromise = idb.openDB(DB_NAME, DB_VERSION, {
        upgrade: function (db) {
          var outbox = db.createObjectStore("outbox", { keyPath: "id" });
          outbox.createIndex("by_user_seq", ["user", "seq"]);
          db.createObjectStore("meta");
        },
        // Another tab opened a newer schema: let it, and reopen on next use.
        blocking: function () { if (dbPromise) dbPromise.then(function (db) { db.close(); }); dbPromise = null; }
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

  function pad(n, w) { return String(n).padStart(w || 2, "0"); }

  // RFC 3339 with the device's own offset, e.g. 2026-11-29T09:03:12.481+08:00
  function localTimestamp(d) {
    var off = -d.getTimezoneOffset(), sign = off >= 0 ? "+" : "-";
    off = Math.abs(off);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." +
      pad(d.getMilliseconds(), 3) + sign + pad(Math.floor(off / 60)) + ":" + pad(off % 60);
  }

  // --- writing -------------------------------------------------------------

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
    if (!user) throw new Error("Datang.record: nobody is signed in on this page");
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
    tx.objectStore("outbox").put(entry);
    await tx.done;          // durable before anything is drawn or sent
    emit("datang:recorded", { entry: entry });   // outbox-ui.js draws it
    recount();
    broadcast({ type: "changed" });
    scheduleFlush(0);
    return entry;
  }

  // Only the signed-in user's entries: another person's stay stored, unseen and unsent.
  async function pending() {
    if (!user) return [];
    var db = await openDb();
    var range = IDBKeyRange.bound([user, -Infinity], [user, Infinity]);
    return db.getAllFromIndex("outbox", "by_user_seq", range);
  }

  async function discard(id) {
    var db = await openDb();
    var tx = db.transaction("outbox", "readwrite");
    var entry = await tx.store.get(id);
    // Only refused entries: a waiting one may be on its way to the server.
    if (!entry || entry.user !== user || entry.status !== "rejected") { await tx.done; return false; }
    await tx.store.delete(id);
    await tx.done;
    emit("datang:discarded", { id: id });
    recount();
    broadcast({ type: "changed" });
    return true;
  }

  // --- sending ---------------------------------------------------------------

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }
  function setCsrfToken(token) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) meta.content = token;
    // htmx reads its headers from <body hx-headers>: keep it in step.
    try {
      var headers = JSON.parse(body.getAttribute("hx-headers") || "{}");
      headers["X-CSRFToken"] = token;
      body.setAttribute("hx-headers", JSON.stringify(headers));
    } catch (e) { /* no hx-headers: nothing to update */ }
  }

  function Failure(kind, detail) { this.kind = kind; this.detail = detail; }

  async function readJson(response) {
    // Only the API's own answer counts: not a redirect, not a captive portal's page.
    if (response.type !== "basic" || response.redirected) return null;
    if ((response.headers.get("Content-Type") || "").indexOf("application/json") !== 0) return null;
    try { return await response.json(); } catch (e) { return null; }
  }

  async function api(url, options) {
    var response;
    options = Object.assign({ credentials: "same-origin", redirect: "manual", cache: "no-store" },
                            options || {});
    // Reads are background work; only sending entries counts as using the tablet.
    if (!options.method || options.method === "GET") options.headers = { "X-Datang-Background": "1" };
    try {
      response = await fetch(url, options);
    } catch (e) {
      throw new Failure("network");
    }
    var data = await readJson(response);
    if (response.status === 401) throw new Failure("auth");
    var code = data && data.error && data.error.code;
    if (code === "wrong_user") throw new Failure("wrong_user");
    return { status: response.status, data: data, code: code };
  }

  // The signed-in user, a fresh CSRF token and the pull cursor of now.
  async function sessionInfo() {
    var answer = await api("/api/v1/session");
    var data = answer.data;
    if (answer.status !== 200 || !data || typeof data.csrf_token !== "string") throw new Failure("server", answer.status);
    if (data.user !== user) throw new Failure("wrong_user");
    setCsrfToken(data.csrf_token);
    return data;
  }

  function byteLength(value) { return new TextEncoder().encode(JSON.stringify(value)).length; }

  // The next batch: in seq order, at most MAX_EVENTS and MAX_BYTES.
  function takeBatch(entries) {
    var batch = [], size = 64;
    for (var i = 0; i < entries.length && batch.length < MAX_EVENTS; i++) {
      var bytes = byteLength(entries[i].event) + 1;
      if (batch.length && size + bytes > MAX_BYTES) break;
      batch.push(entries[i]); size += bytes;
    }
    return batch;
  }

  async function post(batch, retried) {
    var answer = await api("/api/v1/sync", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), "X-Datang-User": encodeURIComponent(user) },
      // sent_at: the device's clock now, from which the server measures its skew.
      body: JSON.stringify({ device_id: batch[0].event.device_id, sent_at: localTimestamp(new Date()),
                             events: batch.map(function (e) { return e.event; }) })
    });
    if (answer.code === "csrf_failed" && !retried) {
      // A page from the service worker's cache may hold an old token.
      await sessionInfo();
      return post(batch, true);
    }
    return answer;
  }

  // Sends one batch; splits it on 413. Returns how many entries it settled.
  async function sendBatch(batch, summary) {
    var answer = await post(batch);
    if (answer.status === 413) {
      if (batch.length === 1) {
        await markRejected(batch[0], { code: "too_large", message: tooLargeMessage });
        summary.rejected++;
        return 1;
      }
      var half = Math.ceil(batch.length / 2);
      return (await sendBatch(batch.slice(0, half), summary)) + (await sendBatch(batch.slice(half), summary));
    }
    var data = answer.data;
    if (answer.status !== 200 || !data || !Array.isArray(data.results) || data.results.length !== batch.length) {
      throw new Failure("server", answer.status);
    }
    var db = await openDb();
    var tx = db.transaction("outbox", "readwrite");
    var settled = 0;
    data.results.forEach(function (result, k) {
      var entry = batch[k];
      if (!result || result.id !== entry.id) return;   // not an answer about this entry
      if (result.status === "accepted" || result.status === "duplicate") {
        tx.store.delete(entry.id); settled++; summary.accepted++;
      } else if (result.status === "rejected") {
        var error = result.error || {};
        entry.status = "rejected";
        entry.error = { code: String(error.code || "rejected"), message: String(error.message || "") };
        tx.store.put(entry); settled++; summary.rejected++;
      }
    });
    await tx.done;
    var settledNow = { accepted: [], rejected: batch.filter(function (e) { return e.status === "rejected"; }) };
    data.results.forEach(function (result) {
      if (result && (result.status === "accepted" || result.status === "duplicate")) {
        settledNow.accepted.push(result.id);
        state.sent++;   // no longer drawn over the page: only the server's answers show it now
      }
    });
    // At once, with `sent`: a page's guard against older answers counts on both moving together.
    emit("datang:settled", settledNow);
    return settled;
  }

  async function markRejected(entry, error) {
    var db = await openDb();
    entry.status = "rejected"; entry.error = error;
    await db.put("outbox", entry);
  }

  async function push(summary) {
    for (;;) {
      var waiting = (await pending()).filter(function (e) { return e.status === "pending"; });
      if (!waiting.length) return;
      var batch = takeBatch(waiting);
      if (!(await sendBatch(batch, summary))) throw new Failure("server", "no progress");
    }
  }

  async function pull(summary) {
    var db = await openDb();
    var key = "cursor:" + user;
    var cursor = await db.get("meta", key);
    if (cursor === undefined) {
      // A new device starts where its page was drawn: the page shows the server's
      // state of then. (A page from the worker's cache is older: more, never less.)
      cursor = body.dataset.cursor !== undefined ? body.dataset.cursor
        : String((await sessionInfo()).cursor || "");
      await db.put("meta", cursor, key);
    }
    for (var page = 0; page < PULL_PAGES; page++) {
      var answer = await api("/api/v1/events?limit=" + PULL_LIMIT + "&since=" + encodeURIComponent(cursor));
      var data = answer.data;
      if (answer.status !== 200 || !data || !Array.isArray(data.events) || typeof data.next !== "string") {
        throw new Failure("server", answer.status);
      }
      if (!data.events.length) return;
      summary.pulled += data.events.length;
      if (summary.events.length < PULL_LIMIT) Array.prototype.push.apply(summary.events, data.events);
      cursor = data.next;
      await db.put("meta", cursor, key);
      if (data.events.length < PULL_LIMIT) return;
    }
  }

  // --- when to send ------------------------------------------------------------

  var state = {
    online: navigator.onLine,   // a page loaded offline gets no "offline" event
    paused: null,               // "auth" | "wrong_user": waits for a sign-in
    syncing: false,
    attempt: 0,
    pending: 0,                 // the counts, as recount() last read them
    rejected: 0,
    oldest: null,
    lastSync: null,
    nextTry: null,
    lastError: null,
    sent: 0                     // entries the server took since the page loaded
  };
  var timer = null, inflight = null, again = false;

  function scheduleFlush(delay) {
    clearTimeout(timer);
    state.nextTry = Date.now() + delay;
    timer = setTimeout(function () { state.nextTry = null; flush(); }, delay);
  }

  function flush() {
    if (inflight) { again = true; return inflight; }
    inflight = locked().finally(function () {
      inflight = null;
      if (again) { again = false; scheduleFlush(0); }
    });
    return inflight;
  }

  // One flush at a time across the tabs of this browser, per user: a holder sends only
  // its own user's entries, so a tab of another user must not leave the work to it.
  function locked() {
    if (!navigator.locks) return run();
    return navigator.locks.request(LOCK_NAME + ":" + user, { ifAvailable: true }, function (lock) {
      // Another tab is sending; it tells us when it is done (see broadcast).
      return lock ? run() : { busy: true };
    });
  }

  async function run() {
    var summary = { accepted: 0, rejected: 0, pulled: 0, events: [] };
    if (!user) return summary;
    state.online = navigator.onLine;
    if (!state.online) { recount(); return Object.assign(summary, { offline: true }); }
    state.syncing = true;
    recount();
    try {
      await push(summary);
      await pull(summary);
      state.paused = null; state.attempt = 0; state.lastError = null; state.lastSync = Date.now();
      emit("datang:paused", { reason: null });
      announce(summary);
      broadcast({ type: "synced", detail: { accepted: summary.accepted, rejected: summary.rejected,
                                            pulled: summary.pulled, events: [] } });
      scheduleFlush(IDLE_SYNC);
    } catch (e) {
      if (!(e instanceof Failure)) { console.error("sync failed", e); e = new Failure("error"); }
      summary.error = e.kind;
      state.lastError = e.kind;
      if (e.kind === "auth" || e.kind === "wrong_user") {
        // Nothing is retried until someone signs in: a 401 never deletes anything.
        // The session is over: its cached screens go (the entries stay, bound to their user).
        if (e.kind === "auth" && window.datangForgetScreens) window.datangForgetScreens();
        state.paused = e.kind;
        clearTimeout(timer); state.nextTry = null;
        emit("datang:paused", { reason: e.kind });
      } else {
        var delay = Math.min(BACKOFF_MAX, BACKOFF_BASE * Math.pow(2, state.attempt));
        state.attempt++;
        scheduleFlush(delay * (0.8 + Math.random() * 0.4));
        askBackgroundSync();
      }
    } finally {
      state.syncing = false;
      recount();
    }
    return summary;
  }

  // "datang:synced" after every sync; "datang:changed" only when the server's
  // state moved (something accepted, refused or pulled): regions that show the
  // server's state refresh on that, not on every quiet sync.
  function announce(summary) {
    emit("datang:synced", summary);
    if (summary.accepted || summary.rejected || summary.pulled) emit("datang:changed", summary);
  }

  function askBackgroundSync() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.ready.then(function (reg) {
      if (reg.sync) return reg.sync.register("datang-outbox");
    }).catch(function () { /* no Background Sync here: the timer does it */ });
  }

  // Tabs tell each other what changed, so each tab's counts and board stay true.
  var channel = "BroadcastChannel" in window ? new BroadcastChannel("datang") : null;
  function broadcast(message) {
    if (channel) channel.postMessage(Object.assign({ user: user }, message));
  }
  if (channel) {
    channel.onmessage = function (evt) {
      var message = evt.data || {};
      if (message.user !== user) return;
      recount();
      if (message.type === "synced") announce(message.detail);
    };
  }

  // --- the counts -------------------------------------------------------------------

  // Coalesced: a burst of records (or a drained batch) reads the outbox once,
  // not once per entry, which would read the whole outbox n times.
  var countRun = null, countDirty = false;
  function recount() {
    if (countRun) { countDirty = true; return countRun; }
    countRun = new Promise(function (resolve) { requestAnimationFrameOrSoon(resolve); })
      .then(readCounts).catch(function (e) { console.error("outbox counts", e); })
      .then(function () {
        countRun = null;
        if (countDirty) { countDirty = false; return recount(); }
      });
    return countRun;
  }
  function requestAnimationFrameOrSoon(fn) {
    // rAF does not run in a hidden tab; the counts must still be right when it shows.
    if (document.visibilityState === "visible" && window.requestAnimationFrame) requestAnimationFrame(function () { fn(); });
    else setTimeout(fn, 16);
  }

  async function readCounts() {
    var entries = await pending();
    var waiting = entries.filter(function (e) { return e.status === "pending"; });
    state.pending = waiting.length;
    state.rejected = entries.length - waiting.length;
    state.oldest = waiting.length ? waiting.reduce(function (m, e) { return Math.min(m, e.created_at); }, Infinity) : null;
    emit("datang:status", { status: status(), entries: entries });
  }

  function status() {
    return { online: state.online, paused: state.paused, syncing: state.syncing, attempt: state.attempt,
             pending: state.pending, rejected: state.rejected, oldest: state.oldest,
             lastSync: state.lastSync, nextTry: state.nextTry, lastError: state.lastError,
             sent: state.sent };
  }

  // --- wiring ----------------------------------------------------------------------

  // The user asked (the badge, "sync now"): try even a paused queue, and now.
  function resume() {
    state.paused = null; state.attempt = 0;
    return flush();
  }

  // pwa.js and outbox-ui.js add to window.Datang; this file makes it.
  window.Datang = Object.assign(window.Datang || {}, {
    record: record, newId: newId, pending: pending, syncNow: flush, resume: resume,
    discard: discard, localTimestamp: localTimestamp, status: status
  });

  // Back on the network: the failures while it was away said nothing of the server,
  // so the back-off starts afresh (a tablet offline for a while kept up to 60 s).
  window.addEventListener("online", function () { state.online = true; state.attempt = 0; scheduleFlush(0); });
  window.addEventListener("offline", function () { state.online = false; recount(); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") scheduleFlush(0);
  });
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", function (evt) {
      // Background Sync. A page in back-off keeps to its timer: the worker's sync
      // fires at once while the browser is online, and each failed flush registers
      // another, so obeying it retried a failing server in a tight loop.
      if (evt.data && evt.data.type === "FLUSH" && !state.attempt) flush();
    });
  }
  if (navigator.storage && navigator.storage.persist) {
    navigator.storage.persisted().then(function (done) {
      if (!done) return navigator.storage.persist();
    }).catch(function () { /* best effort: the browser decides */ });
  }
  setInterval(recount, 30000);   // the oldest entry's age, which the badge shows, moves on
  recount();
  scheduleFlush(state.online ? 300 : 0);
})();
