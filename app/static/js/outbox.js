// Datang's outbox: every write made on a tablet page is an event, put in
// IndexedDB first, shown at once, and sent to POST /api/v1/sync in order.
// The contract is docs/sync-contract.md; how this file keeps it, docs/client.md.
//
// Public API (window.Datang), stable: others build pages against it.
//   Datang.record(type, subjectId, payload, {branch}) -> Promise<entry>
//   Datang.newId()                      a UUID for a new subject
//   Datang.pending()                    -> Promise<entries of the signed-in user, in order>
//                                          (waiting and refused; entry.status tells which)
//   Datang.syncNow()                    push the outbox, then pull -> Promise<summary>
//   Datang.discard(id)                  drop a refused entry of the signed-in user
//   Datang.renderers[type] = fn(entry)  draws a not-yet-synced entry over the page
//   Datang.overlay()                    re-run the renderers over the page
//   Datang.status()                     -> {online, paused, pending, rejected, oldest, lastSync, nextTry, sent}
//   events on document: "datang:recorded" {entry},
//                       "datang:synced" {accepted, rejected, pulled, events}
//                       "datang:changed" the same, when any of the counts is not 0
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
  var strings = readStrings();
  var dbPromise = null;

  function readStrings() {
    var block = document.getElementById("datang-strings");
    try { return block ? JSON.parse(block.textContent) : {}; } catch (e) { return {}; }
  }
  function say(key, values) {
    var text = strings[key] || key;
    Object.keys(values || {}).forEach(function (name) {
      text = text.split("{" + name + "}").join(String(values[name]));
    });
    return text;
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
  function clock(ms) { var d = new Date(ms); return pad(d.getHours()) + ":" + pad(d.getMinutes()); }

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
    known.set(entry.id, entry);
    draw(entry);
    document.dispatchEvent(new CustomEvent("datang:recorded", { detail: { entry: entry } }));
    updateBadge();
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
    known.delete(id);
    document.querySelectorAll('[data-pending-id="' + id + '"]').forEach(function (el) { el.remove(); });
    updateBadge();
    broadcast({ type: "changed" });
    return true;
  }

  // --- drawing ---------------------------------------------------------------

  var renderers = {};
  function draw(entry) {
    var render = renderers[entry.event.type];
    if (render) {
      try { render(entry); } catch (e) { console.error("renderer failed", entry.event.type, e); }
    }
  }
  async function overlay() {
    var entries = await pending();
    known = new Map(entries.map(function (e) { return [e.id, e]; }));
    entries.forEach(draw);
  }
  // The outbox as this page last knew it, redrawn synchronously right after an htmx
  // swap: the server's fragment does not know the entries still waiting, and a tap
  // landing before the (asynchronous) overlay would meet the server's older state.
  var known = new Map();
  function overlayNow() {
    Array.from(known.values()).sort(function (a, b) { return a.seq - b.seq; }).forEach(draw);
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
        await markRejected(batch[0], { code: "too_large", message: say("tooLarge") });
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
    batch.forEach(function (entry) {
      if (entry.status === "rejected") known.set(entry.id, entry);
    });
    data.results.forEach(function (result) {
      if (result && (result.status === "accepted" || result.status === "duplicate")) {
        known.delete(result.id);
        state.sent++;   // no longer drawn over the page: only the server's answers show it now
      }
    });
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
    if (!state.online) { updateBadge(); return Object.assign(summary, { offline: true }); }
    state.syncing = true;
    updateBadge();
    try {
      await push(summary);
      await pull(summary);
      state.paused = null; state.attempt = 0; state.lastError = null; state.lastSync = Date.now();
      showSignIn(null);
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
        showSignIn(e.kind);
      } else {
        var delay = Math.min(BACKOFF_MAX, BACKOFF_BASE * Math.pow(2, state.attempt));
        state.attempt++;
        scheduleFlush(delay * (0.8 + Math.random() * 0.4));
        askBackgroundSync();
      }
    } finally {
      state.syncing = false;
      updateBadge();
    }
    return summary;
  }

  // "datang:synced" after every sync; "datang:changed" only when the server's
  // state moved (something accepted, refused or pulled): regions that show the
  // server's state refresh on that, not on every quiet sync.
  function announce(summary) {
    document.dispatchEvent(new CustomEvent("datang:synced", { detail: summary }));
    if (summary.accepted || summary.rejected || summary.pulled) {
      document.dispatchEvent(new CustomEvent("datang:changed", { detail: summary }));
    }
  }

  function askBackgroundSync() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.ready.then(function (reg) {
      if (reg.sync) return reg.sync.register("datang-outbox");
    }).catch(function () { /* no Background Sync here: the timer does it */ });
  }

  // Tabs tell each other what changed, so each badge and board stays true.
  var channel = "BroadcastChannel" in window ? new BroadcastChannel("datang") : null;
  function broadcast(message) {
    if (channel) channel.postMessage(Object.assign({ user: user }, message));
  }
  if (channel) {
    channel.onmessage = function (evt) {
      var message = evt.data || {};
      if (message.user !== user) return;
      updateBadge();
      if (message.type === "synced") announce(message.detail);
    };
  }

  // --- the badge and its panel ---------------------------------------------------

  // Coalesced: a burst of records (or a drained batch) redraws the badge once,
  // not once per entry, which would read the whole outbox n times.
  var badgeRun = null, badgeDirty = false;
  function updateBadge() {
    if (badgeRun) { badgeDirty = true; return badgeRun; }
    badgeRun = new Promise(function (resolve) { requestAnimationFrameOrSoon(resolve); })
      .then(drawBadge).catch(function (e) { console.error("badge", e); })
      .then(function () {
        badgeRun = null;
        if (badgeDirty) { badgeDirty = false; return updateBadge(); }
      });
    return badgeRun;
  }
  function requestAnimationFrameOrSoon(fn) {
    // rAF does not run in a hidden tab; the badge must still be right when it shows.
    if (document.visibilityState === "visible" && window.requestAnimationFrame) requestAnimationFrame(function () { fn(); });
    else setTimeout(fn, 16);
  }

  function age(ms) {
    var minutes = Math.floor(ms / 60000);
    if (minutes < 1) return say("ageSeconds");
    if (minutes < 60) return say("ageMinutes", { n: minutes });
    return say("ageHours", { h: Math.floor(minutes / 60), m: minutes % 60 });
  }

  async function drawBadge() {
    var badge = document.querySelector('[data-testid="sync-status"]');
    var entries = await pending();
    var waiting = entries.filter(function (e) { return e.status === "pending"; });
    var refused = entries.filter(function (e) { return e.status === "rejected"; });
    state.pending = waiting.length; state.rejected = refused.length;
    state.oldest = waiting.length ? waiting.reduce(function (m, e) { return Math.min(m, e.created_at); }, Infinity) : null;
    if (!badge) return;
    var mode = state.paused ? "paused" : !state.online ? "offline" : state.syncing ? "syncing"
      : waiting.length ? "waiting" : refused.length ? "rejected" : "idle";
    badge.dataset.pending = String(waiting.length);
    badge.dataset.rejected = String(refused.length);
    badge.dataset.state = mode;
    var label = { paused: say("signin"), offline: say("offline"), syncing: say("syncing"),
                  waiting: say("pending", { n: waiting.length }),
                  rejected: say("rejected", { n: refused.length }), idle: say("idle") }[mode];
    setText(badge.querySelector(".sync-label"), label);
    setText(badge.querySelector(".sync-count"), String(waiting.length));
    badge.classList.toggle("sync-waiting", waiting.length > 0);
    badge.classList.toggle("sync-rejected", refused.length > 0);
    badge.classList.toggle("sync-offline", !state.online);
    badge.title = state.oldest ? say("oldest", { time: clock(state.oldest), age: age(Date.now() - state.oldest) }) : label;
    drawPanel(waiting, refused);
  }

  function setText(el, text) { if (el && el.textContent !== text) el.textContent = text; }
  function show(el, visible) { if (el) el.hidden = !visible; }

  function drawPanel(waiting, refused) {
    var panel = document.getElementById("sync-panel");
    if (!panel) return;
    var summary = waiting.length ? say("waiting", { n: waiting.length }) : say("allSynced");
    if (state.paused) summary += " " + say("pausedNote");
    else if (!state.online) summary += " " + say("offlineNote");
    else if (waiting.length && state.nextTry && state.attempt) summary += " " + say("retry", { time: clock(state.nextTry) });
    setText(panel.querySelector(".sync-summary"), summary);
    var oldest = panel.querySelector(".sync-oldest");
    show(oldest, !!state.oldest);
    if (state.oldest) setText(oldest, say("oldest", { time: clock(state.oldest), age: age(Date.now() - state.oldest) }));
    var last = panel.querySelector(".sync-last");
    show(last, !!state.lastSync);
    if (state.lastSync) setText(last, say("lastSync", { time: clock(state.lastSync) }));
    show(panel.querySelector(".sync-rejected"), refused.length > 0);
    var list = panel.querySelector(".sync-rejected-list");
    if (!list) return;
    var want = refused.map(function (e) { return e.id; }).join(" ");
    if (list.dataset.ids === want) return;
    list.dataset.ids = want;
    list.replaceChildren.apply(list, refused.map(function (entry) {
      var li = document.createElement("li");
      li.className = "rejected-entry";
      li.setAttribute("data-testid", "rejected-entry");
      li.dataset.entryId = entry.id;
      var what = document.createElement("strong");
      what.textContent = ((strings.types || {})[entry.event.type] || entry.event.type) + " · " + clock(entry.created_at);
      var why = document.createElement("span");
      why.className = "rejected-reason";
      why.setAttribute("data-testid", "rejected-reason");
      why.textContent = (entry.error && entry.error.message) || (entry.error && entry.error.code) || "";
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button button-danger";
      button.setAttribute("data-testid", "discard-entry");
      button.dataset.discard = entry.id;
      button.textContent = say("discard");
      li.append(what, why, button);
      return li;
    }));
  }

  function showSignIn(reason) {
    var prompt = document.querySelector('[data-testid="signin-prompt"]');
    if (!prompt) return;
    show(prompt, !!reason);
    if (!reason) return;
    var link = prompt.querySelector("a");
    if (link) {
      var login = body.dataset.login || "/login";
      link.href = login + "?next=" + encodeURIComponent(location.pathname + location.search);
    }
    var text = prompt.querySelector(".pwa-banner-text");
    if (text) {
      if (!text.dataset.sessionText) text.dataset.sessionText = text.textContent;
      text.textContent = reason === "wrong_user" ? say("wrongUser", { user: user }) : text.dataset.sessionText;
    }
  }

  // --- wiring ----------------------------------------------------------------------

  window.Datang = {
    record: record, newId: newId, pending: pending, syncNow: flush, overlay: overlay,
    discard: discard, renderers: renderers, localTimestamp: localTimestamp,
    status: function () {
      return { online: state.online, paused: state.paused, pending: state.pending || 0,
               rejected: state.rejected || 0, oldest: state.oldest || null,
               lastSync: state.lastSync, nextTry: state.nextTry, lastError: state.lastError,
               sent: state.sent };
    }
  };

  document.addEventListener("htmx:afterSwap", overlayNow);
  document.addEventListener("htmx:afterSettle", overlay);
  // A fragment the service worker could not give while offline: say so, if the user asked.
  document.addEventListener("htmx:responseError", function (evt) {
    var xhr = evt.detail.xhr;
    var asked = evt.detail.requestConfig && evt.detail.requestConfig.triggeringEvent;
    if (xhr && xhr.getResponseHeader("X-Datang-Offline") && asked &&
        /^(click|submit|change)$/.test(asked.type) && window.datangToast) {
      window.datangToast(say("offlineAction"), "error");
    }
  });
  window.addEventListener("online", function () { state.online = true; scheduleFlush(0); });
  window.addEventListener("offline", function () { state.online = false; updateBadge(); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") scheduleFlush(0);
  });
  document.addEventListener("click", function (evt) {
    var target = evt.target;
    if (!(target instanceof Element)) return;
    var discardButton = target.closest("[data-discard]");
    if (discardButton) { discard(discardButton.dataset.discard); return; }
    if (target.closest("[data-sync-close]")) { togglePanel(false); return; }
    if (target.closest('[data-testid="sync-status"]')) togglePanel();
    if (target.closest("[data-sync-now]")) {
      state.paused = null; state.attempt = 0;   // the user asked: try even a paused queue
      flush();
    }
  });
  function togglePanel(open) {
    var panel = document.getElementById("sync-panel");
    var badge = document.querySelector('[data-testid="sync-status"]');
    if (!panel) return;
    open = open === undefined ? panel.hidden : open;
    panel.hidden = !open;
    if (badge) badge.setAttribute("aria-expanded", String(open));
  }
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
  setInterval(updateBadge, 30000);   // the oldest entry's age
  overlay().then(updateBadge);
  scheduleFlush(state.online ? 300 : 0);
})();
