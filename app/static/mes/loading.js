/* LineMES Loading Terminal: scan the slot label, then the reel. Every action is a REST API call
 * (session cookie + CSRF token); the loading service judges PASS / WARNING / FAIL and locks slots.
 */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("loading-config").textContent);
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content;
  var el = function (id) { return document.getElementById(id); };
  var scan = el("scan"), feedback = el("feedback"), grid = el("slot-grid").querySelector("tbody");
  var slots = {}, selected = null, replaceMode = false, busy = false;

  function call(method, path, body) {
    var options = {method: method, credentials: "same-origin",
                   headers: {"Accept": "application/json", "X-CSRFToken": csrf}};
    if (body !== undefined) { options.headers["Content-Type"] = "application/json"; options.body = JSON.stringify(body); }
    return fetch("/api/v1" + path, options).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) { return {status: r.status, body: j}; });
    }, function () {
      return {status: 0, body: {error: {code: "NETWORK", message: "The server cannot be reached: check the network, then scan again."}}};
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
    var e = (body && body.error) || {code: "ERROR", message: "Unexpected answer from the server."};
    if (e.code === "UNAUTHORIZED") { e = {code: "SIGNED OUT", message: "Your session has expired: sign in again."}; }
    say("error", '<div class="mes-term-code">' + esc(e.code) + "</div>" + esc(e.message) +
        (cfg.hints[e.code] ? '<div class="mes-term-hint">What to do: ' + esc(cfg.hints[e.code]) + "</div>" : ""));
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
    el("scan-label").textContent = selected ? "Scan the reel for slot " + selected : "Scan the slot";
    Array.prototype.forEach.call(grid.querySelectorAll("tr"), function (tr) {
      tr.classList.toggle("mes-slot-selected", tr.dataset.slot === selected);
    });
    scan.focus();
  }

  function render(state) {
    el("run-status").textContent = state.runStatus;
    el("load-table").classList.toggle("hidden", !(state.runStatus === "PREP" && state.records.length === 0));
    slots = {};
    grid.innerHTML = state.expectations.map(function (e) {
      slots[e.slotCode] = e;
      var status = e.locked ? "LOCKED" : e.status;
      return '<tr class="mes-slot-' + esc(status) + '" data-slot="' + esc(e.slotCode) + '" id="slot-' + esc(e.slotCode) + '">' +
        "<td><strong>" + esc(e.slotCode) + "</strong></td><td>" + esc(e.expectedMaterialCode) +
        (e.alternates.length ? ' <span class="mes-muted">or ' + esc(e.alternates.join(", ")) + "</span>" : "") +
        '</td><td class="slot-status">' + esc(status) + "</td><td>" + esc(e.loadedMaterialCode || "") + " " + esc(e.loadedLotNo || "") + "</td>" +
        (cfg.canUnlock ? "<td>" + (e.locked ? '<form class="form-inline mes-unlock" data-slot="' + esc(e.slotCode) + '">' +
          '<input class="form-control input-sm" name="reason" placeholder="why unlock?" aria-label="Unlock reason for slot ' + esc(e.slotCode) + '"> ' +
          '<button class="btn btn-warning btn-sm" type="submit">Unlock</button></form>' : "") + "</td>" : "") + "</tr>";
    }).join("") || '<tr><td colspan="4" class="mes-muted">No slot table yet: press "Load slot table".</td></tr>';
    prompt();
  }

  grid.addEventListener("submit", function (event) {
    event.preventDefault();
    var form = event.target, slot = form.getAttribute("data-slot"), reason = form.elements.reason.value.trim();
    if (!reason) { say("error", '<div class="mes-term-code">REASON</div>Type why slot ' + esc(slot) + " may be unlocked."); form.elements.reason.focus(); return; }
    call("POST", "/lines/" + encodeURIComponent(cfg.lineCode) + "/feeder-slots/" + encodeURIComponent(slot) + "/unlock", {reason: reason})
      .then(function (r) {
        if (r.status !== 200) { sayError(r.body); return; }
        say("ok", "Slot <strong>" + esc(slot) + "</strong> unlocked: scan the slot and the right reel.");
        log(slot + " unlocked: " + reason);
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
    if (busy) { say("busy", "Still working on the last scan — scan again in a moment."); return; }
    if (!selected) {
      if (!slots[text]) {
        say("error", '<div class="mes-term-code">NOT A SLOT</div>' + esc(text) + " is not a slot of this run's table: scan the slot label first.");
        return;
      }
      if (replaceMode && !el("replace-reason").value.trim()) {
        say("error", '<div class="mes-term-code">REASON</div>Type why the reel is replaced first.');
        el("replace-reason").focus();
        return;
      }
      selected = text;
      var e = slots[text];
      say("idle", "Slot <strong>" + esc(text) + "</strong> expects " + esc(e.expectedMaterialCode) +
          (e.alternates.length ? " (or " + esc(e.alternates.join(", ")) + ")" : "") + ": scan the reel.");
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
      if (r.status !== 200) { sayError(r.body); log(slot + " " + text + " refused"); refresh(); return; }
      var d = r.body.data;
      if (d.verifyResult === "PASS") {
        say("ok", '<div class="mes-term-code">PASS</div>Slot ' + esc(slot) + " loaded with " + esc(d.materialCode) + " lot " + esc(d.lotNo) +
            (d.idempotent ? " (already loaded: nothing changed)" : "") + ".");
      } else if (d.verifyResult === "WARNING") {
        say("warn", '<div class="mes-term-code">WARNING</div>Slot ' + esc(slot) + " loaded with the approved alternate " + esc(d.materialCode) + " lot " + esc(d.lotNo) + ".");
      } else {
        say("fail", '<div class="mes-term-code">FAIL ' + esc(d.failReason) + "</div>" + esc(d.materialCode) + " lot " + esc(d.lotNo) +
            " is wrong for slot " + esc(slot) + " (expected " + esc(d.expectedMaterialCode) + ")." +
            (d.locked ? '<div class="mes-term-hint">Slot ' + esc(slot) + " is now LOCKED: call the line leader.</div>"
                      : '<div class="mes-term-hint">Failed scans in a row: ' + esc(d.failedAttempts) + " of 3.</div>"));
      }
      log(slot + " " + text + " " + d.verifyResult + (d.failReason ? " " + d.failReason : ""));
      if (replaceMode) { setReplace(false); }
      refresh();
    });
  }

  function setReplace(on) {
    replaceMode = on;
    el("replace-panel").classList.toggle("hidden", !on);
    el("replace-mode").classList.toggle("btn-warning", on);
    if (on) { say("warn", "Replace mode: type the reason, then scan the slot and the new reel."); el("replace-reason").focus(); }
    else { el("replace-reason").value = ""; prompt(); }
  }

  scan.addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); var t = scan.value.trim(); scan.value = ""; onScan(t); }
  });
  el("replace-reason").addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); scan.focus(); }
  });
  el("replace-mode").addEventListener("click", function () { setReplace(!replaceMode); });
  el("load-table").addEventListener("click", function () {
    call("POST", "/runs/" + encodeURIComponent(cfg.runNo) + "/loading/load-table").then(function (r) {
      if (r.status !== 200) { sayError(r.body); } else { say("ok", "Slot table loaded: scan the first slot."); }
      refresh();
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "F2") { event.preventDefault(); setReplace(!replaceMode); }
    if (event.key === "Escape") { event.preventDefault(); selected = null; if (replaceMode) { setReplace(false); } say("idle", "Ready."); prompt(); }
  });
  refresh();
})();
