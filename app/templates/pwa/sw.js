// Datang's service worker, rendered by app/pwa/routes.py at /sw.js (scope "/").
//
// - App shell (static files, /offline, the manifest): precached per version,
//   cache first. A new version gets a new cache; the old one is dropped when
//   the new worker takes over (only when the user taps "reload", or on first install).
// - Lobby-manager screens (/lobby, /checklist and everything under them):
//   network first, the last good answer kept for offline. Pages and htmx
//   fragments live in separate caches, so one is never served for the other
//   (the server says `Vary: HX-Request`; this is the same rule, made explicit).
// - A session that ends takes those copies with it: a sign-in, a sign-out, the
//   sign-in page, a 401 or a redirect to sign in deletes them (forgetUser), so
//   the next person offline sees the sign-in or offline page, never the board.
// - Writes (POST) and the JSON API are never touched: the outbox in IndexedDB
//   (static/js/outbox.js) owns them. No request replay here.
// - Background Sync: the "datang-outbox" tag asks the open pages to flush.
"use strict";

var SW = {{ sw|tojson }};
var VERSION = SW.version;
var SHELL = "datang-shell-" + VERSION;
// The copies of the screens name the scripts they load: a new set of scripts (v2:
// outbox.js split in two) needs new copies, or a page kept from before would load
// the new engine without the file that draws it.
var PAGES = "datang-pages-v2";
var FRAGMENTS = "datang-fragments-v2";
var NAVIGATION_TIMEOUT = 4000;  // lie-fi: show the cached page rather than a spinner
var FRAGMENT_TIMEOUT = 8000;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL).then(function (cache) {
    return cache.addAll(SW.precache.map(function (url) {
      return new Request(url, { cache: "reload", credentials: "same-origin" });
    }));
  }));
  // No skipWaiting(): an update waits until the user taps "reload" (see pwa.js),
  // so a page never runs against a shell it was not loaded with.
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      var ours = name.indexOf("datang-shell-") === 0 || name.indexOf("datang-pages-") === 0 ||
        name.indexOf("datang-fragments-") === 0;
      return ours && [SHELL, PAGES, FRAGMENTS].indexOf(name) === -1;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "SKIP_WAITING") {
    self.skipWaiting();
  } else if (data.type === "CLAIM") {
    event.waitUntil(self.clients.claim());
  } else if (data.type === "VERSION") {
    reply(event, { version: VERSION });
  } else if (data.type === "WARM") {
    event.waitUntil(warm(data.urls || [], data.maxAge || 0).then(function () {
      reply(event, { warmed: true });
    }));
  } else if (data.type === "FORGET_USER") {
    event.waitUntil(forgetUser().then(function () { reply(event, { forgotten: true }); }));
  }
});

function reply(event, message) {
  if (event.ports && event.ports[0]) event.ports[0].postMessage(message);
}

self.addEventListener("sync", function (event) {
  if (event.tag !== "datang-outbox") return;
  event.waitUntil(self.clients.matchAll({ type: "window" }).then(function (clients) {
    clients.forEach(function (client) { client.postMessage({ type: "FLUSH" }); });
  }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  // A sign-in, a sign-out or the sign-in page: the cached screens belong to a
  // session that has ended (or is ending).
  if (url.pathname === SW.logout || url.pathname === SW.login) event.waitUntil(forgetUser());
  if (request.method !== "GET") return;
  if (url.pathname.indexOf("/api/") === 0 || url.pathname === "/sw.js") return;
  if (url.pathname.indexOf(SW.static) === 0 || SW.precache.indexOf(url.pathname) >= 0) {
    event.respondWith(cacheFirst(request));
  } else if (isOfflinePath(url.pathname)) {
    event.respondWith(networkFirst(event, request, url));
  } else if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(offlinePage));
  }
});

function isOfflinePath(path) {
  return SW.offlinePaths.some(function (prefix) {
    return path === prefix || path.indexOf(prefix + "/") === 0;
  });
}

function isFragment(request) {
  // Mirrors app/htmx.py: a history restore asks for the whole page.
  return request.headers.get("HX-Request") === "true" &&
    request.headers.get("HX-History-Restore-Request") !== "true";
}

var shellCache = null;   // opened once per worker start: every page load asks it ~10 times
function openShell() {
  if (!shellCache) shellCache = caches.open(SHELL);
  return shellCache;
}

function cacheFirst(request) {
  return openShell().then(function (cache) {
    // Exact URL match: static URLs carry no query, and ignoreSearch makes
    // the lookup scan the whole cache.
    return cache.match(request.url).then(function (hit) {
      return hit || fetch(request).then(function (response) {
        if (response.ok && response.type === "basic") cache.put(request, response.clone());
        return response;
      });
    });
  });
}

function cacheable(response) {
  // A redirect (to sign-in), an error or a captive portal's page is not the screen.
  return response && response.status === 200 && !response.redirected && response.type === "basic";
}

// The server's word that this tablet's session is over: a 401 (htmx's carries
// HX-Redirect), or a redirect that ended on the sign-in page.
function endsSession(response) {
  if (response.status === 401) return true;
  if (response.redirected && new URL(response.url).pathname === SW.login) return true;
  var target = response.headers.get("HX-Redirect");
  return !!target && new URL(target, self.location.origin).pathname === SW.login;
}

// Bumped by forgetUser: an answer asked for before it is never cached after it,
// or the ended session's screens would come back.
var generation = 0;

function keep(event, url, fragment, response, asked) {
  if (endsSession(response)) {
    event.waitUntil(forgetUser());
  } else if (cacheable(response)) {
    var copy = response.clone();
    event.waitUntil(caches.open(fragment ? FRAGMENTS : PAGES).then(function (cache) {
      if (asked === generation) return cache.put(cacheKey(url, fragment), copy);
    }));
  }
}

function cacheKey(url, fragment) {
  return new Request(url.href, fragment ? { headers: { "HX-Request": "true" } } : {});
}

function fromCache(url, fragment) {
  return caches.open(fragment ? FRAGMENTS : PAGES).then(function (cache) {
    return cache.match(cacheKey(url, fragment), { ignoreVary: true }).then(function (hit) {
      // /lobby?lang=en offline: any copy of /lobby is better than none.
      return hit || cache.match(cacheKey(url, fragment), { ignoreVary: true, ignoreSearch: true });
    });
  });
}

function withTimeout(promise, ms) {
  return new Promise(function (resolve, reject) {
    var timer = setTimeout(function () { reject(new Error("timeout")); }, ms);
    promise.then(function (value) { clearTimeout(timer); resolve(value); },
                 function (error) { clearTimeout(timer); reject(error); });
  });
}

function networkFirst(event, request, url) {
  var fragment = isFragment(request);
  // A poll (app.js marks it) answered with the copy would move the screen back in
  // time, over what the page already shows and draws: offline or too slow, it
  // gets the 503 that swaps nothing, and the next poll asks again.
  var poll = fragment && request.headers.get("X-Datang-Background") === "1";
  if (poll && self.navigator.onLine === false) return Promise.resolve(offlineFragment());
  if (self.navigator.onLine === false) {
    // Known offline: straight to the copy, no doomed network attempt first.
    return fromCache(url, fragment).then(function (hit) {
      return hit || (request.mode === "navigate" ? offlinePage() : offlineFragment());
    });
  }
  var asked = generation;
  var network = fetch(request).then(function (response) {
    keep(event, url, fragment, response, asked);
    return response;
  });
  network.catch(function () {});
  if (poll) return withTimeout(network, FRAGMENT_TIMEOUT).catch(offlineFragment);
  return withTimeout(network, request.mode === "navigate" ? NAVIGATION_TIMEOUT : FRAGMENT_TIMEOUT)
    .catch(function () {
      return fromCache(url, fragment).then(function (hit) {
        if (hit) return hit;
        return network.catch(function () {
          return request.mode === "navigate" ? offlinePage() : offlineFragment();
        });
      });
    });
}

function offlinePage() {
  return openShell().then(function (cache) { return cache.match(SW.offline); })
    .then(function (hit) {
      return hit || new Response("offline", { status: 503, headers: { "Content-Type": "text/plain" } });
    });
}

function offlineFragment() {
  // htmx swaps nothing on a 503; outbox-ui.js tells the user when they asked for it.
  return new Response(JSON.stringify({ error: { code: "offline", message: "" } }), {
    status: 503, headers: { "Content-Type": "application/json", "X-Datang-Offline": "1" }
  });
}

// Refresh the cached copy of the given screens (after a sync, or on start-up
// for screens not yet opened) so that a later offline visit shows the latest.
var warming = [];   // AbortControllers of the warm-ups in flight

function warm(urls, maxAge) {
  var controller = new AbortController(), asked = generation;
  warming.push(controller);
  return caches.open(PAGES).then(function (cache) {
    return Promise.all(urls.map(function (href) {
      var url = new URL(href, self.location.origin);
      if (!isOfflinePath(url.pathname)) return null;
      var key = cacheKey(url, false);
      return cache.match(key, { ignoreVary: true }).then(function (hit) {
        var age = hit ? Date.now() - Date.parse(hit.headers.get("Date") || 0) : Infinity;
        if (hit && maxAge && age < maxAge) return null;
        if (controller.signal.aborted) return null;
        return fetch(url.href, { credentials: "same-origin", redirect: "follow",
                                 headers: { "X-Datang-Background": "1" },
                                 signal: controller.signal }).then(function (response) {
          if (endsSession(response)) return forgetUser();
          if (cacheable(response) && asked === generation) return cache.put(key, response);
          return null;
        }).catch(function () { return null; });
      });
    }));
  }).finally(function () { warming.splice(warming.indexOf(controller), 1); });
}

function forgetUser() {
  // A warm-up still in flight would put the last person's screens back (and
  // its answer could carry their session cookie past the sign-out): stop it.
  // Every one of them: two may overlap (start-up and after a sync).
  generation++;
  warming.forEach(function (controller) { controller.abort(); });
  return Promise.all([caches.delete(PAGES), caches.delete(FRAGMENTS)]);
}
