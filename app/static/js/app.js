// Datang's page glue: show htmx errors as toasts. No inline script anywhere (CSP).
(function () {
  "use strict";

  function toast(message, kind) {
    var box = document.getElementById("toasts");
    if (!box || !message) return;
    var p = document.createElement("p");
    p.className = "toast" + (kind ? " toast-" + kind : "");
    p.textContent = message;
    box.appendChild(p);
    setTimeout(function () { p.remove(); }, 6000);
  }
  window.datangToast = toast;

  // A session that has ended takes the tablet's cached screens with it (the
  // service worker's copies, docs/client.md): the next person must not find them.
  function forgetScreens() {
    if (!("serviceWorker" in navigator)) return Promise.resolve();
    return navigator.serviceWorker.getRegistration().then(function (registration) {
      var worker = registration && registration.active;
      if (worker) worker.postMessage({ type: "FORGET_USER" });
    }).catch(function () { /* no worker, no copies */ });
  }
  window.datangForgetScreens = forgetScreens;
  if (document.body && document.body.hasAttribute("data-signed-out")) forgetScreens();

  document.addEventListener("htmx:responseError", function (evt) {
    if (evt.detail.xhr.status === 401) forgetScreens();
    var xhr = evt.detail.xhr, message = "";
    try { message = JSON.parse(xhr.responseText).error.message; } catch (e) {
      var doc = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
      var alert = doc.querySelector("[role=alert]");
      message = alert ? alert.textContent.trim() : String(xhr.status);
    }
    toast(message, "error");
  });

  // Polls are not someone using the tablet: they must not keep an idle session alive.
  document.addEventListener("htmx:configRequest", function (evt) {
    var trigger = evt.detail.elt && evt.detail.elt.getAttribute("hx-trigger");
    if (trigger && trigger.indexOf("every ") !== -1) evt.detail.headers["X-Datang-Background"] = "1";
  });

  // A finger on a region while htmx swaps it would lose the tap: its press and its
  // release land on different elements, so no click is fired. A region marked
  // data-hold-while-pressed="EVENT" keeps a swap back until the finger is lifted,
  // then triggers EVENT on itself (one of its hx-triggers) to ask again.
  var pressed = null, heldBack = false;
  document.addEventListener("pointerdown", function (evt) {
    pressed = evt.target.closest ? evt.target.closest("[data-hold-while-pressed]") : null;
    heldBack = false;
  }, true);
  function release() {
    // Found again by id: a swap let through meanwhile may have replaced the element.
    var region = pressed && pressed.id && document.getElementById(pressed.id);
    if (region && heldBack) {
      setTimeout(function () { htmx.trigger(region, region.dataset.holdWhilePressed); }, 0);
    }
    pressed = null;
    heldBack = false;
  }
  document.addEventListener("pointerup", release, true);
  document.addEventListener("pointercancel", release, true);
  document.addEventListener("htmx:beforeSwap", function (evt) {
    if (pressed && evt.detail.target && evt.detail.target.id === pressed.id) {
      evt.detail.shouldSwap = false;
      heldBack = true;
    }
  });

  // An open referral nobody took turns amber when its time to take runs out
  // (the server sends the seconds left; it also draws it amber once past).
  function armOverdue(root) {
    var els = root.querySelectorAll ? root.querySelectorAll("[data-overdue-in]") : [];
    Array.prototype.forEach.call(els, function (el) {
      var seconds = parseInt(el.dataset.overdueIn, 10);
      if (seconds >= 0) setTimeout(function () { el.classList.add("overdue"); }, seconds * 1000);
    });
  }
  // A flashed message's toast goes after 6 s, whether the page drew it or an htmx
  // answer added it out of band (app/htmx.py).
  function armToasts(root) {
    var toasts = root.matches && root.matches("#toasts .toast") ? [root]
      : root.querySelectorAll ? root.querySelectorAll("#toasts .toast") : [];
    Array.prototype.forEach.call(toasts, function (p) {
      setTimeout(function () { p.remove(); }, 6000);
    });
  }
  document.addEventListener("htmx:load", function (evt) {
    armOverdue(evt.detail.elt);
    armToasts(evt.detail.elt);
  });

  document.addEventListener("DOMContentLoaded", function () {
    armOverdue(document);
    armToasts(document);
  });
})();
