// What the tablet shows of its outbox: the sync badge, its panel (refused entries,
// "sync now"), the sign-in prompt, and the entries not yet on the server drawn over
// the page by the features' renderers. It knows the engine (static/js/outbox.js)
// only through window.Datang and the "datang:*" events; docs/client.md.
//
// Adds to window.Datang:
//   Datang.renderers[type] = fn(entry)  draws a not-yet-synced entry over the page
//   Datang.overlay()                    re-run the renderers over the page
(function () {
  "use strict";

  var Datang = window.Datang;
  var user = document.body.dataset.user || "";
  var strings = readStrings();

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
  function pad(n) { return String(n).padStart(2, "0"); }
  function clock(ms) { var d = new Date(ms); return pad(d.getHours()) + ":" + pad(d.getMinutes()); }

  // --- drawing what is not yet on the server ----------------------------------------

  var renderers = {};
  function draw(entry) {
    var render = renderers[entry.event.type];
    if (render) {
      try { render(entry); } catch (e) { console.error("renderer failed", entry.event.type, e); }
    }
  }
  // The outbox as this page last knew it, redrawn synchronously right after an htmx
  // swap: the server's fragment does not know the entries still waiting, and a tap
  // landing before the (asynchronous) overlay would meet the server's older state.
  var known = new Map();
  async function overlay() {
    var entries = await Datang.pending();
    known = new Map(entries.map(function (e) { return [e.id, e]; }));
    entries.forEach(draw);
  }
  function overlayNow() {
    Array.from(known.values()).sort(function (a, b) { return a.seq - b.seq; }).forEach(draw);
  }

  document.addEventListener("datang:recorded", function (evt) {
    var entry = evt.detail.entry;
    known.set(entry.id, entry);
    draw(entry);
  });
  document.addEventListener("datang:settled", function (evt) {
    evt.detail.rejected.forEach(function (entry) { known.set(entry.id, entry); });
    evt.detail.accepted.forEach(function (id) { known.delete(id); });
  });
  document.addEventListener("datang:discarded", function (evt) {
    var id = evt.detail.id;
    known.delete(id);
    document.querySelectorAll('[data-pending-id="' + id + '"]').forEach(function (el) { el.remove(); });
  });
  document.addEventListener("htmx:afterSwap", overlayNow);
  document.addEventListener("htmx:afterSettle", overlay);

  // --- the badge and its panel ---------------------------------------------------

  function age(ms) {
    var minutes = Math.floor(ms / 60000);
    if (minutes < 1) return say("ageSeconds");
    if (minutes < 60) return say("ageMinutes", { n: minutes });
    return say("ageHours", { h: Math.floor(minutes / 60), m: minutes % 60 });
  }

  function drawBadge(status, entries) {
    var badge = document.querySelector('[data-testid="sync-status"]');
    if (!badge) return;
    var waiting = entries.filter(function (e) { return e.status === "pending"; });
    var refused = entries.filter(function (e) { return e.status === "rejected"; });
    var oldest = waiting.length ? waiting.reduce(function (m, e) { return Math.min(m, e.created_at); }, Infinity) : null;
    var mode = status.paused ? "paused" : !status.online ? "offline" : status.syncing ? "syncing"
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
    badge.classList.toggle("sync-offline", !status.online);
    badge.title = oldest ? say("oldest", { time: clock(oldest), age: age(Date.now() - oldest) }) : label;
    drawPanel(status, waiting, refused, oldest);
  }

  function setText(el, text) { if (el && el.textContent !== text) el.textContent = text; }
  function show(el, visible) { if (el) el.hidden = !visible; }

  function drawPanel(status, waiting, refused, oldestAt) {
    var panel = document.getElementById("sync-panel");
    if (!panel) return;
    var summary = waiting.length ? say("waiting", { n: waiting.length }) : say("allSynced");
    if (status.paused) summary += " " + say("pausedNote");
    else if (!status.online) summary += " " + say("offlineNote");
    else if (waiting.length && status.nextTry && status.attempt) summary += " " + say("retry", { time: clock(status.nextTry) });
    setText(panel.querySelector(".sync-summary"), summary);
    var oldest = panel.querySelector(".sync-oldest");
    show(oldest, !!oldestAt);
    if (oldestAt) setText(oldest, say("oldest", { time: clock(oldestAt), age: age(Date.now() - oldestAt) }));
    var lastSync = panel.querySelector(".sync-last");
    show(lastSync, !!status.lastSync);
    if (status.lastSync) setText(lastSync, say("lastSync", { time: clock(status.lastSync) }));
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

  function togglePanel(open) {
    var panel = document.getElementById("sync-panel");
    var badge = document.querySelector('[data-testid="sync-status"]');
    if (!panel) return;
    open = open === undefined ? panel.hidden : open;
    panel.hidden = !open;
    if (badge) badge.setAttribute("aria-expanded", String(open));
  }

  function showSignIn(reason) {
    var prompt = document.querySelector('[data-testid="signin-prompt"]');
    if (!prompt) return;
    show(prompt, !!reason);
    if (!reason) return;
    var link = prompt.querySelector("a");
    if (link) {
      var login = document.body.dataset.login || "/login";
      link.href = login + "?next=" + encodeURIComponent(location.pathname + location.search);
    }
    var text = prompt.querySelector(".pwa-banner-text");
    if (text) {
      if (!text.dataset.sessionText) text.dataset.sessionText = text.textContent;
      text.textContent = reason === "wrong_user" ? say("wrongUser", { user: user }) : text.dataset.sessionText;
    }
  }

  // The engine reads its counts again after every change, and every 30 s (the age moves on).
  document.addEventListener("datang:status", function (evt) { drawBadge(evt.detail.status, evt.detail.entries); });
  document.addEventListener("datang:paused", function (evt) { showSignIn(evt.detail.reason); });
  // A fragment the service worker could not give while offline: say so, if the user asked.
  document.addEventListener("htmx:responseError", function (evt) {
    var xhr = evt.detail.xhr;
    var asked = evt.detail.requestConfig && evt.detail.requestConfig.triggeringEvent;
    if (xhr && xhr.getResponseHeader("X-Datang-Offline") && asked &&
        /^(click|submit|change)$/.test(asked.type) && window.datangToast) {
      window.datangToast(say("offlineAction"), "error");
    }
  });
  document.addEventListener("click", function (evt) {
    var target = evt.target;
    if (!(target instanceof Element)) return;
    var discardButton = target.closest("[data-discard]");
    if (discardButton) { Datang.discard(discardButton.dataset.discard); return; }
    if (target.closest("[data-sync-close]")) { togglePanel(false); return; }
    if (target.closest('[data-testid="sync-status"]')) togglePanel();
    if (target.closest("[data-sync-now]")) Datang.resume();
  });

  Datang.renderers = renderers;
  Datang.overlay = overlay;
  // The engine may have spoken before this file ran (scripts load one after another).
  showSignIn(Datang.status().paused);
  overlay().then(function () { drawBadge(Datang.status(), Array.from(known.values())); });
})();
