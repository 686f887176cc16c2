// The pre-opening checklist on the tablet (/checklist).
// (About 450 lines, one file: the marks, their renderers and the sign-off guard share
// the run on screen; with no build step, one page loads one script.)
//
// Every mark is an event recorded through the outbox (Datang.record, docs/client.md):
// checklist.item_recorded, checklist.signed_off, fault.reported, fault.resolved
// (docs/events-checklist.md). The server renders the truth in #checklist-run, which
// refreshes itself after each sync; the renderers below draw what is not yet synced.
//
// The run's id is uuid5(namespace, "<branch>/<YYYY-MM-DD>") with the branch-local day,
// so a tablet that opens yesterday's page offline in the morning starts today's run
// itself. No inline script, no eval (strict CSP); the page data is a JSON block.
(function () {
  "use strict";

  var state = { data: null, day: null, runId: null, openFaults: {}, sheetItem: null, fixFault: null, photo: null };

  // --- uuid5 (SHA-1, RFC 4122) without crypto.subtle, which needs a secure context ---
  function sha1(bytes) {
    var ml = bytes.length, withPad = ((ml + 9 + 63) >> 6) << 6, m = new Uint8Array(withPad);
    m.set(bytes); m[ml] = 0x80;
    var bits = ml * 8, dv = new DataView(m.buffer);
    dv.setUint32(withPad - 4, bits >>> 0); dv.setUint32(withPad - 8, Math.floor(bits / 4294967296));
    var h0 = 0x67452301, h1 = 0xefcdab89, h2 = 0x98badcfe, h3 = 0x10325476, h4 = 0xc3d2e1f0, w = new Int32Array(80);
    for (var off = 0; off < withPad; off += 64) {
      for (var i = 0; i < 16; i++) w[i] = dv.getInt32(off + i * 4);
      for (i = 16; i < 80; i++) { var x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]; w[i] = (x << 1) | (x >>> 31); }
      var a = h0, b = h1, c = h2, d = h3, e = h4;
      for (i = 0; i < 80; i++) {
        var f, k;
        if (i < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
        else if (i < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
        else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc; }
        else { f = b ^ c ^ d; k = 0xca62c1d6; }
        var t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]) | 0;
        e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = t;
      }
      h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0; h4 = (h4 + e) | 0;
    }
    var out = new Uint8Array(20), ov = new DataView(out.buffer);
    [h0, h1, h2, h3, h4].forEach(function (h, j) { ov.setInt32(j * 4, h); });
    return out;
  }

  function uuid5(namespace, name) {
    var hex = namespace.replace(/-/g, ""), ns = new Uint8Array(16);
    for (var i = 0; i < 16; i++) ns[i] = parseInt(hex.substr(i * 2, 2), 16);
    var nameBytes = new TextEncoder().encode(name), all = new Uint8Array(16 + nameBytes.length);
    all.set(ns); all.set(nameBytes, 16);
    var b = sha1(all).slice(0, 16);
    b[6] = (b[6] & 0x0f) | 0x50; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // The branch-local date, YYYY-MM-DD, from the device's clock.
  function localDay(tz) {
    try {
      var parts = new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" })
        .formatToParts(new Date());
      var get = function (type) { return parts.filter(function (p) { return p.type === type; })[0].value; };
      return get("year") + "-" + get("month") + "-" + get("day");
    } catch (e) {
      return null;
    }
  }

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function text(key) { return (state.data && state.data.texts[key]) || key; }
  function region() { return document.getElementById("checklist-run"); }
  function itemEl(id) {
    return $all('[data-testid="checklist-item"]').filter(function (el) { return el.dataset.itemId === id; })[0] || null;
  }
  function itemData(id) {
    return (state.data.items || []).filter(function (i) { return i.id === id; })[0] || null;
  }

  // --- reading the page ---
  function init() {
    var block = document.getElementById("checklist-data");
    if (!block) return;
    state.block = block;
    state.data = JSON.parse(block.textContent);
    state.day = state.data.day;
    state.runId = state.data.run_id;
    state.openFaults = Object.assign({}, state.data.open_faults);
    var today = localDay(state.data.tz);
    if (today && today > state.data.day) startNewDay(today);
    updateProgress();
  }

  // The page is from an earlier day (loaded offline): start today's run on the tablet.
  function startNewDay(today) {
    state.day = today;
    state.runId = uuid5(state.data.namespace, state.data.branch + "/" + today);
    var reg = region();
    reg.dataset.runId = state.runId; reg.dataset.day = today; reg.classList.add("stale");
    $all('[data-testid="checklist-item"]').forEach(function (el) {
      setStatus(el, "");
      var st = $("[data-item-state]", el); if (st) st.textContent = "";
    });
    var banner = $("[data-new-day]", reg);
    if (banner) { banner.textContent = text("new_day").replace("{day}", today); banner.hidden = false; }
    var signed = $("[data-signed]", reg);
    if (signed) signed.hidden = true;
    state.data.signed = false;
  }

  function setStatus(el, status) {
    el.dataset.status = status;
    ["ok", "fault", "na"].forEach(function (s) {
      el.classList.toggle("item-" + s, s === status);
      var button = $('[data-mark="' + s + '"]', el);
      if (button) button.setAttribute("aria-pressed", s === status ? "true" : "false");
    });
  }

  function updateProgress() {
    var items = $all('[data-testid="checklist-item"]');
    var done = items.filter(function (el) { return el.dataset.status; }).length;
    var doneEl = $("[data-progress-done]"), bar = $("[data-progress-bar]");
    if (doneEl) doneEl.textContent = String(done);
    if (bar) bar.value = done;
    var sign = $('[data-testid="sign-off"]');
    if (sign) sign.disabled = !items.length || done < items.length;
  }

  function syncNote(el, entry) {
    var note = $("[data-item-sync], [data-fault-sync]", el);
    el.classList.remove("pending", "rejected");
    el.classList.add(entry.status === "rejected" ? "rejected" : "pending");
    el.dataset.pendingId = entry.id;
    if (note) {
      note.textContent = entry.status === "rejected"
        ? text("refused") + " " + ((entry.error && entry.error.message) || "")
        : text("pending");
    }
  }

  // --- renderers: not-yet-synced entries over the server's page (idempotent) ---
  Datang.renderers["checklist.item_recorded"] = function (entry) {
    var ev = entry.event, p = ev.payload;
    if (ev.subject_id !== state.runId) return;
    var el = itemEl(p.item_id);
    if (!el) return;
    setStatus(el, p.status);
    var st = $("[data-item-state]", el);
    if (st) st.textContent = text(p.status) + (p.count != null ? " · " + p.count : "") + (p.note ? " · " + p.note : "");
    var input = $("[data-count]", el);
    if (input && p.count != null && !input.dataset.dirty) input.value = String(p.count);
    if (p.status === "fault" && p.fault_id) state.openFaults[p.item_id] = p.fault_id;
    syncNote(el, entry);
    updateProgress();
  };

  Datang.renderers["checklist.signed_off"] = function (entry) {
    if (entry.event.subject_id !== state.runId) return;
    var area = $("[data-sign-area]");
    if (!area) return;
    var button = $('[data-testid="sign-off"]', area);
    if (button && entry.status !== "rejected") button.hidden = true;
    var msg = $("[data-sign-state]", area);
    if (msg) {
      msg.textContent = entry.status === "rejected"
        ? text("refused") + " " + ((entry.error && entry.error.message) || "") : text("signed_pending");
      msg.className = "sign-state " + (entry.status === "rejected" ? "rejected" : "pending");
    }
  };

  Datang.renderers["fault.reported"] = function (entry) {
    var ev = entry.event, p = ev.payload, list = $("[data-fault-list]");
    if (!list) return;
    var card = $all("[data-fault-id]", list).filter(function (c) { return c.dataset.faultId === ev.subject_id; })[0];
    if (!card) {
      card = document.createElement("li");
      card.className = "fault-card";
      card.setAttribute("data-testid", "open-fault");
      card.dataset.faultId = ev.subject_id;
      card.dataset.itemId = p.item_id;
      var item = itemData(p.item_id) || { label: p.item_id };
      if (item.critical) card.classList.add("fault-critical");
      var body = document.createElement("div"); body.className = "fault-text";
      var title = document.createElement("p"); title.className = "fault-title";
      var strong = document.createElement("strong"); strong.textContent = item.label; title.appendChild(strong);
      var note = document.createElement("p"); note.className = "fault-note"; note.textContent = p.note;
      var when = document.createElement("p"); when.className = "muted"; when.textContent = text("reported_now");
      var sync = document.createElement("p"); sync.className = "fault-sync"; sync.setAttribute("data-fault-sync", "");
      body.append(title, note, when, sync);
      card.appendChild(body);
      if (p.photo) {
        var img = document.createElement("img"); img.className = "fault-photo"; img.src = p.photo; img.alt = "";
        card.appendChild(img);
      }
      list.insertBefore(card, list.firstChild);
    }
    if (entry.status !== "rejected") state.openFaults[p.item_id] = ev.subject_id;
    syncNote(card, entry);
    showFaults();
  };

  Datang.renderers["fault.resolved"] = function (entry) {
    var id = entry.event.subject_id;
    var card = $all("[data-fault-list] [data-fault-id]").filter(function (c) { return c.dataset.faultId === id; })[0];
    if (!card) return;
    if (entry.status !== "rejected") {
      card.classList.add("fault-fixed");
      var button = $("[data-resolve]", card); if (button) button.hidden = true;
      Object.keys(state.openFaults).forEach(function (k) { if (state.openFaults[k] === id) delete state.openFaults[k]; });
    }
    syncNote(card, entry);
    var note = $("[data-fault-sync]", card);
    if (note && entry.status !== "rejected") note.textContent = text("fixed_pending");
  };

  function showFaults() {
    var section = document.getElementById("open-faults");
    if (!section) return;
    var cards = $all("[data-fault-list] [data-fault-id]", section);
    section.hidden = cards.length === 0;
    var count = $("[data-fault-count]", section);
    if (count) count.textContent = String(cards.length);
  }

  // --- writing ---
  function record(type, subject, payload) {
    return Datang.record(type, subject, payload).catch(function (e) {
      if (window.datangToast) window.datangToast(String(e), "error");
      throw e;
    });
  }

  function showItemError(el, message) {
    var note = $("[data-item-sync]", el);
    if (note) note.textContent = message;
    el.classList.add("item-error");
  }

  function markOk(el) {
    var payload = { day: state.day, item_id: el.dataset.itemId, status: "ok" };
    var input = $("[data-count]", el);
    if (input) {
      var raw = input.value.trim();
      if (!/^\d{1,6}$/.test(raw) || Number(raw) > state.data.max_count) {
        showItemError(el, text("bad_count"));
        input.focus();
        return;
      }
      payload.count = Number(raw);
      delete input.dataset.dirty;
      var low = $('[data-flag="low"]', el), item = el.dataset.minStock;
      if (low && item) low.hidden = payload.count >= Number(item);
    }
    el.classList.remove("item-error");
    record("checklist.item_recorded", state.runId, payload);
  }

  function markNa(el) {
    var input = $("[data-count]", el);
    if (input) delete input.dataset.dirty;
    el.classList.remove("item-error");
    record("checklist.item_recorded", state.runId, { day: state.day, item_id: el.dataset.itemId, status: "na" });
  }

  function openSheet(sheet, label) {
    $all("[data-fault-sheet], [data-fix-sheet]").forEach(function (s) { s.hidden = true; });
    $("[data-sheet-item]", sheet).textContent = label;
    var error = $("[data-sheet-error]", sheet); error.hidden = true; error.textContent = "";
    sheet.hidden = false;
    document.body.classList.add("sheet-open");
    var area = $("textarea", sheet); area.value = ""; area.focus();
  }

  function closeSheets() {
    $all("[data-fault-sheet], [data-fix-sheet]").forEach(function (s) { s.hidden = true; });
    document.body.classList.remove("sheet-open");
    state.sheetItem = null; state.fixFault = null; state.photo = null;
    var photo = $("[data-photo]"); if (photo) photo.value = "";
    var preview = $("[data-photo-preview]"); if (preview) { preview.hidden = true; preview.removeAttribute("src"); }
  }

  function sheetError(sheet, message) {
    var error = $("[data-sheet-error]", sheet);
    error.textContent = message; error.hidden = false;
  }

  async function saveFault() {
    var sheet = $("[data-fault-sheet]"), itemId = state.sheetItem;
    var note = $("[data-fault-note]", sheet).value.trim();
    if (!note) { sheetError(sheet, text("note_required")); return; }
    if (state.photo === "working") { sheetError(sheet, text("photo_working")); return; }
    var existing = state.openFaults[itemId], faultId = existing || Datang.newId();
    var photo = state.photo;
    closeSheets();
    await record("checklist.item_recorded", state.runId,
      { day: state.day, item_id: itemId, status: "fault", note: note, fault_id: faultId });
    if (!existing) {
      var payload = { run_id: state.runId, item_id: itemId, note: note };
      if (photo) payload.photo = photo;
      await record("fault.reported", faultId, payload);
    }
  }

  async function saveFix() {
    var sheet = $("[data-fix-sheet]"), faultId = state.fixFault;
    var note = $("[data-fix-note]", sheet).value.trim();
    if (!note) { sheetError(sheet, text("fix_note_required")); return; }
    closeSheets();
    await record("fault.resolved", faultId, { note: note });
  }

  function signOff() {
    var items = $all('[data-testid="checklist-item"]');
    if (items.some(function (el) { return !el.dataset.status; })) {
      var msg = $("[data-sign-state]"); if (msg) msg.textContent = text("not_done");
      return;
    }
    record("checklist.signed_off", state.runId, { day: state.day });
  }

  // A photo is shrunk on the device to a JPEG data URL below the size the server takes.
  function shrinkPhoto(file, maxChars) {
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file), img = new Image();
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error("unreadable")); };
      img.onload = function () {
        URL.revokeObjectURL(url);
        var w = img.naturalWidth, h = img.naturalHeight;
        var scale = Math.min(1, 1280 / Math.max(w, h, 1)), quality = 0.8;
        for (var attempt = 0; attempt < 12; attempt++) {
          var canvas = document.createElement("canvas");
          canvas.width = Math.max(1, Math.round(w * scale)); canvas.height = Math.max(1, Math.round(h * scale));
          canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
          var data = canvas.toDataURL("image/jpeg", quality);
          if (data.length <= maxChars && data.indexOf("data:image/jpeg;base64,") === 0) { resolve(data); return; }
          if (quality > 0.55) quality -= 0.1; else scale *= 0.75;
        }
        reject(new Error("too large"));
      };
      img.src = url;
    });
  }

  function onPhoto(input) {
    var file = input.files && input.files[0], sheet = $("[data-fault-sheet]");
    var preview = $("[data-photo-preview]", sheet);
    state.photo = null;
    if (!file) { preview.hidden = true; return; }
    state.photo = "working";
    shrinkPhoto(file, state.data.photo_max_chars).then(function (data) {
      state.photo = data; preview.src = data; preview.hidden = false;
      $("[data-sheet-error]", sheet).hidden = true;
    }, function () {
      state.photo = null; input.value = ""; preview.hidden = true;
      sheetError(sheet, text("photo_failed"));
    });
  }

  // --- wiring ---
  document.addEventListener("click", function (evt) {
    var target = evt.target;
    var mark = target.closest("[data-mark]");
    if (mark) {
      var el = mark.closest('[data-testid="checklist-item"]');
      if (!el) return;
      if (mark.dataset.mark === "ok") markOk(el);
      else if (mark.dataset.mark === "na") markNa(el);
      else {
        state.sheetItem = el.dataset.itemId;
        openSheet($("[data-fault-sheet]"), (itemData(el.dataset.itemId) || {}).label || "");
      }
      return;
    }
    if (target.closest("[data-save-fault]")) { saveFault(); return; }
    if (target.closest("[data-save-fix]")) { saveFix(); return; }
    if (target.closest("[data-sheet-cancel]")) { closeSheets(); return; }
    if (target.closest("[data-sign-off]")) { signOff(); return; }
    var resolve = target.closest("[data-resolve]");
    if (resolve) {
      state.fixFault = resolve.dataset.resolve;
      var card = resolve.closest("[data-fault-id]"), title = card && $(".fault-title", card);
      openSheet($("[data-fix-sheet]"), title ? title.textContent.trim() : "");
    }
  });

  document.addEventListener("change", function (evt) {
    if (evt.target.matches && evt.target.matches("[data-photo]")) onPhoto(evt.target);
  });
  document.addEventListener("input", function (evt) {
    if (evt.target.matches && evt.target.matches("[data-count]")) {
      evt.target.dataset.dirty = "1";
      evt.target.value = evt.target.value.replace(/[^\d]/g, "");
    }
  });
  document.addEventListener("keydown", function (evt) {
    if (evt.key === "Enter" && evt.target.matches && evt.target.matches("[data-count]")) {
      evt.preventDefault();
      markOk(evt.target.closest('[data-testid="checklist-item"]'));
    }
  });

  // Hold the refresh back while something is being entered, so nothing typed is lost.
  // Checked when the refresh is asked for and again when its answer arrives.
  function busy() {
    return document.body.classList.contains("sheet-open") ||
      $all("[data-count]").some(function (i) { return i.dataset.dirty || i === document.activeElement; });
  }
  function refreshSoon() {
    setTimeout(function () { if (region()) htmx.trigger(region(), "checklist:refresh"); }, 0);
  }
  // A refresh that answers under a finger waits for its release (app.js,
  // data-hold-while-pressed on the region).
  // An entry the server has taken leaves the outbox and is no longer drawn over the
  // page (Datang.status().sent counts them, at once): an answer asked for before that
  // may not show it yet, so it is dropped and the region asked again.
  document.addEventListener("htmx:beforeRequest", function (evt) {
    if (evt.detail.elt !== region()) return;
    if (busy()) { evt.preventDefault(); return; }
    evt.detail.xhr.datangSent = Datang.status().sent;
  });
  document.addEventListener("htmx:beforeSwap", function (evt) {
    if (evt.detail.target !== region()) return;
    if (busy()) { evt.detail.shouldSwap = false; return; }
    var xhr = evt.detail.xhr;
    if (xhr && xhr.datangSent !== undefined && xhr.datangSent < Datang.status().sent) {
      evt.detail.shouldSwap = false;
      refreshSoon();
    }
  });
  document.addEventListener("htmx:afterSettle", function () {
    var block = document.getElementById("checklist-data");
    if (block && block !== state.block) init();
  });

  // Exposed for tests and for the supervisor pages that may want the same id.
  window.DatangChecklist = { uuid5: uuid5, localDay: localDay, state: state };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
