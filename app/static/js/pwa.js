// The installable app: registers the service worker (/sw.js), tells the user
// when a new version is ready (and switches on their tap), offers "install"
// where the browser does, and keeps the cached screens fresh after a sync.
//
// Adds to window.Datang:
//   Datang.pwa.version()   -> Promise<the controlling worker's version, or null>
//   Datang.pwa.update()    -> Promise: ask the server for a new worker now
//   Datang.pwa.warm(urls)  -> Promise: refresh the cached copies of these screens
//   Datang.pwa.warmed      a Promise, settled once start-up has cached the screens
(function () {
  "use strict";

  var body = document.body;
  var Datang = window.Datang = window.Datang || {};
  var registration = null;
  var reloading = false;
  var offlineUrls = [];
  try { offlineUrls = JSON.parse(body.dataset.offlineUrls || "[]"); } catch (e) { offlineUrls = []; }

  function ask(worker, message) {
    return new Promise(function (resolve) {
      if (!worker) { resolve(null); return; }
      var channel = new MessageChannel();
      var timer = setTimeout(function () { resolve(null); }, 5000);
      channel.port1.onmessage = function (evt) { clearTimeout(timer); resolve(evt.data); };
      worker.postMessage(message, [channel.port2]);
    });
  }

  Datang.pwa = {
    version: function () {
      return ask(navigator.serviceWorker && navigator.serviceWorker.controller, { type: "VERSION" })
        .then(function (answer) { return answer && answer.version; });
    },
    update: function () { return registration ? registration.update() : Promise.resolve(); },
    warm: function (urls, maxAge) {
      if (!("serviceWorker" in navigator)) return Promise.resolve(null);
      return navigator.serviceWorker.ready.then(function (reg) {
        return ask(reg.active, { type: "WARM", urls: urls || offlineUrls, maxAge: maxAge || 0 });
      });
    }
  };

  // --- install ---------------------------------------------------------------
  var installPrompt = null;
  var installButton = document.querySelector('[data-testid="install-app"]');
  window.addEventListener("beforeinstallprompt", function (evt) {
    evt.preventDefault();   // our own button, in the top bar, instead of the mini-infobar
    installPrompt = evt;
    if (installButton) installButton.hidden = false;
  });
  window.addEventListener("appinstalled", function () {
    installPrompt = null;
    if (installButton) installButton.hidden = true;
  });
  if (installButton) {
    installButton.addEventListener("click", function () {
      if (!installPrompt) return;
      installPrompt.prompt();
      installPrompt.userChoice.finally(function () {
        installPrompt = null;
        installButton.hidden = true;
      });
    });
  }

  // --- service worker and updates -------------------------------------------
  if (!("serviceWorker" in navigator) || !body.dataset.sw) return;

  var banner = document.querySelector('[data-testid="update-banner"]');
  function offerUpdate(worker) {
    if (!banner || !navigator.serviceWorker.controller) return;   // first install: nothing to replace
    banner.hidden = false;
    var button = banner.querySelector('[data-testid="update-reload"]');
    button.onclick = function () {
      reloading = true;
      button.disabled = true;
      worker.postMessage({ type: "SKIP_WAITING" });
    };
  }

  navigator.serviceWorker.addEventListener("controllerchange", function () {
    // The new version took over because the user asked for it: load the page
    // with it. (The outbox is in IndexedDB, untouched by the worker's caches.)
    if (reloading) location.reload();
  });

  navigator.serviceWorker.register(body.dataset.sw, { scope: "/" }).then(function (reg) {
    registration = reg;
    if (reg.waiting) offerUpdate(reg.waiting);
    reg.addEventListener("updatefound", function () {
      var worker = reg.installing;
      if (!worker) return;
      worker.addEventListener("statechange", function () {
        if (worker.state === "installed") offerUpdate(worker);
      });
    });
  }).catch(function (error) { console.warn("service worker not registered", error); });

  // Look for a new version when the tablet comes back to the app, and hourly.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && registration) registration.update().catch(function () {});
  });
  setInterval(function () { if (registration && navigator.onLine) registration.update().catch(function () {}); }, 3600000);

  // A page whose load began while the worker was still installing is not
  // controlled, and the worker's claim at activation misses it when it came
  // before the page existed (the first sign-in, then at once another screen):
  // ask again, or the page would stay uncontrolled until it is loaded anew.
  navigator.serviceWorker.ready.then(function (reg) {
    if (!navigator.serviceWorker.controller && reg.active) reg.active.postMessage({ type: "CLAIM" });
  });

  // Keep the other screens ready for offline: on start-up (those not cached in
  // the last five minutes) and after a sync that changed something (all).
  // A page loaded before the worker controlled it was not cached by it: cache
  // it too. A page the worker served is in its cache already.
  var uncached = navigator.serviceWorker.controller ? [] : [location.pathname];
  Datang.pwa.warmed = navigator.serviceWorker.ready.then(function () {
    var urls = offlineUrls.filter(function (url) { return uncached.indexOf(url) === -1; }).concat(uncached);
    return navigator.onLine ? Datang.pwa.warm(urls, 300000) : null;
  }).then(function () { Datang.pwa.isWarm = true; });
  var warmTimer = null;
  // Leaving the page (e.g. to sign out): no warm-up may start behind it.
  window.addEventListener("pagehide", function () { clearTimeout(warmTimer); });
  document.addEventListener("datang:synced", function (evt) {
    var detail = evt.detail || {};
    if (!detail.accepted && !detail.pulled) return;
    clearTimeout(warmTimer);
    warmTimer = setTimeout(function () { Datang.pwa.warm(offlineUrls, 0); }, 1000);
  });
})();
