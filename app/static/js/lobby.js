// The lobby manager's page (/lobby): greet, triage, talk, recommend, refer, close.
// Every write is Datang.record(...) (static/js/outbox.js, docs/client.md): it lands in
// IndexedDB first and reaches the server through /api/v1/sync, so all of this works
// offline. The dialogs are plain page HTML filled from the card's data attributes and
// the #lobby-data block; nothing here needs the server. No inline script, no eval (CSP).
// (About 640 lines, one file: the board's card renderer and its six dialogs share the
// open card and the page's data; with no build step, one page loads one script.)
(function () {
  "use strict";

  var dataEl = document.getElementById("lobby-data");
  if (!dataEl || !window.Datang) return;
  var DATA = JSON.parse(dataEl.textContent);
  var L = DATA.labels, S = DATA.strings;
  var skew = 0; // the server's clock minus this tablet's, in ms

  // --- small helpers ---------------------------------------------------------
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function words(s) { return (s || "").split(" ").filter(Boolean); }
  function esc(s) { return window.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/"/g, '\\"'); }
  function card(visitId) { return document.querySelector('.visit-card[data-visit-id="' + esc(visitId) + '"]'); }
  function press(btn, on) { btn.setAttribute("aria-pressed", on ? "true" : "false"); }
  function pressedIn(root, attr) {
    return $all("[" + attr + '][aria-pressed="true"]', root).map(function (b) { return b.getAttribute(attr); });
  }
  function toast(message, kind) { if (window.datangToast) window.datangToast(message, kind); }
  function lbl(table, code) { return (L[table] && L[table][code]) || code || ""; }
  function who(el) {
    if (!el) return "";
    return [el.dataset.ticket, lbl("purposes", el.dataset.purpose)].filter(Boolean).join(" · ");
  }

  function record(type, subjectId, payload) {
    return Datang.record(type, subjectId, payload).catch(function (e) {
      toast(S.record_failed.replace("{reason}", e && e.message ? e.message : String(e)), "error");
      throw e;
    });
  }

  // --- privacy: the server's FreeText rules, checked before recording ---------
  var ID_W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], ID_C = "10X98765432";
  function privacyProblem(text) {
    var m, re = /(?:^|[^0-9A-Za-z])(\d{17}[0-9Xx])(?![0-9A-Za-z])/g;
    while ((m = re.exec(text))) {
      var id = m[1], sum = 0;
      for (var i = 0; i < 17; i++) sum += Number(id[i]) * ID_W[i];
      if (ID_C[sum % 11] === id[17].toUpperCase()) return S.privacy_id;
    }
    re = /(?:^|[^\d-])(\d(?:[ -]?\d){15,18})(?!\d)/g;
    while ((m = re.exec(text))) {
      var digits = m[1].replace(/[ -]/g, "");
      if (digits.length >= 16 && digits.length <= 19 && luhn(digits)) return S.privacy_card;
    }
    if (/(?:^|\D)(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)/.test(text)) return S.privacy_mobile;
    return null;
  }
  function luhn(digits) {
    var total = 0;
    for (var i = 0; i < digits.length; i++) {
      var d = Number(digits[digits.length - 1 - i]);
      if (i % 2 === 1) d = d > 4 ? d * 2 - 9 : d * 2;
      total += d;
    }
    return total % 10 === 0;
  }
  // Returns the trimmed note, "" for none, or null after showing why it cannot go.
  function noteOf(dlg) {
    var box = dlg.querySelector("[data-note]");
    if (!box) return "";
    var text = box.value.trim(), problem = text ? privacyProblem(text) : null;
    var err = dlg.querySelector(".note-error");
    if (!err) {
      err = document.createElement("p");
      err.className = "field-error note-error";
      err.setAttribute("role", "alert");
      box.parentNode.appendChild(err);
    }
    err.textContent = problem || "";
    err.hidden = !problem;
    return problem ? null : text;
  }

  // --- wait times, ticking on the tablet ---------------------------------------
  function readClock() {
    var board = document.getElementById("board");
    var server = board && Date.parse(board.dataset.serverNow);
    if (server) skew = server - Date.now();
  }
  function tick() {
    var board = document.getElementById("board");
    if (!board) return;
    var warn = Number(board.dataset.warn) || 10, alert = Number(board.dataset.alert) || 30;
    var now = Date.now() + skew;
    $all(".visit-card[data-greeted-at]").forEach(function (el) {
      var t = Date.parse(el.dataset.greetedAt);
      if (isNaN(t)) return;
      var min = Math.max(0, Math.floor((now - t) / 60000));
      var out = el.querySelector(".wait-min");
      if (out && out.textContent !== String(min)) out.textContent = String(min);
      el.classList.toggle("wait-ok", min < warn);
      el.classList.toggle("wait-warn", min >= warn && min < alert);
      el.classList.toggle("wait-alert", min >= alert);
    });
  }

  // --- drawing what the server does not know yet -------------------------------
  function statusText(entry) {
    return entry.status === "rejected"
      ? ((entry.error && entry.error.message) || S.rejected) : S.pending;
  }
  function problem(entry, text) {
    // A refused entry whose card is gone (closed, or never on this board) still shows.
    if (entry.status !== "rejected") return;
    var list = document.getElementById("lobby-problems");
    if (!list || list.querySelector('[data-pending-id="' + esc(entry.id) + '"]')) return;
    var li = document.createElement("li");
    li.className = "problem rejected";
    li.dataset.pendingId = entry.id;
    li.textContent = text + " · " + statusText(entry);
    list.appendChild(li);
  }
  function chip(entry, text) {
    var el = card(entry.event.subject_id);
    if (!el) { problem(entry, text); return null; }
    var li = el.querySelector('.steps [data-pending-id="' + esc(entry.id) + '"]');
    if (!li) {
      li = document.createElement("li");
      li.className = "step pending";
      li.dataset.pendingId = entry.id;
      el.querySelector(".steps").appendChild(li);
    }
    li.classList.toggle("rejected", entry.status === "rejected");
    li.textContent = text + " · " + statusText(entry);
    return el;
  }

  function drawGreeted(entry) {
    var ev = entry.event, p = ev.payload, el = card(ev.subject_id);
    if (el && !el.classList.contains("pending")) return; // the server's card is there
    if (!el) {
      var tpl = document.getElementById("tpl-visit-card"), list = document.getElementById("visits");
      if (!tpl || !list) return;
      el = tpl.content.firstElementChild.cloneNode(true);
      el.dataset.visitId = ev.subject_id;
      el.dataset.purpose = p.purpose;
      el.dataset.ticket = p.ticket || "";
      el.dataset.segment = p.segment || "";
      el.dataset.flags = (p.flags || []).join(" ");
      el.dataset.needs = "";
      el.dataset.greetedAt = ev.occurred_at;
      el.querySelector(".purpose-tag").textContent = lbl("purposes", p.purpose);
      var ticket = el.querySelector(".ticket");
      if (p.ticket) { ticket.textContent = p.ticket; ticket.hidden = false; }
      var seg = el.querySelector(".tag-segment");
      if (p.segment) { seg.textContent = lbl("segments", p.segment); seg.hidden = false; }
      var slot = el.querySelector(".flags-slot");
      (p.flags || []).forEach(function (f) {
        var span = document.createElement("span");
        span.className = "tag tag-flag";
        span.textContent = lbl("flags", f);
        slot.appendChild(span);
      });
      list.appendChild(el);
      var empty = document.getElementById("board-empty");
      if (empty) empty.hidden = true;
    }
    el.dataset.pendingId = entry.id;
    el.classList.toggle("rejected", entry.status === "rejected");
    el.querySelector(".pending-mark").textContent = statusText(entry);
  }

  var R = Datang.renderers;
  R["visit.greeted"] = drawGreeted;
  R["visit.updated"] = function (entry) {
    var p = entry.event.payload, parts = [];
    if (p.purpose) parts.push(lbl("purposes", p.purpose));
    if (p.ticket) parts.push(p.ticket);
    if (p.segment) parts.push(lbl("segments", p.segment));
    (p.flags || []).forEach(function (f) { parts.push(lbl("flags", f)); });
    var el = chip(entry, lbl("events", "visit.updated") + (parts.length ? ": " + parts.join(", ") : ""));
    if (el && entry.status === "pending") {
      ["purpose", "ticket", "segment"].forEach(function (k) { if (k in p) el.dataset[k] = p[k] || ""; });
      if ("flags" in p) el.dataset.flags = (p.flags || []).join(" ");
    }
  };
  R["visit.triaged"] = function (entry) {
    var p = entry.event.payload;
    var el = chip(entry, "→ " + lbl("routes", p.route) + (p.machine ? " · " + p.machine : ""));
    if (el && entry.status === "pending") el.dataset.route = p.route;
  };
  R["visit.engaged"] = function (entry) {
    var p = entry.event.payload;
    var names = (p.needs || []).map(function (n) { return DATA.needs[n] || n; });
    var el = chip(entry, lbl("events", "visit.engaged") + (names.length ? ": " + names.join(", ") : ""));
    if (el && entry.status === "pending") {
      var needs = words(el.dataset.needs);
      (p.needs || []).forEach(function (n) { if (needs.indexOf(n) < 0) needs.push(n); });
      el.dataset.needs = needs.join(" ");
      el.classList.remove("not-talked");
    }
  };
  R["visit.recommended"] = function (entry) {
    var p = entry.event.payload, names = p.products.map(productName);
    chip(entry, names.join(", ") + ": " + lbl("responses", p.response));
  };
  R["visit.referred"] = function (entry) {
    var p = entry.event.payload;
    var el = chip(entry, lbl("events", "visit.referred") + ": " + lbl("refer_to", p.to));
    if (el && entry.status === "pending") el.dataset.referralId = p.referral_id;
  };
  function referralRejected(entry) {
    if (entry.status !== "rejected") return;
    var visitId = entry.event.payload.visit_id, text = lbl("events", "visit.referred");
    var el = visitId && card(visitId);
    if (!el) { problem(entry, text); return; }
    chip({ id: entry.id, status: entry.status, error: entry.error,
           event: { subject_id: visitId } }, text);
  }
  R["referral.created"] = referralRejected;
  R["referral.cancelled"] = function (entry) { problem(entry, lbl("events", "visit.undone")); };
  R["visit.complaint"] = function (entry) { chip(entry, lbl("events", "visit.complaint")); };
  R["visit.funds_kept"] = function (entry) {
    chip(entry, lbl("events", "visit.funds_kept") + ": " + lbl("bands", entry.event.payload.amount_band));
  };
  R["visit.called"] = function (entry) { chip(entry, lbl("events", "visit.called")); };
  R["visit.closed"] = function (entry) {
    var p = entry.event.payload;
    var el = chip(entry, lbl("events", "visit.closed") + ": " + lbl("outcomes", p.outcome));
    if (el) el.classList.toggle("closing", entry.status === "pending");
  };
  R["visit.undone"] = function (entry) {
    var text = lbl("events", "visit.undone");
    var el = card(entry.event.subject_id);
    if (el) { chip(entry, text); return; }
    var item = document.querySelector('.closed-item[data-visit-id="' + esc(entry.event.subject_id) + '"]');
    if (item) {
      item.classList.add("pending");
      item.classList.toggle("rejected", entry.status === "rejected");
      item.dataset.pendingId = entry.id;
      if (entry.status === "rejected") problem(entry, text);
    } else {
      problem(entry, text);
    }
  };

  // Complaints are their own subjects (app/lobby/complaints.py), listed beside the board.
  function complaintItem(id) { return document.querySelector('.complaint[data-complaint-id="' + esc(id) + '"]'); }
  R["complaint.opened"] = function (entry) {
    var ev = entry.event, p = ev.payload, text = lbl("complaint_categories", p.category);
    var li = complaintItem(ev.subject_id);
    if (li && !li.classList.contains("pending")) return; // the server's item is there
    if (!li) {
      var tpl = document.getElementById("tpl-complaint"), list = document.getElementById("complaint-list");
      if (!tpl || !list) { problem(entry, text); return; }
      li = tpl.content.firstElementChild.cloneNode(true);
      li.dataset.complaintId = ev.subject_id;
      li.querySelector(".complaint-category").textContent = text;
      li.querySelector(".complaint-source").textContent = lbl("complaint_sources", p.source);
      list.appendChild(li);
    }
    li.dataset.pendingId = entry.id;
    li.classList.toggle("rejected", entry.status === "rejected");
    li.querySelector(".pending-mark").textContent = statusText(entry);
  };
  function complaintStep(entry) {
    var ev = entry.event, li = complaintItem(ev.subject_id);
    var text = lbl("complaint_status", ev.type === "complaint.responded" ? "responded" : "resolved");
    if (!li) { problem(entry, text); return; }
    var mark = li.querySelector('[data-pending-id="' + esc(entry.id) + '"]');
    if (!mark) {
      mark = document.createElement("span");
      mark.className = "complaint-step pending";
      mark.dataset.pendingId = entry.id;
      li.appendChild(mark);
    }
    mark.classList.toggle("rejected", entry.status === "rejected");
    mark.textContent = text + " · " + statusText(entry);
    // The step is taken (or refused, with its reason): its button is not offered twice.
    var button = li.querySelector('[data-complaint-step="' + ev.type + '"]');
    if (button) button.hidden = entry.status === "pending";
  }
  R["complaint.responded"] = complaintStep;
  R["complaint.resolved"] = complaintStep;

  function openComplaint(form) {
    var note = noteOf(form);
    if (note === null) return;
    var payload = {
      category: form.querySelector("[data-complaint-category]").value,
      source: form.querySelector("[data-complaint-source]").value
    };
    if (note) payload.note = note;
    form.querySelector("[data-note]").value = "";
    form.open = false;
    record("complaint.opened", Datang.newId(), payload);
  }

  function productName(code) {
    for (var i = 0; i < DATA.products.length; i++) if (DATA.products[i].code === code) return DATA.products[i].name;
    return code;
  }
  function productIndex(code) {
    for (var i = 0; i < DATA.products.length; i++) if (DATA.products[i].code === code) return i;
    return DATA.products.length;
  }

  // --- greeting ----------------------------------------------------------------
  function greet(purpose) {
    var input = document.getElementById("ticket-input");
    var ticket = input ? input.value.trim().slice(0, 10) : "";
    var payload = { purpose: purpose };
    if (ticket) payload.ticket = ticket;
    var greetPanel = document.getElementById("greet");
    var segment = pressedIn(greetPanel, "data-greet-segment")[0];
    var flags = pressedIn(greetPanel, "data-greet-flag");
    if (segment) payload.segment = segment;
    if (flags.length) payload.flags = flags;
    var visitId = Datang.newId();
    // Drawn now, before the outbox write finishes; the renderer then takes it over.
    drawGreeted({ id: "local-" + visitId, status: "pending", error: null,
                  event: { subject_id: visitId, occurred_at: new Date().toISOString(), payload: payload } });
    tick();
    if (input) input.value = "";
    $all("[data-greet-segment],[data-greet-flag]", greetPanel).forEach(function (b) { press(b, false); });
    record("visit.greeted", visitId, payload);
  }

  // --- the dialogs ---------------------------------------------------------------
  var state = { visitId: null, dialog: null, confirmed: false };

  function suggest(purpose, band) {
    var bands = DATA.bands, reached = band ? bands.indexOf(band) : -1, best = null, bestRank = -2;
    DATA.rules.forEach(function (r) {
      if (r.purpose !== purpose) return;
      var rank = r.min_band ? bands.indexOf(r.min_band) : -1;
      if (r.min_band && rank > reached) return;
      if (rank > bestRank) { best = r; bestRank = rank; }
    });
    return best ? best.route : "counter";
  }

  function markSuggestion(dlg) {
    var el = card(state.visitId);
    var band = pressedIn(dlg, "data-band")[0];
    state.suggested = suggest(el ? el.dataset.purpose : "", band);
    $all("[data-route]", dlg).forEach(function (b) {
      b.classList.toggle("suggested", b.dataset.route === state.suggested);
    });
  }

  var prepare = {
    triage: function (dlg, el) {
      $all("[aria-pressed]", dlg).forEach(function (b) { press(b, false); });
      markSuggestion(dlg);
      var field = dlg.querySelector("[data-band-field]");
      // The amount is asked for cash as well as transfers: large cash goes to the counter.
      if (field) field.classList.toggle("quiet", ["cash", "transfer"].indexOf(el.dataset.purpose) < 0);
    },
    engage: function (dlg, el) {
      var known = words(el.dataset.needs);
      $all("[data-need]", dlg).forEach(function (b) {
        var has = known.indexOf(b.dataset.need) >= 0;
        press(b, has);
        b.disabled = has;
      });
      dlg.querySelector("[data-note]").value = "";
    },
    recommend: function (dlg, el) {
      var needs = words(el.dataset.needs);
      state.confirmed = false;
      var box = dlg.querySelector(".products"), chips = $all("[data-product]", box);
      chips.forEach(function (b) {
        press(b, false);
        var match = words(b.dataset.needs).some(function (n) { return needs.indexOf(n) >= 0; });
        b.classList.toggle("matches", match);
      });
      // The branch head's focus products first, then general ones, then the rest; within
      // each, those matching the customer's needs first, then in the server's order.
      var rank = function (b) {
        var mark = b.querySelector("[data-focus]");
        var group = mark ? (mark.dataset.focus === "focus" ? 0 : 1) : 2;
        return [group, b.classList.contains("matches") ? 0 : 1, productIndex(b.dataset.product)];
      };
      chips.map(function (b) { return { chip: b, rank: rank(b) }; })
        .sort(function (a, b) {
          for (var i = 0; i < a.rank.length; i++) if (a.rank[i] !== b.rank[i]) return a.rank[i] - b.rank[i];
          return 0;
        })
        .forEach(function (item) { box.appendChild(item.chip); });
      dlg.querySelector("[data-need-warning]").hidden = needs.length > 0;
      dlg.querySelector("[data-recommend-body]").hidden = needs.length === 0;
      dlg.querySelector("[data-error]").hidden = true;
    },
    refer: function (dlg, el) {
      var to = el.dataset.purpose === "corporate" ? "corporate" : "wealth";
      $all("[data-refer-to]", dlg).forEach(function (b) { press(b, b.dataset.referTo === to); });
      $all("[data-assignee]", dlg).forEach(function (b) { press(b, b.dataset.assignee === ""); });
      press(dlg.querySelector("[data-consent]"), false);
      dlg.querySelector("[data-consent-error]").hidden = true;
      dlg.querySelector("[data-wealth-only]").hidden = to !== "wealth";
      dlg.querySelector("[data-note]").value = "";
    },
    close: function (dlg, el) {
      $all("[data-sat], [data-kept-band], [data-complaint-category]", dlg).forEach(function (b) { press(b, false); });
      dlg.querySelector("[data-note]").value = "";
      var suggested = el.dataset.referralId ? "referred" : "served";
      $all("[data-outcome]", dlg).forEach(function (b) {
        b.classList.toggle("button-primary", b.dataset.outcome === suggested);
      });
    },
    more: function (dlg, el) {
      $all("[data-set-purpose]", dlg).forEach(function (b) { press(b, b.dataset.setPurpose === el.dataset.purpose); });
      $all("[data-set-segment]", dlg).forEach(function (b) { press(b, b.dataset.setSegment === el.dataset.segment); });
      var flags = words(el.dataset.flags);
      $all("[data-set-flag]", dlg).forEach(function (b) { press(b, flags.indexOf(b.dataset.setFlag) >= 0); });
      dlg.querySelector("[data-set-ticket]").value = el.dataset.ticket || "";
      var undo = dlg.querySelector("[data-undo]"), label = dlg.querySelector("[data-undo-label]");
      undo.disabled = true;
      label.textContent = "";
      lastStep(state.visitId).then(function (step) {
        state.undo = step;
        undo.disabled = !step;
        label.textContent = step ? lbl("events", step.type) : S.nothing_to_undo;
      });
      var box = dlg.querySelector("[data-history]");
      box.textContent = "";
      var p = document.createElement("p");
      p.className = "muted";
      if (el.classList.contains("pending") || !navigator.onLine || !window.htmx) {
        p.textContent = el.classList.contains("pending") ? S.not_on_server : S.history_offline;
        box.appendChild(p);
      } else {
        htmx.ajax("GET", "/lobby/visits/" + encodeURIComponent(state.visitId), { target: box, swap: "innerHTML" })
          .catch(function () { p.textContent = S.history_offline; box.appendChild(p); });
      }
    }
  };

  function openDialog(name, visitId) {
    var dlg = document.getElementById("dlg-" + name), el = card(visitId);
    if (!dlg || !el) return;
    if (state.dialog && state.dialog.open) state.dialog.close();
    state.visitId = visitId;
    state.dialog = dlg;
    $all("[data-who]", dlg).forEach(function (w) { w.textContent = who(el); });
    $all(".note-error", dlg).forEach(function (e) { e.hidden = true; });
    prepare[name](dlg, el);
    dlg.showModal();
  }
  function closeDialog() {
    if (state.dialog && state.dialog.open) state.dialog.close();
  }

  // The visit's latest step that an undo would take back: the tablet's own
  // not-yet-synced steps first, else the one the server names on the card.
  function lastStep(visitId) {
    return Datang.pending().then(function (entries) {
      var mine = entries.filter(function (e) { return e.event.subject_id === visitId && e.status === "pending"; });
      var undone = mine.filter(function (e) { return e.event.type === "visit.undone"; })
        .map(function (e) { return e.event.payload.event_id; });
      var steps = mine.filter(function (e) { return e.event.type !== "visit.undone" && undone.indexOf(e.id) < 0; });
      if (steps.length) {
        var last = steps[steps.length - 1];
        return { id: last.id, type: last.event.type, referral: last.event.payload.referral_id || null };
      }
      var el = card(visitId);
      if (el && el.dataset.lastStep && !undone.length) {
        return { id: el.dataset.lastStep, type: el.dataset.lastStepType, referral: el.dataset.referralId || null };
      }
      return null;
    });
  }

  var submit = {
    engage: function (dlg) {
      var note = noteOf(dlg);
      if (note === null) return;
      var payload = {}, needs = $all('[data-need][aria-pressed="true"]:not([disabled])', dlg)
        .map(function (b) { return b.dataset.need; });
      if (needs.length) payload.needs = needs;
      if (note) payload.note = note;
      record("visit.engaged", state.visitId, payload);
      closeDialog();
    },
    refer: function (dlg) {
      var note = noteOf(dlg);
      if (note === null) return;
      var el = card(state.visitId), to = pressedIn(dlg, "data-refer-to")[0] || "wealth";
      var referralId = Datang.newId(), visitId = state.visitId;
      var onVisit = { referral_id: referralId, to: to };
      var created = { visit_id: visitId, to: to, purpose: el.dataset.purpose };
      if (to === "wealth") {
        // 客户同意到理财区: a wealth referral needs the customer's consent.
        var consent = dlg.querySelector("[data-consent]").getAttribute("aria-pressed") === "true";
        dlg.querySelector("[data-consent-error]").hidden = consent;
        if (!consent) return;
        created.consent = true;
        var assignee = pressedIn(dlg, "data-assignee")[0];
        if (assignee) created.assignee = assignee;
      }
      if (note) { onVisit.note = note; created.note = note; }
      if (el.dataset.segment) created.segment = el.dataset.segment;
      closeDialog();
      record("visit.referred", visitId, onVisit).then(function () {
        return record("referral.created", referralId, created);
      });
    },
    update: function (dlg) {
      var el = card(state.visitId), payload = {};
      var purpose = pressedIn(dlg, "data-set-purpose")[0];
      if (purpose && purpose !== el.dataset.purpose) payload.purpose = purpose;
      var ticket = dlg.querySelector("[data-set-ticket]").value.trim().slice(0, 10);
      if (ticket !== (el.dataset.ticket || "")) payload.ticket = ticket || null;
      var segment = pressedIn(dlg, "data-set-segment")[0] || "";
      if (segment !== (el.dataset.segment || "")) payload.segment = segment || null;
      var flags = pressedIn(dlg, "data-set-flag").sort();
      if (flags.join(" ") !== words(el.dataset.flags).sort().join(" ")) payload.flags = flags;
      closeDialog();
      if (Object.keys(payload).length) record("visit.updated", state.visitId, payload);
    }
  };

  function undoLast() {
    var step = state.undo, visitId = state.visitId;
    if (!step) return;
    closeDialog();
    record("visit.undone", visitId, { event_id: step.id }).then(function () {
      if (step.type === "visit.referred" && step.referral) {
        return record("referral.cancelled", step.referral, {});
      }
    });
  }

  document.addEventListener("click", function (evt) {
    var t = evt.target.closest("button");
    if (!t) return;
    var dlg = t.closest("dialog");
    if (t.dataset.purpose && t.closest("#greet")) { greet(t.dataset.purpose); return; }
    if (t.hasAttribute("data-greet-segment")) {
      var on = t.getAttribute("aria-pressed") !== "true";
      $all("[data-greet-segment]").forEach(function (b) { press(b, false); });
      press(t, on);
      return;
    }
    if (t.hasAttribute("data-greet-flag")) { press(t, t.getAttribute("aria-pressed") !== "true"); return; }
    if (t.dataset.action) {
      var el = t.closest(".visit-card");
      if (el) openDialog(t.dataset.action, el.dataset.visitId);
      return;
    }
    if (t.hasAttribute("data-undo-close")) {
      t.disabled = true;
      record("visit.undone", t.dataset.visitId, { event_id: t.dataset.eventId });
      return;
    }
    if (t.hasAttribute("data-complaint-step")) {
      t.hidden = true;
      record(t.dataset.complaintStep, t.closest(".complaint").dataset.complaintId, {});
      return;
    }
    if (t.hasAttribute("data-complaint-save")) { openComplaint(t.closest("[data-complaint-form]")); return; }
    if (!dlg) return;
    if (t.hasAttribute("data-close-dialog")) { closeDialog(); return; }
    // one-of-a-kind choices inside a dialog
    ["data-band", "data-machine", "data-sat", "data-kept-band", "data-complaint-category", "data-refer-to", "data-assignee", "data-set-purpose", "data-set-segment"].forEach(function (attr) {
      if (!t.hasAttribute(attr)) return;
      var on = t.getAttribute("aria-pressed") !== "true";
      $all("[" + attr + "]", dlg).forEach(function (b) { press(b, false); });
      press(t, on || attr === "data-refer-to" || attr === "data-assignee" || attr === "data-set-purpose");
      if (attr === "data-band") markSuggestion(dlg);
      if (attr === "data-refer-to") dlg.querySelector("[data-wealth-only]").hidden = t.dataset.referTo !== "wealth";
    });
    // several-of-a-kind toggles
    ["data-toggle", "data-need", "data-product", "data-set-flag", "data-consent"].forEach(function (attr) {
      if (t.hasAttribute(attr)) press(t, t.getAttribute("aria-pressed") !== "true");
    });
    if (t.dataset.route) {
      var payload = { route: t.dataset.route, suggested: state.suggested };
      var band = pressedIn(dlg, "data-band")[0], machine = pressedIn(dlg, "data-machine")[0];
      if (band) payload.amount_band = band;
      if (machine && t.dataset.route === "self_service") payload.machine = machine;
      pressedIn(dlg, "data-toggle").forEach(function (k) { payload[k] = true; });
      closeDialog();
      record("visit.triaged", state.visitId, payload);
      return;
    }
    if (t.hasAttribute("data-confirm-without-need")) {
      state.confirmed = true;
      dlg.querySelector("[data-need-warning]").hidden = true;
      dlg.querySelector("[data-recommend-body]").hidden = false;
      return;
    }
    if (t.dataset.switch) { openDialog(t.dataset.switch, state.visitId); return; }
    if (t.dataset.response) {
      var products = pressedIn(dlg, "data-product");
      if (!products.length) { dlg.querySelector("[data-error]").hidden = false; return; }
      var rec = { products: products, response: t.dataset.response };
      if (state.confirmed) rec.confirmed_without_need = true;
      closeDialog();
      record("visit.recommended", state.visitId, rec);
      return;
    }
    if (t.dataset.outcome) {
      var note = noteOf(dlg);
      if (note === null) return;
      var closed = { outcome: t.dataset.outcome }, sat = pressedIn(dlg, "data-sat")[0];
      if (sat) closed.satisfaction = Number(sat);
      var kept = pressedIn(dlg, "data-kept-band")[0];
      // A complaint noted here is also followed through as its own tracked complaint.
      var complaint = { category: pressedIn(dlg, "data-complaint-category")[0] || "other",
                        source: "lobby", visit_id: state.visitId, note: note };
      var visitId = state.visitId;
      closeDialog();
      (kept ? record("visit.funds_kept", visitId, { amount_band: kept }) : Promise.resolve())
        .then(function () { return note ? record("visit.complaint", visitId, { note: note }) : null; })
        .then(function () { return note ? record("complaint.opened", Datang.newId(), complaint) : null; })
        .then(function () { return record("visit.closed", visitId, closed); });
      return;
    }
    if (t.dataset.submit && submit[t.dataset.submit]) { submit[t.dataset.submit](dlg); return; }
    if (t.hasAttribute("data-undo")) { undoLast(); return; }
    if (t.hasAttribute("data-called")) {
      var calledId = state.visitId;
      closeDialog();
      record("visit.called", calledId, {});
      return;
    }
  });

  // Enter in the ticket box does not submit anything: the purpose tap does.
  document.addEventListener("keydown", function (evt) {
    if (evt.key === "Enter" && evt.target.id === "ticket-input") evt.preventDefault();
  });

  document.addEventListener("htmx:afterSettle", function () { readClock(); tick(); });
  // A refused entry changes no server state, so the board may not swap: draw again.
  document.addEventListener("datang:synced", function () { Datang.overlay(); });
  readClock();
  tick();
  setInterval(tick, 15000);
})();
