/* LineMES Loading Terminal: scan the slot label, then the reel. Every action is a REST API call
 * (session cookie + CSRF token); the loading service judges PASS / WARNING / FAIL and locks slots.
 */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("loading-config").textContent);
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content;
  var el = function (id) { return document.getElementById(id); };
  var t = MES.t;  // the page's language (common.js; the messages are listed in app/web/i18n.py JS_MESSAGES)
  function whatToDo() {  // "What to do: " — no space after a full-width colon (处理方法：)
    var label = t("What to do:");
    return /：$/.test(label) ? label : label + " ";
  }
  var scan = el("scan"), feedback = el("feedback"), grid = el("slot-grid").querySelector("tbody");
  var slots = {}, selected = null, replaceMode = false, busy = false;
  // the terminal's helpers, for the solder-paste panel (paste.js)
  MES.loading = {call: call, esc: esc, say: say, sayError: sayError, log: log, plantTime: plantTime};

  function call(method, path, body) {
    var options = {method: method, credentials: "same-origin",
                   headers: {"Accept": "application/json", "X-CSRFToken": csrf}};
    if (body !== undefined) { options.headers["Content-Type"] = "application/json"; options.body = JSON.stringify(body); }
    return fetch("/api/v1" + path, options).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) { return {status: r.status, body: j}; });
    }, function () {
      return {status: 0, body: {error: {code: t("NETWORK"), message: t("The server cannot be reached: check the network, then scan again.")}}};
    });
  }
  // Text for markup built as a string, in element content AND in quoted attributes (slot codes,
  // material codes, lots and messages come from master data and scans): & < > " ' all escaped.
  function esc(t) {
    return String(t === null || t === undefined ? "" : t).replace(/&/g, "&amp;").replace(/</g, "&lt;")
      .replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }
  function say(kind, html) { feedback.className = "mes-term-feedback mes-term-" + kind; feedback.innerHTML = html; }
  function sayError(body) {
    var e = (body && body.error) || {code: t("ERROR"), message: t("Unexpected answer from the server.")};
    if (e.code === "UNAUTHORIZED") { e = {code: t("SIGNED OUT"), message: t("Your session has expired: sign in again.")}; }
    var hint = e.hint || cfg.hints[e.code] || "";  // the API's hint is in the page's language
    say("error", '<div class="mes-term-code">' + esc(e.code) + "</div>" + esc(e.message) +
        (hint ? '<div class="mes-term-hint">' + esc(whatToDo()) + esc(hint) + "</div>" : ""));
  }
  /* 24-hour time in the plant's time zone (MES_TIMEZONE), never the browser's own clock format. */
  function plantTime(date) {
    try {
      return date.toLocaleTimeString("en-GB", {hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
                                               timeZone: cfg.timeZone || "UTC"});
    } catch (e) {  // an unknown zone name: UTC, said so
      return date.toISOString().slice(11, 19) + " UTC";
    }
  }
  function log(text) {
    var li = document.createElement("li");
    li.textContent = plantTime(new Date()) + " " + text;
    el("scan-log").insertBefore(li, el("scan-log").firstChild);
  }
  function prompt() {
    el("scan-label").textContent = selected ? t("Scan the reel for slot %(slot)s", {slot: selected}) : t("Scan the slot");
    Array.prototype.forEach.call(grid.querySelectorAll("tr"), function (tr) {
      tr.classList.toggle("mes-slot-selected", tr.dataset.slot === selected);
    });
    scan.focus();
  }

  function render(state) {
    el("run-status").textContent = t(state.runStatus);
    el("load-table").classList.toggle("hidden", !(state.runStatus === "PREP" && state.records.length === 0));
    slots = {};
    grid.innerHTML = state.expectations.map(function (e) {
      slots[e.slotCode] = e;
      var status = e.locked ? "LOCKED" : e.status;
      return '<tr class="mes-slot-' + esc(status) + '" data-slot="' + esc(e.slotCode) + '" id="slot-' + esc(e.slotCode) + '">' +
        "<td><strong>" + esc(e.slotCode) + "</strong></td><td>" + esc(e.expectedMaterialCode) +
        (e.alternates.length ? ' <span class="mes-muted">' + esc(t("or %(codes)s", {codes: e.alternates.join(", ")})) + "</span>" : "") +
        '</td><td class="slot-status" data-status="' + esc(status) + '">' + esc(t(status)) + "</td><td>" + esc(e.loadedMaterialCode || "") + " " + esc(e.loadedLotNo || "") + reelClockCell(e) + "</td>" +
        (cfg.canUnlock ? "<td>" + (e.locked ? '<form class="form-inline mes-unlock" data-slot="' + esc(e.slotCode) + '">' +
          '<input class="form-control input-sm" name="reason" placeholder="' + esc(t("why unlock?")) + '" aria-label="' + esc(t("Unlock reason for slot %(slot)s", {slot: e.slotCode})) + '"> ' +
          '<button class="btn btn-warning btn-sm" type="submit">' + esc(t("Unlock")) + "</button></form>" : "") + "</td>" : "") + "</tr>";
    }).join("") || '<tr><td colspan="4" class="mes-muted">' + esc(t("No slot table yet: press “Load slot table”.")) + "</td></tr>";
    prompt();
  }

  grid.addEventListener("submit", function (event) {
    event.preventDefault();
    var form = event.target, slot = form.getAttribute("data-slot"), reason = form.elements.reason.value.trim();
    if (!reason) { say("error", '<div class="mes-term-code">' + esc(t("REASON")) + "</div>" + esc(t("Type why slot %(slot)s may be unlocked.", {slot: slot}))); form.elements.reason.focus(); return; }
    call("POST", "/lines/" + encodeURIComponent(cfg.lineCode) + "/feeder-slots/" + encodeURIComponent(slot) + "/unlock", {reason: reason})
      .then(function (r) {
        if (r.status !== 200) { sayError(r.body); return; }
        say("ok", t("Slot %(slot)s unlocked: scan the slot and the right reel.", {slot: "<strong>" + esc(slot) + "</strong>"}));
        log(t("%(slot)s unlocked: %(reason)s", {slot: slot, reason: reason}));
        refresh().then(function () { scan.focus(); });
      });
  });

  function refresh() {
    return call("GET", "/runs/" + encodeURIComponent(cfg.runNo) + "/loading").then(function (r) {
      if (r.status === 200) { render(r.body.data); } else { sayError(r.body); }
    });
  }

  function onScan(text) {
    if (!text) { return; }
    if (busy) { say("busy", esc(t("Still working on the last scan — scan again in a moment."))); return; }
    if (!selected) {
      if (!slots[text] && text.indexOf("|") > 0) { showReel(text.split("|")[0], text.split("|")[1], true); return; }
      if (!slots[text]) {
        say("error", '<div class="mes-term-code">' + esc(t("NOT A SLOT")) + "</div>" + esc(t("%(scan)s is not a slot of this run's table: scan the slot label first.", {scan: text})));
        return;
      }
      if (replaceMode && !el("replace-reason").value.trim()) {
        say("error", '<div class="mes-term-code">' + esc(t("REASON")) + "</div>" + esc(t("Type why the reel is replaced first.")));
        el("replace-reason").focus();
        return;
      }
      selected = text;
      var e = slots[text];
      say("idle", t(e.alternates.length ? "Slot %(slot)s expects %(material)s (or %(alternates)s): scan the reel." : "Slot %(slot)s expects %(material)s: scan the reel.",
                    {slot: "<strong>" + esc(text) + "</strong>", material: esc(e.expectedMaterialCode), alternates: esc(e.alternates.join(", "))}));
      prompt();
      return;
    }
    var slot = selected;
    selected = null;
    busy = true;
    var path = replaceMode ? "/loading/replace" : "/loading/verify";
    var body = {runNo: cfg.runNo, slotCode: slot, barcode: text};
    if (replaceMode) { body.reason = el("replace-reason").value.trim(); }
    call("POST", path, body).then(function (r) {
      busy = false;
      if (r.status !== 200) {
        if (!msdRefused(r.body)) { sayError(r.body); }
        log(slot + " " + text + " " + t("refused")); refresh(); return;
      }
      var d = r.body.data;
      if (d.msd) { showReel(d.materialCode, d.lotNo, false); } else { hideReel(); }
      var msdHint = d.msd && d.msd.status === "WARN"  // a moisture-sensitive reel close to the end of its floor life
        ? '<div class="mes-term-hint">' + esc(t("Floor life left: %(hours)s h — plan this reel's replacement.",
                                                 {hours: d.msd.remainingHours})) + "</div>" : "";
      if (d.verifyResult === "PASS") {
        say("ok", '<div class="mes-term-code">' + esc(t("PASS")) + "</div>" + esc(t(d.idempotent
            ? "Slot %(slot)s loaded with %(material)s lot %(lot)s (already loaded: nothing changed)." : "Slot %(slot)s loaded with %(material)s lot %(lot)s.",
            {slot: slot, material: d.materialCode, lot: d.lotNo})) + msdHint);
      } else if (d.verifyResult === "WARNING") {
        say("warn", '<div class="mes-term-code">' + esc(t("WARNING")) + "</div>" +
            esc(t("Slot %(slot)s loaded with the approved alternate %(material)s lot %(lot)s.", {slot: slot, material: d.materialCode, lot: d.lotNo})) + msdHint);
      } else {
        say("fail", '<div class="mes-term-code">' + esc(t("FAIL")) + " " + esc(d.failReason) + "</div>" +
            esc(d.failReason === "MSD_FLOOR_LIFE_EXPIRED"
                ? t("%(material)s lot %(lot)s has spent its floor life (moisture-sensitive): take it off the line to be baked.",
                    {material: d.materialCode, lot: d.lotNo})
                : t("%(material)s lot %(lot)s is wrong for slot %(slot)s (expected %(expected)s).",
                    {material: d.materialCode, lot: d.lotNo, slot: slot, expected: d.expectedMaterialCode})) +
            '<div class="mes-term-hint">' + esc(d.locked ? t("Slot %(slot)s is now LOCKED: call the line leader.", {slot: slot})
                                                         : t("Failed scans in a row: %(count)s of 3.", {count: d.failedAttempts})) + "</div>");
      }
      log(slot + " " + text + " " + t(d.verifyResult) + (d.failReason ? " " + d.failReason : ""));
      if (replaceMode) { setReplace(false); }
      refresh();
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Moisture-sensitive reels (issue 18, J-STD-033): the scanned reel's floor-life clock and the events
  // that move it (Opened, Into / Out of dry storage, Baked), recorded through
  // POST /material-lots/{material}/{lot}/msd-events; the msd service keeps the clock. F8 goes to the
  // buttons, the arrows move between them, Enter records, Esc goes back to the scan field.
  // ---------------------------------------------------------------------------------------------
  var msdPanel = el("msd-panel"), msdReel = null;
  var MSD_STATES = {SEALED: "sealed (dry pack)", ON_FLOOR: "open on the floor", DRY: "in dry storage"};
  function hours(value) { return value === null || value === undefined ? "—" : (Math.round(value * 10) / 10).toFixed(1); }
  function msdState(clock) { return clock.status === "EXPIRED" ? t("spent") : t(MSD_STATES[clock.state] || clock.state); }
  function reelClockCell(e) {  // the Loaded cell's clock: "61.5 h left" (amber when close, red when spent)
    if (!e.msd) { return ""; }
    return ' <button type="button" class="btn btn-xs mes-msd-clock mes-msd-' + esc(e.msd.status) + '" data-msd-reel="' +
      esc(e.loadedMaterialCode + "|" + e.loadedLotNo) + '" tabindex="-1">' + esc(e.msd.status === "EXPIRED" ? t("floor life spent")
      : t("%(hours)s h left", {hours: hours(e.msd.remainingHours)})) + "</button>";
  }
  function hideReel() { msdReel = null; msdPanel.classList.add("hidden"); }
  function renderReel(state) {
    var clock = state.clock;
    msdReel = {material: state.materialCode, lot: state.lotNo};
    el("msd-reel").textContent = state.materialCode + " " + state.lotNo;
    el("msd-msl").textContent = state.msl ? t("MSL %(level)s", {level: state.msl}) : t("no MSL");
    msdPanel.classList.remove("hidden");
    el("msd-actions").classList.toggle("hidden", !clock);
    if (!clock) {
      el("msd-clock").className = "mes-msd-body";
      el("msd-clock").textContent = t("No floor-life clock (MSL 1 or none): nothing to record for this reel.");
      return;
    }
    el("msd-clock").className = "mes-msd-body mes-msd-" + clock.status;
    el("msd-clock").setAttribute("data-status", clock.status);
    el("msd-clock").setAttribute("data-state", clock.state);
    el("msd-clock").innerHTML = '<div class="mes-msd-left" id="msd-remaining">' + esc(clock.status === "EXPIRED"
        ? t("Floor life spent: bake the reel before it is used.")
        : t("%(hours)s h of floor life left", {hours: hours(clock.remainingHours)})) + "</div>" +
      "<div>" + esc(t("State: %(state)s · exposed %(exposure)s h of %(life)s h", {state: msdState(clock),
        exposure: hours(clock.exposureHours), life: hours(clock.floorLifeHours)})) + "</div>" +
      (clock.status === "WARN" ? '<div class="mes-term-hint">' + esc(t("Close to the end of its floor life: use it up, or put it into dry storage.")) + "</div>" : "");
  }
  function showReel(material, lot, announce) {
    if (!material || !lot) { hideReel(); return; }
    return call("GET", "/material-lots/" + encodeURIComponent(material) + "/" + encodeURIComponent(lot) + "/msd").then(function (r) {
      if (r.status !== 200) { hideReel(); if (announce) { sayError(r.body); } return; }
      renderReel(r.body.data);
      if (announce) { say("idle", esc(t("Reel %(reel)s: its floor life is below. F8 records an event.", {reel: material + "|" + lot}))); }
    });
  }
  function msdRefused(body) {  // a re-scan of a loaded reel that ran out on the line (the service refuses it)
    var e = body && body.error;
    if (!e || e.code !== "MSD_FLOOR_LIFE_EXPIRED" || !e.details || !e.details.slotCode) { return false; }
    var d = e.details;
    say("fail", '<div class="mes-term-code">' + esc(e.code) + "</div>" +
        esc(t("%(material)s lot %(lot)s on slot %(slot)s has spent its floor life on the line: replace the reel (Replace mode) and have it baked.",
              {material: d.materialCode, lot: d.lotNo, slot: d.slotCode})) +
        '<div class="mes-term-hint">' + esc(whatToDo()) + esc(cfg.hints[e.code] || "") + "</div>");
    showReel(d.materialCode, d.lotNo, false);
    return true;
  }
  var MSD_DONE = {OPENED: "%(reel)s recorded as opened: its floor-life clock runs.",
                  DRY_IN: "%(reel)s recorded into dry storage: its clock is paused.",
                  DRY_OUT: "%(reel)s recorded out of dry storage: its clock runs again.",
                  BAKED: "%(reel)s recorded as baked: its floor life starts again from zero."};
  function recordMsd(kind) {
    if (!msdReel || busy) { return; }
    var reel = msdReel.material + "|" + msdReel.lot;
    if (kind === "BAKED" && !window.confirm(t("Record that %(reel)s was baked (J-STD-033)? Its exposure goes back to zero: only after a real bake.", {reel: reel}))) {
      el("msd-actions").querySelector('[data-msd-kind="BAKED"]').focus();
      return;
    }
    busy = true;
    call("POST", "/material-lots/" + encodeURIComponent(msdReel.material) + "/" + encodeURIComponent(msdReel.lot) + "/msd-events",
         {kind: kind}).then(function (r) {
      busy = false;
      if (r.status !== 201 && r.status !== 200) { sayError(r.body); scan.focus(); return; }
      say("ok", esc(t(MSD_DONE[kind], {reel: reel})));
      log(reel + " " + t(kind === "DRY_IN" ? "Into dry storage" : kind === "DRY_OUT" ? "Out of dry storage" : kind === "BAKED" ? "Baked" : "Opened"));
      showReel(msdReel.material, msdReel.lot, false);
      refresh();
      scan.focus();
    });
  }
  function msdButtons() { return Array.prototype.slice.call(el("msd-actions").querySelectorAll("button")); }
  el("msd-actions").addEventListener("click", function (event) {
    var button = event.target.closest("[data-msd-kind]");
    if (button) { recordMsd(button.getAttribute("data-msd-kind")); }
  });
  el("msd-actions").addEventListener("keydown", function (event) {
    var buttons = msdButtons(), at = buttons.indexOf(document.activeElement);
    if (event.key === "ArrowRight" || event.key === "ArrowDown" || event.key === "ArrowLeft" || event.key === "ArrowUp") {
      event.preventDefault();
      var step = event.key === "ArrowRight" || event.key === "ArrowDown" ? 1 : -1;
      buttons[(at + step + buttons.length) % buttons.length].focus();
    }
  });
  grid.addEventListener("click", function (event) {
    var button = event.target.closest("[data-msd-reel]");
    if (button) { var parts = button.getAttribute("data-msd-reel").split("|"); showReel(parts[0], parts[1], true); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "F8" && msdReel && !el("msd-actions").classList.contains("hidden")) {
      event.preventDefault();
      msdButtons()[0].focus();
    }
  });

  function setReplace(on) {
    replaceMode = on;
    el("replace-panel").classList.toggle("hidden", !on);
    el("replace-mode").classList.toggle("btn-warning", on);
    if (on) { say("warn", esc(t("Replace mode: type the reason, then scan the slot and the new reel."))); el("replace-reason").focus(); }
    else { el("replace-reason").value = ""; prompt(); }
  }

  scan.addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); var text = scan.value.trim(); scan.value = ""; onScan(text); }
  });
  el("replace-reason").addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); scan.focus(); }
  });
  el("replace-mode").addEventListener("click", function () { setReplace(!replaceMode); });
  el("load-table").addEventListener("click", function () {
    call("POST", "/runs/" + encodeURIComponent(cfg.runNo) + "/loading/load-table").then(function (r) {
      if (r.status !== 200) { sayError(r.body); } else { say("ok", esc(t("Slot table loaded: scan the first slot."))); }
      refresh();
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "F2") { event.preventDefault(); setReplace(!replaceMode); }
    if (event.key === "Escape") { event.preventDefault(); selected = null; if (replaceMode) { setReplace(false); } say("idle", esc(t("Ready."))); prompt(); }
  });
  refresh();
})();
