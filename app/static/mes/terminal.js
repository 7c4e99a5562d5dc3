/* LineMES Station Terminal.
 *
 * A keyboard-wedge scanner types the SN and Enter into the always-focused scan field. Every action
 * is a call to the REST API (session cookie + CSRF token); the server decides everything. The only
 * logic here is display: the data form built from the step's specs, limits shown, out-of-limit values
 * highlighted before submit (a hint — the server judges), and green/red feedback.
 */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("terminal-config").textContent);
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content;
  var API = "/api/v1";
  var el = function (id) { return document.getElementById(id); };
  var scan = el("scan"), feedback = el("feedback"), unitPanel = el("unit-panel"), fields = el("data-fields");
  var defectPanel = el("defect-panel"), runSelect = el("run-select");
  var current = null;   // {sn, runNo, step, specs}
  var busy = false;

  try { localStorage.setItem("mes.terminal.station", cfg.station); } catch (e) { /* private mode */ }

  function call(method, path, body) {
    var options = {method: method, credentials: "same-origin",
                   headers: {"Accept": "application/json", "X-CSRFToken": csrf}};
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(API + path, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        return {status: response.status, body: json};
      });
    }, function () {
      return {status: 0, body: {error: {code: "NETWORK", message: "The server cannot be reached. Check the network cable or Wi-Fi, then scan again."}}};
    });
  }

  function say(kind, html) {
    feedback.className = "mes-term-feedback mes-term-" + kind;
    feedback.innerHTML = html;
  }

  function esc(text) {
    return String(text === null || text === undefined ? "" : text)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }

  function sayError(body) {
    var error = (body && body.error) || {code: "ERROR", message: "Unexpected answer from the server."};
    var hint = cfg.hints[error.code] || "";
    say("error", '<div class="mes-term-code">' + esc(error.code) + "</div>" + esc(error.message) +
        (hint ? '<div class="mes-term-hint">What to do: ' + esc(hint) + "</div>" : ""));
  }

  function stepLabel(step) {
    return "Step " + step.stepNo + " · " + (step.operationCode || "") +
      (step.operationName ? " (" + step.operationName + ")" : "");
  }

  function backToScan() {
    defectPanel.classList.add("hidden");
    scan.value = "";
    scan.focus();
  }

  function clearUnit() {
    current = null;
    unitPanel.classList.add("hidden");
    fields.innerHTML = "";
    backToScan();
  }

  // ---- data form ------------------------------------------------------------------------------
  function limitText(spec) {
    if (spec.dataType === "ENUM") { return (spec.enumOptions || []).join(" / "); }
    if (spec.lsl === null && spec.usl === null) { return spec.uom || ""; }
    var parts = [];
    parts.push(spec.lsl !== null ? spec.lsl : "–");
    if (spec.target !== null && spec.target !== undefined) { parts.push(spec.target); }
    parts.push(spec.usl !== null ? spec.usl : "–");
    return parts.join(" … ") + (spec.uom ? " " + spec.uom : "") + (spec.limitAction ? " · " + spec.limitAction : "");
  }

  function buildForm(specs) {
    fields.innerHTML = "";
    specs.forEach(function (spec, i) {
      var id = "spec-" + i;
      var row = document.createElement("div");
      row.className = "mes-term-field";
      var label = '<label for="' + id + '">' + esc(spec.name) + (spec.required ? ' <span class="mes-req">*</span>' : "") +
        ' <span class="mes-term-limits">' + esc(limitText(spec)) + "</span></label>";
      var input;
      if (spec.dataType === "ENUM" || spec.dataType === "BOOLEAN") {
        var options = spec.dataType === "BOOLEAN" ? [["", "—"], ["true", "yes"], ["false", "no"]]
          : [["", "—"]].concat((spec.enumOptions || []).map(function (o) { return [o, o]; }));
        input = '<select id="' + id + '" class="form-control input-lg mes-term-input">' + options.map(function (o) {
          return '<option value="' + esc(o[0]) + '">' + esc(o[1]) + "</option>";
        }).join("") + "</select>";
      } else {
        var mode = spec.dataType === "NUMBER" ? ' inputmode="decimal"' : "";
        input = '<input id="' + id + '" class="form-control input-lg mes-term-input"' + mode + ' autocomplete="off">';
      }
      row.innerHTML = label + input + '<div class="mes-term-field-note" id="' + id + '-note"></div>';
      fields.appendChild(row);
      var control = el(id);
      control.dataset.index = i;
      if (spec.dataType === "NUMBER") {
        control.addEventListener("input", function () { hintLimits(spec, control); });
      }
    });
  }

  function hintLimits(spec, control) {
    // display hint only: the server judges the value
    var note = el(control.id + "-note");
    var text = control.value.trim().replace(",", ".");
    control.classList.remove("mes-out-of-limit", "mes-invalid");
    note.textContent = "";
    if (!text) { return; }
    var value = Number(text);
    if (isNaN(value)) {
      control.classList.add("mes-invalid");
      note.textContent = "not a number";
      return;
    }
    if ((spec.lsl !== null && value < spec.lsl) || (spec.usl !== null && value > spec.usl)) {
      control.classList.add("mes-out-of-limit");
      note.textContent = spec.limitAction === "WARN" ? "out of limit: recorded as a warning"
        : "out of limit: the board will FAIL";
    }
  }

  function collect() {
    return current.specs.map(function (spec, i) {
      var raw = el("spec-" + i).value;
      var value = raw === "" ? null : raw;
      if (value !== null && spec.dataType === "NUMBER") {
        var number = Number(raw.trim().replace(",", "."));
        value = isNaN(number) ? raw : number;
      } else if (value !== null && spec.dataType === "BOOLEAN") {
        value = raw === "true";
      } else if (value !== null && spec.dataType === "JSON") {
        try { value = JSON.parse(raw); } catch (e) { value = raw; }
      }
      return {spec: spec.name, value: value};
    }).filter(function (item) { return item.value !== null; });
  }

  function showUnit(sn, runNo, step, specs) {
    current = {sn: sn, runNo: runNo, step: step, specs: specs || []};
    el("unit-sn").textContent = sn;
    el("unit-step").textContent = stepLabel(step);
    el("unit-run").textContent = "run " + runNo;
    buildForm(current.specs);
    unitPanel.classList.remove("hidden");
    defectPanel.classList.add("hidden");
    var first = el("spec-0");
    (first || el("pass-button")).focus();
  }

  // ---- actions -------------------------------------------------------------------------------
  function trackIn(sn, runNo) {
    return call("POST", "/stations/" + encodeURIComponent(cfg.station) + "/track-in", {sn: sn, runNo: runNo})
      .then(function (r) {
        if (r.status !== 200) { sayError(r.body); backToScan(); return; }
        var d = r.body.data;
        say("ok", '<div class="mes-term-code">IN</div>' + esc(sn) + " — " + esc(stepLabel(d.step)) +
            (d.step.dataSpecs.length ? ". Enter the values, then PASS or FAIL." : ". PASS or FAIL."));
        showUnit(sn, runNo, d.step, d.step.dataSpecs);
        refreshQueue();
      });
  }

  function onScan(text) {
    if (!text || busy) { return; }
    if (cfg.stations.indexOf(text) >= 0 && text !== cfg.station) {
      window.location.href = cfg.terminalBase + encodeURIComponent(text);
      return;
    }
    if (current && current.sn === text) { (el("spec-0") || el("pass-button")).focus(); return; }
    busy = true;
    say("busy", "Checking " + esc(text) + "…");
    call("GET", "/stations/" + encodeURIComponent(cfg.station) + "/units/" + encodeURIComponent(text) + "/data-specs")
      .then(function (r) {
        if (r.status === 200) {
          var d = r.body.data;
          if (d.openTrack && d.openTrack.station === cfg.station) {
            say("ok", '<div class="mes-term-code">IN</div>' + esc(text) + " is tracked in here — " + esc(stepLabel(d.step)));
            showUnit(text, d.runNo, d.step, d.dataSpecs);
            return null;
          }
          return trackIn(text, d.runNo);
        }
        var code = r.body && r.body.error && r.body.error.code;
        if (code === "UNIT_NOT_FOUND") {
          if (!runSelect.value) {
            say("error", '<div class="mes-term-code">NO RUN</div>New board ' + esc(text) +
                ": choose the run for new boards at the top, then scan again.");
            backToScan();
            return null;
          }
          return trackIn(text, runSelect.value);
        }
        sayError(r.body);
        backToScan();
        return null;
      })
      .then(function () { busy = false; }, function () { busy = false; });
  }

  function trackOut(result, defect) {
    if (!current || busy) { return; }
    busy = true;
    var body = {sn: current.sn, runNo: current.runNo, result: result, data: collect()};
    if (defect) { body.defect = defect; }
    var sn = current.sn;
    call("POST", "/stations/" + encodeURIComponent(cfg.station) + "/track-out", body).then(function (r) {
      busy = false;
      if (r.status !== 200) {
        sayError(r.body);
        if (defect) { defectPanel.classList.add("hidden"); }
        (el("spec-0") || el("pass-button")).focus();
        return;
      }
      var d = r.body.data;
      if (d.result === "PASS") {
        var next = d.nextStep ? "next: " + stepLabel(d.nextStep) : "DONE — the board has finished its route";
        var warn = d.dataValues.filter(function (v) { return v.alarmed; }).map(function (v) { return v.spec + " = " + v.value; });
        say("ok", '<div class="mes-term-code">PASS</div>' + esc(sn) + " — " + esc(next) +
            (warn.length ? '<div class="mes-term-hint">Warning recorded: ' + esc(warn.join(", ")) + "</div>" : ""));
      } else {
        var codes = d.defects.map(function (x) { return x.code; }).join(", ");
        var why = d.forcedBy === "SPEC_LIMIT" ? d.dataValues.filter(function (v) { return v.judge === "FAIL"; })
          .map(function (v) { return v.spec + " = " + v.value + " (limits " + (v.lsl !== null ? v.lsl : "–") + "–" + (v.usl !== null ? v.usl : "–") + ")"; }).join(", ") : "";
        say("fail", '<div class="mes-term-code">FAIL ' + esc(codes) + "</div>" + esc(sn) +
            (d.forcedBy ? " — forced by " + esc(d.forcedBy) + (why ? ": " + esc(why) : "") : "") +
            '<div class="mes-term-hint">Put the board aside for quality (disposition).</div>');
      }
      clearUnit();
      refreshQueue();
    });
  }

  function openDefects() {
    if (!current) { return; }
    defectPanel.classList.remove("hidden");
    var select = el("defect-code");
    if (select.selectedIndex < 0 && select.options.length) { select.selectedIndex = 0; }
    select.focus();
  }

  function confirmFail() {
    var code = el("defect-code").value;
    trackOut("FAIL", {code: code, location: el("defect-location").value.trim() || null});
  }

  // ---- queue and runs -------------------------------------------------------------------------
  function refreshQueue() {
    call("GET", "/stations/" + encodeURIComponent(cfg.station) + "/queue").then(function (r) {
      if (r.status !== 200) { return; }
      var q = r.body.data;
      el("queue-in").innerHTML = q.inStation.map(function (u) {
        return '<li class="mes-q-in"><strong>' + esc(u.sn) + "</strong> step " + u.stepNo + ' <span class="mes-muted">' + esc(u.runNo) + "</span></li>";
      }).join("") || '<li class="mes-muted">none</li>';
      el("queue-waiting").innerHTML = q.waiting.slice(0, 30).map(function (u) {
        return "<li><strong>" + esc(u.sn) + "</strong> step " + u.stepNo + ' <span class="mes-muted">' + esc(u.runNo) + "</span></li>";
      }).join("") || '<li class="mes-muted">none</li>';
    });
  }

  function loadRuns() {
    call("GET", "/runs?lineCode=" + encodeURIComponent(cfg.lineCode) + "&pageSize=50").then(function (r) {
      if (r.status !== 200) { return; }
      var active = r.body.data.filter(function (run) { return run.status === "AUTHORIZED" || run.status === "IN_PROGRESS"; });
      var remembered = null;
      try { remembered = localStorage.getItem("mes.terminal.run." + cfg.station); } catch (e) { /* ignore */ }
      runSelect.innerHTML = (active.length ? "" : '<option value="">(no active run)</option>') + active.map(function (run) {
        return '<option value="' + esc(run.runNo) + '">' + esc(run.runNo) + " · " + esc(run.workOrder.productCode) + " · " + run.status + "</option>";
      }).join("");
      if (remembered && active.some(function (run) { return run.runNo === remembered; })) { runSelect.value = remembered; }
    });
  }

  // ---- keyboard ------------------------------------------------------------------------------
  scan.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      event.preventDefault();
      var text = scan.value.trim();
      scan.value = "";
      onScan(text);
    }
  });

  fields.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") { return; }
    event.preventDefault();
    var index = Number(event.target.dataset.index);
    var next = el("spec-" + (index + 1));
    if (next) { next.focus(); } else { trackOut("PASS"); }
  });

  el("pass-button").addEventListener("click", function () { trackOut("PASS"); });
  el("fail-button").addEventListener("click", openDefects);
  el("cancel-button").addEventListener("click", clearUnit);
  el("confirm-fail").addEventListener("click", confirmFail);
  el("cancel-fail").addEventListener("click", function () { defectPanel.classList.add("hidden"); (el("spec-0") || el("pass-button")).focus(); });
  el("defect-code").addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); confirmFail(); }
  });
  el("defect-location").addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); confirmFail(); }
  });
  runSelect.addEventListener("change", function () {
    try { localStorage.setItem("mes.terminal.run." + cfg.station, runSelect.value); } catch (e) { /* ignore */ }
    scan.focus();
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "F8" && current) { event.preventDefault(); trackOut("PASS"); }
    else if (event.key === "F9" && current) { event.preventDefault(); openDefects(); }
    else if (event.key === "Escape") {
      event.preventDefault();
      if (!defectPanel.classList.contains("hidden")) { defectPanel.classList.add("hidden"); (el("spec-0") || el("pass-button")).focus(); }
      else { clearUnit(); }
    }
  });

  // the scan field takes the focus back whenever nothing else should have it
  document.addEventListener("click", function (event) {
    if (!current && !event.target.closest("select, a, button, input")) { scan.focus(); }
  });

  loadRuns();
  refreshQueue();
  setInterval(refreshQueue, 15000);
  scan.focus();
})();
