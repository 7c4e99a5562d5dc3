/* LineMES Station Terminal.
 *
 * A keyboard-wedge scanner types the SN and Enter into the always-focused scan field. Every action
 * is a call to the REST API (session cookie + CSRF token); the server decides everything. The only
 * logic here is display and keyboard flow: the data form built from the step's specs, limits shown,
 * out-of-limit values highlighted before submit (a hint — the server judges), green/red feedback,
 * one request at a time (a scan while the previous answer is pending is ignored, never sent twice).
 */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("terminal-config").textContent);
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content;
  var API = "/api/v1";
  var QUEUE_REFRESH_MS = 15000, RUNS_REFRESH_MS = 60000;
  var el = function (id) { return document.getElementById(id); };
  var t = MES.t;  // the page's language (common.js; the messages are listed in app/web/i18n.py JS_MESSAGES)
  function whatToDo() {  // "What to do: " — no space after a full-width colon (处理方法：)
    var label = t("What to do:");
    return /：$/.test(label) ? label : label + " ";
  }
  var scan = el("scan"), feedback = el("feedback"), unitPanel = el("unit-panel"), fields = el("data-fields");
  var defectPanel = el("defect-panel"), defectFilter = el("defect-filter"), defectList = el("defect-code");
  var defectNote = el("defect-note"), runSelect = el("run-select");
  var buttons = ["pass-button", "fail-button", "confirm-fail"].map(el);
  var current = null;   // {sn, runNo, step, specs}
  var busy = false, busyText = "";

  try { localStorage.setItem("mes.terminal.station", cfg.station); } catch (e) { /* private mode */ }

  // ---- talking to the server ------------------------------------------------------------------
  function failure(code, message) {
    return {error: {code: code, message: message}};
  }

  /* Resolves to {status, body} — never rejects: a network failure, an HTML error page from a proxy
     (502/504) or any answer that is not our JSON envelope becomes an error body to show. */
  function call(method, path, body) {
    var options = {method: method, credentials: "same-origin",
                   headers: {"Accept": "application/json", "X-CSRFToken": csrf}};
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(API + path, options).then(function (response) {
      return response.text().then(function (text) {
        var json = null;
        try { json = JSON.parse(text); } catch (e) { json = null; }
        var envelope = json && typeof json === "object" && (response.ok ? "data" in json : json.error && json.error.code);
        if (!envelope) {
          return {status: response.status || 0, body: failure(t("SERVER ERROR"),
            t("The server (or a proxy in between) answered with an error%(http)s instead of a result. Scan the board again: " +
              "the terminal then shows whether it was recorded. If it repeats, call IT.",
              {http: response.status ? " (HTTP " + response.status + ")" : ""}))};
        }
        return {status: response.status, body: json};
      }, function () {
        return {status: 0, body: failure(t("NETWORK"), t("The answer from the server was cut off. Scan the board again."))};
      });
    }, function () {
      return {status: 0, body: failure(t("NETWORK"), t("The server cannot be reached. Check the network cable or Wi-Fi, then scan again."))};
    });
  }

  /* One request at a time: `work` returns a promise; whatever happens, the terminal is usable after. */
  function exclusive(text, work) {
    if (busy) { ignored(); return; }
    setBusy(true, text);
    var promise;
    try { promise = Promise.resolve(work()); } catch (e) { promise = Promise.reject(e); }
    promise.catch(function () {
      say("error", '<div class="mes-term-code">' + esc(t("ERROR")) + "</div>" + esc(t("Something went wrong on this screen. Press F5 and scan again.")));
    }).then(function () {
      setBusy(false);
      if (!document.activeElement || document.activeElement === document.body) { focusWork(); }
    });
  }

  function setBusy(on, text) {
    busy = on;
    busyText = on ? text : "";
    buttons.forEach(function (button) { button.disabled = on; });
    if (on) { say("busy", esc(text)); }
  }

  function ignored() {
    scan.value = "";
    say("busy", esc(busyText) + '<div class="mes-term-hint">' + esc(t("Scan ignored: wait for the answer, then scan again.")) + "</div>");
  }

  // ---- showing answers -------------------------------------------------------------------------
  function say(kind, html) {
    feedback.className = "mes-term-feedback mes-term-" + kind;
    feedback.innerHTML = html;
  }

  function esc(text) {
    return String(text === null || text === undefined ? "" : text)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;");
  }

  function sayError(body) {
    var error = (body && body.error) || failure(t("ERROR"), t("Unexpected answer from the server.")).error;
    if (error.code === "UNAUTHORIZED") {
      say("error", '<div class="mes-term-code">' + esc(t("SIGNED OUT")) + "</div>" + esc(t("Your session has expired — sign in again.")) + " " +
          '<a class="btn btn-primary btn-lg" id="sign-in-again" href="' + esc(cfg.loginUrl) + '">' + esc(t("Sign in")) + "</a>" +
          '<div class="mes-term-hint">' + esc(t("Nothing was recorded for this scan: scan the board again after signing in.")) + "</div>");
      return;
    }
    var hint = error.hint || cfg.hints[error.code] || "";  // the API's hint is in the page's language
    say("error", '<div class="mes-term-code">' + esc(error.code) + "</div>" + esc(error.message) +
        (hint ? '<div class="mes-term-hint">' + esc(whatToDo()) + esc(hint) + "</div>" : ""));
  }

  function stepLabel(step) {
    return t("Step %(no)s", {no: step.stepNo}) + " · " + (step.operationCode || "") +
      (step.operationName ? " (" + step.operationName + ")" : "");
  }

  function closeoutText(closeout, runNo) {
    if (!closeout) { return ""; }
    if (closeout.completed) { return t("Run %(run)s is COMPLETED: all its boards are finished.", {run: runNo}); }
    if (closeout.code === "OQC_REQUIRED") {
      var sampled = closeout.sampledSns && closeout.sampledSns.length;
      return t("Run %(run)s is finished and waits for OQC: quality inspects %(boards)s. Keep the boards of this run together.",
               {run: runNo, boards: sampled ? t("%(count)s sampled board(s)", {count: sampled}) : t("the sampled boards")});
    }
    return t("Run %(run)s is not completed yet (%(code)s)", {run: runNo, code: closeout.code || t("closeout pending")}) +
      (cfg.hints[closeout.code] ? ": " + cfg.hints[closeout.code] : ".");
  }

  // ---- focus: the scan field unless a form needs the keys -------------------------------------
  function defectOpen() { return !defectPanel.classList.contains("hidden"); }

  function focusWork() {
    if (current && defectOpen()) { defectFilter.focus(); return; }
    var first = current && current.specs.length ? el("spec-0") : null;
    (first || scan).focus();
  }

  function closeDefects() {
    defectPanel.classList.add("hidden");
    el("data-form").classList.remove("hidden");
    defectNote.textContent = "";
  }

  function clearUnit() {
    current = null;
    unitPanel.classList.add("hidden");
    el("unit-no-data").classList.add("hidden");
    fields.innerHTML = "";
    closeDefects();
    scan.value = "";
    scan.focus();
  }

  // ---- data form ------------------------------------------------------------------------------
  function limitText(spec) {
    if (spec.dataType === "ENUM") { return (spec.enumOptions || []).join(" / "); }
    if (spec.lsl === null && spec.usl === null) { return spec.uom || ""; }
    var parts = [];
    parts.push(spec.lsl !== null ? spec.lsl : "–");
    if (spec.target !== null && spec.target !== undefined) { parts.push(spec.target); }
    parts.push(spec.usl !== null ? spec.usl : "–");
    return parts.join(" … ") + (spec.uom ? " " + spec.uom : "") + (spec.limitAction ? " · " + t(spec.limitAction) : "")  // FAIL or WARN beyond the limits;
  }

  /* The field's label: the spec's description (the engineer's words), else its name made readable
     ("output_voltage_v" with unit V → "Output voltage"). The raw name stays in the tooltip. */
  function specLabel(spec) {
    var label = cfg.specLabels && cfg.specLabels[spec.id];
    if (label) { return label; }
    var name = String(spec.name || "");
    var unit = String(spec.uom || "").toLowerCase().replace(/°/g, "").replace(/µ/g, "u").replace(/[^a-z0-9]+/g, "_");
    if (unit && name.length > unit.length + 1 && name.slice(-(unit.length + 1)).toLowerCase() === "_" + unit) {
      name = name.slice(0, -(unit.length + 1));
    }
    name = name.replace(/_+/g, " ").trim();
    return name.charAt(0).toUpperCase() + name.slice(1);
  }

  function buildForm(specs) {
    fields.innerHTML = "";
    fields.classList.toggle("mes-term-fields-2col", specs.length > 2);  // many fields: two columns
    specs.forEach(function (spec, i) {
      var id = "spec-" + i;
      var row = document.createElement("div");
      row.className = "mes-term-field";
      var label = '<label for="' + id + '" title="' + esc(spec.name) + '">' + esc(specLabel(spec)) +
        (spec.required ? ' <span class="mes-req">*</span>' : "") +
        ' <span class="mes-term-limits">' + esc(limitText(spec)) + "</span></label>";
      var input;
      if (spec.dataType === "ENUM" || spec.dataType === "BOOLEAN") {
        var options = spec.dataType === "BOOLEAN" ? [["", "—"], ["true", t("yes")], ["false", t("no")]]
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
      control.addEventListener("keydown", function (event) {
        if (event.key.length !== 1) { return; }
        var at = Date.now();
        if (!control.value) { control.mesKeys = []; }
        (control.mesKeys = control.mesKeys || []).push(at);
      });
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
      note.textContent = t("not a number");
      return;
    }
    if ((spec.lsl !== null && value < spec.lsl) || (spec.usl !== null && value > spec.usl)) {
      control.classList.add("mes-out-of-limit");
      note.textContent = spec.limitAction === "WARN" ? t("out of limit: recorded as a warning")
        : t("out of limit: the board will FAIL");
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
    el("unit-run").textContent = t("run %(run)s", {run: runNo});
    buildForm(current.specs);
    el("unit-no-data").classList.toggle("hidden", current.specs.length > 0);
    unitPanel.classList.remove("hidden");
    closeDefects();
    scan.value = "";
    focusWork();  // a step without data keeps the scan field: rescan or Enter = PASS
  }

  function inText(sn, step, specs, lead) {
    return '<div class="mes-term-code">' + esc(t("IN")) + "</div>" + esc(sn) + " " + esc(lead || "—") + " " + esc(stepLabel(step)) +
      esc(specs.length ? t(". Enter the values, then PASS or FAIL.") : t(". No data: scan it again (or Enter) = PASS, F9 = FAIL."));
  }

  // ---- actions -------------------------------------------------------------------------------
  function trackIn(sn, runNo) {
    return call("POST", "/stations/" + encodeURIComponent(cfg.station) + "/track-in", {sn: sn, runNo: runNo})
      .then(function (r) {
        if (r.status !== 200) { sayError(r.body); return; }
        var d = r.body.data;
        say("ok", inText(sn, d.step, d.step.dataSpecs || []));
        showUnit(sn, runNo, d.step, d.step.dataSpecs);
        refreshQueue();
      });
  }

  function lookUp(text) {
    return call("GET", "/stations/" + encodeURIComponent(cfg.station) + "/units/" + encodeURIComponent(text) + "/data-specs")
      .then(function (r) {
        if (r.status === 200) {
          var d = r.body.data;
          if (d.openTrack && d.openTrack.station === cfg.station) {
            say("ok", inText(text, d.step, d.dataSpecs || [], t("is tracked in here —")));
            showUnit(text, d.runNo, d.step, d.dataSpecs);
            return null;
          }
          if (d.openTrack) {  // tracked in elsewhere: say where, without a refused track-in
            sayError(failure("UNIT_ALREADY_IN_STATION", t("Unit %(sn)s is already tracked in at %(station)s (step %(step)s): " +
              "track it out there first.", {sn: text, station: d.openTrack.station, step: d.openTrack.stepNo})));
            return null;
          }
          return trackIn(text, d.runNo);
        }
        var code = r.body && r.body.error && r.body.error.code;
        if (code === "UNIT_NOT_FOUND") {
          if (!runSelect.value) {
            say("error", '<div class="mes-term-code">' + esc(t("NO RUN")) + "</div>" +
                esc(t("New board %(sn)s: choose the run for new boards at the top, then scan again.", {sn: text})));
            return null;
          }
          return trackIn(text, runSelect.value);
        }
        sayError(r.body);
        return null;
      });
  }

  function onScan(text) {
    if (busy) { ignored(); return; }
    scan.value = "";
    if (current) {
      var noData = !current.specs.length;
      if (!text || text === current.sn) {
        // a step without data: Enter or the same board scanned again = PASS
        if (noData && !defectOpen()) { trackOut("PASS"); } else { focusWork(); }
        return;
      }
      if (cfg.stations.indexOf(text) < 0) {
        say("error", '<div class="mes-term-code">' + esc(t("FINISH FIRST")) + "</div>" + esc(t(noData
            ? "%(scan)s was not taken: finish %(sn)s first (PASS = scan it again, FAIL, or Esc to leave it tracked in here), then scan %(scan)s again."
            : "%(scan)s was not taken: finish %(sn)s first (PASS, FAIL, or Esc to leave it tracked in here), then scan %(scan)s again.",
            {scan: text, sn: current.sn})));
        focusWork();
        return;
      }
    }
    if (!text) { return; }
    if (cfg.stations.indexOf(text) >= 0) {
      if (text !== cfg.station) { window.location.href = cfg.terminalBase + encodeURIComponent(text); }
      return;
    }
    exclusive(t("Checking %(sn)s…", {sn: text}), function () { return lookUp(text); });
  }

  function trackOut(result, defect) {
    if (!current) { return; }
    if (result === "PASS" && defectOpen()) { return; }  // the defect list is open: only Record FAIL or Back
    if (busy) { ignored(); return; }
    var body = {sn: current.sn, runNo: current.runNo, result: result, data: collect()};
    if (defect) { body.defect = defect; }
    var sn = current.sn, runNo = current.runNo;
    exclusive(t("Recording %(result)s for %(sn)s…", {result: t(result), sn: sn}), function () {
      return call("POST", "/stations/" + encodeURIComponent(cfg.station) + "/track-out", body).then(function (r) {
        if (r.status !== 200) {
          sayError(r.body);
          focusWork();
          return;
        }
        var d = r.body.data;
        var closeout = closeoutText(d.runCloseout, runNo);
        var closeoutHtml = closeout ? '<div class="mes-term-closeout" id="run-closeout">' + esc(closeout) + "</div>" : "";
        var spcAlarms = (d.spcAlarms || []).map(function (a) {
          return t("%(spec)s, rule %(rule)s", {spec: a.spec, rule: a.rule});
        }).join("; ");
        if (d.result === "PASS" && d.heldBy) {  // an SPC alarm whose chart holds: the board waits for quality
          say("fail", '<div class="mes-term-code" id="spc-hold">' + esc(t("ON HOLD")) + "</div>" + esc(sn) + " — " +
              esc(t("SPC alarm: %(alarms)s.", {alarms: spcAlarms})) + '<div class="mes-term-hint">' +
              esc(t("Put the board aside for quality: it stays on hold until quality releases it. Tell your line leader: the process may be drifting.")) +
              "</div>" + closeoutHtml);
        } else if (d.result === "PASS") {
          var next = d.nextStep ? t(d.nextStepWaits ? "next: %(step)s (after the FAI)" : "next: %(step)s", {step: stepLabel(d.nextStep)})
            : t("DONE — the board has finished its route");
          var waits = d.nextStepWaits ? '<div class="mes-term-hint" id="next-step-waits">' + esc(d.nextStepWaits) + "</div>" : "";
          var warn = (d.dataValues || []).filter(function (v) { return v.alarmed; }).map(function (v) { return v.spec + " = " + v.value; });
          say("ok", '<div class="mes-term-code">' + esc(t("PASS")) + "</div>" + esc(sn) + " — " + esc(next) +
              waits + (spcAlarms ? '<div class="mes-term-hint" id="spc-alarm">' +
                esc(t("SPC alarm: %(alarms)s. Tell your line leader or quality: the process may be drifting.", {alarms: spcAlarms})) +
                "</div>" : "") + (warn.length ? '<div class="mes-term-hint">' + esc(t("Warning recorded: %(values)s", {values: warn.join(", ")})) + "</div>" : "") +
              closeoutHtml);
        } else {
          var codes = (d.defects || []).map(function (x) { return x.code; }).join(", ");
          var why = d.forcedBy === "SPEC_LIMIT" ? (d.dataValues || []).filter(function (v) { return v.judge === "FAIL"; })
            .map(function (v) {
              return v.spec + " = " + v.value + " " + t("(limits %(lsl)s–%(usl)s)", {lsl: v.lsl !== null ? v.lsl : "–", usl: v.usl !== null ? v.usl : "–"});
            }).join(", ") : "";
          say("fail", '<div class="mes-term-code">' + esc(t("FAIL")) + " " + esc(codes) + "</div>" + esc(sn) +
              (d.forcedBy ? esc(t(" — forced by %(cause)s", {cause: d.forcedBy})) + (why ? ": " + esc(why) : "") : "") +
              '<div class="mes-term-hint">' + esc(t("Put the board aside for quality (disposition).")) + "</div>" + closeoutHtml);
        }
        clearUnit();
        refreshQueue();
        if (d.runCloseout) { loadRuns(); }
      });
    });
  }

  // ---- defect picker: nothing preselected, filter by code or name, keyboard only ---------------
  function renderDefects() {
    var term = defectFilter.value.trim().toLowerCase();
    var chosen = defectList.value;
    var matches = cfg.defectCodes.filter(function (d) {
      return !term || d.code.toLowerCase().indexOf(term) >= 0 || (d.name || "").toLowerCase().indexOf(term) >= 0;
    });
    defectList.innerHTML = matches.map(function (d) {
      return '<option value="' + esc(d.code) + '">' + esc(d.code) + " — " + esc(d.name) +
        (d.category ? " (" + esc(d.category) + ")" : "") + "</option>";
    }).join("");
    var keep = matches.some(function (d) { return d.code === chosen; });
    defectList.value = keep ? chosen : "";
    if (!keep) { defectList.selectedIndex = matches.length === 1 && term ? 0 : -1; }
    defectNote.textContent = matches.length ? "" : t("No defect code matches “%(term)s”.", {term: defectFilter.value.trim()});
  }

  function moveDefect(step) {
    var count = defectList.options.length;
    if (!count) { return; }
    var index = defectList.selectedIndex < 0 ? (step > 0 ? 0 : count - 1)
      : Math.min(count - 1, Math.max(0, defectList.selectedIndex + step));
    defectList.selectedIndex = index;
    defectNote.textContent = "";
  }

  function openDefects() {
    if (!current || busy || defectOpen()) { return; }
    defectPanel.classList.remove("hidden");
    el("data-form").classList.add("hidden");  // the values stay; the picker and Record FAIL need the room
    defectFilter.value = "";
    el("defect-location").value = "";
    renderDefects();
    defectList.selectedIndex = -1;  // never a preselected code: the operator picks one
    defectFilter.focus();
  }

  function confirmFail() {
    if (!current || busy) { return; }
    var code = defectList.value;
    if (!code) {
      defectNote.textContent = t("Pick a defect code first: type part of its code or name, then ↓/↑.");
      defectFilter.focus();
      return;
    }
    trackOut("FAIL", {code: code, location: el("defect-location").value.trim() || null});
  }

  // ---- a scan that landed in a data field --------------------------------------------------------
  /* A keyboard-wedge scanner types wherever the focus is. A value is taken for a scan, not a value,
     when it ends with the open board's SN, one of the operator's station codes, or an SN of a run of
     this line (`RUN-…`) — what was typed before it stays in the field —, or, for a NUMBER field, when
     it is label-like text (letters, digits, dashes), or when it arrived as a scanner burst (six or
     more characters, under 30 ms apart) looking like a label. */
  var LABEL_SHAPE = /^(?=.*[0-9])(?=.*[A-Za-z])[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)+$/;

  /* The scanned label at the end of a field's text, or "" when there is none. */
  function scannedPart(text) {
    if (!current) { return ""; }
    var exact = [current.sn].concat(cfg.stations).filter(function (code) {
      return code && text.length >= code.length && text.slice(-code.length) === code;
    });
    if (exact.length) { return exact[0]; }
    var runs = Array.prototype.map.call(runSelect.options, function (o) { return o.value; })
      .filter(Boolean).concat([current.runNo]);
    for (var i = 0; i < runs.length; i++) {
      var at = text.indexOf(runs[i]);
      if (at >= 0 && (text === runs[i] || text.charAt(at + runs[i].length) === "-") &&
          /^[A-Za-z0-9_-]+$/.test(text.slice(at))) {
        return text.slice(at);
      }
    }
    return "";
  }

  function burst(control, text) {
    var keys = control.mesKeys || [];
    if (text.length < 6 || keys.length < text.length) { return false; }
    var recent = keys.slice(-text.length);
    return (recent[recent.length - 1] - recent[0]) / (recent.length - 1) < 30;
  }

  function scannedIntoField(control, spec) {
    var text = control.value.trim();
    if (!text || !spec) { return false; }
    var number = spec.dataType === "NUMBER" && !isNaN(Number(text.replace(",", ".")));
    if (number) { return false; }
    var part = scannedPart(text);
    if (!part && ((spec.dataType === "NUMBER" && LABEL_SHAPE.test(text)) || (burst(control, text) && LABEL_SHAPE.test(text)))) {
      part = text;
    }
    if (!part) { return false; }
    var typed = text.slice(0, text.length - part.length).trim();  // what was typed before the scan: kept
    text = part;
    control.value = typed;
    control.mesKeys = [];
    control.classList.remove("mes-out-of-limit", "mes-invalid");
    el(control.id + "-note").textContent = "";
    if (typed && spec.dataType === "NUMBER") { hintLimits(spec, control); }
    var where = typed ? t("It was scanned into the %(field)s field, which keeps what was typed before it (%(typed)s).", {field: specLabel(spec), typed: typed})
      : t("It was scanned into the %(field)s field, which is cleared.", {field: specLabel(spec)});
    if (text === current.sn) {
      say("error", '<div class="mes-term-code">' + esc(t("SCAN, NOT A VALUE")) + "</div>" + esc(t("%(sn)s is this board's SN.", {sn: text})) + " " + esc(where) +
          '<div class="mes-term-hint">' + esc(t("Type the %(field)s value, then Enter.", {field: specLabel(spec)})) + "</div>");
    } else if (cfg.stations.indexOf(text) >= 0) {
      onScan(text);  // a station label of the operator's: switch station, as from the scan field
      return true;
    } else {
      say("error", '<div class="mes-term-code">' + esc(t("FINISH FIRST")) + "</div>" +
          esc(t("%(scan)s was not taken: finish %(sn)s first (PASS, FAIL, or Esc to leave it tracked in here), then scan %(scan)s again.",
                {scan: text, sn: current.sn})) + " " + esc(where));
    }
    control.focus();
    return true;
  }

  // ---- queue and runs -------------------------------------------------------------------------
  function refreshQueue() {
    call("GET", "/stations/" + encodeURIComponent(cfg.station) + "/queue").then(function (r) {
      if (r.status === 401 && !busy) { sayError(r.body); }  // signed out: say so before the next scan
      if (r.status !== 200) { return; }
      var q = r.body.data;
      el("queue-in").innerHTML = q.inStation.map(function (u) {
        return '<li class="mes-q-in"><strong>' + esc(u.sn) + "</strong> " + esc(t("step %(no)s", {no: u.stepNo})) + ' <span class="mes-muted">' + esc(u.runNo) + "</span></li>";
      }).join("") || '<li class="mes-muted">' + esc(t("none")) + "</li>";
      el("queue-waiting").innerHTML = q.waiting.slice(0, 30).map(function (u) {
        return "<li><strong>" + esc(u.sn) + "</strong> " + esc(t("step %(no)s", {no: u.stepNo})) + ' <span class="mes-muted">' + esc(u.runNo) + "</span></li>";
      }).join("") || '<li class="mes-muted">' + esc(t("none")) + "</li>";
    });
  }

  /* The runs new boards may be registered to, as the execution service says (`GET …/runs`: AUTHORIZED
     and IN_PROGRESS runs of the line, and PREP runs in their FAI trial). With
     several, the operator chooses (nothing preselected unless chosen before at this station); with
     one, it is selected. Refreshed every minute without disturbing an open choice. */
  function loadRuns() {
    call("GET", "/stations/" + encodeURIComponent(cfg.station) + "/runs").then(function (r) {
      if (r.status !== 200) { return; }
      if (document.activeElement === runSelect) { return; }  // the operator is choosing right now
      var active = r.body.data;
      var remembered = null;
      try { remembered = localStorage.getItem("mes.terminal.run." + cfg.station); } catch (e) { /* ignore */ }
      var wanted = runSelect.value || remembered;
      var options = active.map(function (run) {
        return '<option value="' + esc(run.runNo) + '">' + esc(run.runNo) + " · " + esc(run.productCode) + " · " +
          esc(run.faiTrial ? t("FAI trial") : t(run.status)) + "</option>";
      }).join("");
      if (!active.length) { options = '<option value="">' + esc(t("(no active run)")) + "</option>"; }
      else if (active.length > 1) { options = '<option value="">' + esc(t("(choose the run for new boards…)")) + "</option>" + options; }
      runSelect.innerHTML = options;
      if (active.length === 1) { runSelect.value = active[0].runNo; }
      else if (wanted && active.some(function (run) { return run.runNo === wanted; })) { runSelect.value = wanted; }
      else { runSelect.value = ""; }
    });
  }

  // ---- keyboard ------------------------------------------------------------------------------
  scan.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      event.preventDefault();
      onScan(scan.value.trim());
    }
  });

  fields.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") { return; }
    event.preventDefault();
    var index = Number(event.target.dataset.index);
    if (scannedIntoField(event.target, current.specs[index])) { return; }
    var next = el("spec-" + (index + 1));
    if (next) { next.focus(); } else { trackOut("PASS"); }
  });

  el("pass-button").addEventListener("click", function () { trackOut("PASS"); });
  el("fail-button").addEventListener("click", openDefects);
  el("cancel-button").addEventListener("click", clearUnit);
  el("confirm-fail").addEventListener("click", confirmFail);
  el("cancel-fail").addEventListener("click", function () { closeDefects(); focusWork(); });
  defectFilter.addEventListener("input", renderDefects);
  defectFilter.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      moveDefect(event.key === "ArrowDown" ? 1 : -1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      confirmFail();
    }
  });
  defectList.addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); confirmFail(); }
  });
  defectList.addEventListener("change", function () { defectNote.textContent = ""; });
  el("defect-location").addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); confirmFail(); }
  });
  runSelect.addEventListener("change", function () {
    try { localStorage.setItem("mes.terminal.run." + cfg.station, runSelect.value); } catch (e) { /* ignore */ }
    scan.focus();
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "F8" || event.key === "F9") {
      event.preventDefault();  // never the browser's own meaning, even when nothing is open
      if (!current || defectOpen()) { return; }  // PASS/FAIL shortcuts are off while the defect list is open
      if (event.key === "F8") { trackOut("PASS"); } else { openDefects(); }
    } else if (event.key === "Escape") {
      event.preventDefault();
      if (busy) { return; }
      if (defectOpen()) { closeDefects(); focusWork(); } else { clearUnit(); }
    }
  });

  // the scan field takes the focus back whenever nothing else should have it
  document.addEventListener("click", function (event) {
    var formOpen = current && (current.specs.length || defectOpen());
    if (!formOpen && !event.target.closest("select, a, button, input, #manual-result")) { scan.focus(); }
  });

  loadRuns();
  refreshQueue();
  setInterval(refreshQueue, QUEUE_REFRESH_MS);
  setInterval(loadRuns, RUNS_REFRESH_MS);
  scan.focus();
  // ---- manual SPI/AOI result (degraded mode: the machine's link is down) ---------------------------
  var manual = el("manual-result");
  if (manual) {
    var toggleManual = function () {
      manual.classList.toggle("hidden");
      if (!manual.classList.contains("hidden")) {
        el("manual-sn").value = current ? current.sn : "";
        el("manual-sn").focus();
      } else { scan.focus(); }
    };
    el("manual-toggle").addEventListener("click", toggleManual);
    document.addEventListener("keydown", function (event) {
      if (event.key === "F4") { event.preventDefault(); toggleManual(); }
    });
    manual.addEventListener("submit", function (event) {
      event.preventDefault();
      var verdict = el("manual-verdict").value, code = el("manual-defect").value;
      var body = {eventId: "MANUAL-" + cfg.station + "-" + Date.now() + "-" + Math.random().toString(16).slice(2, 8),
                  eventTime: new Date().toISOString(), type: cfg.inspectionType, sn: el("manual-sn").value.trim(),
                  stationCode: cfg.station, result: verdict,
                  defects: verdict === "FAIL" && code ? [{code: code, location: el("manual-location").value.trim() || null}] : []};
      exclusive(t("Recording the %(type)s result…", {type: cfg.inspectionType}), function () {
        return call("POST", "/integration/inspection-results", body).then(function (r) {
          if (r.status !== 200) { sayError(r.body); return; }
          say(verdict === "PASS" ? "ok" : "fail", '<div class="mes-term-code">' + esc(cfg.inspectionType) + " " + esc(t(verdict)) +
              " " + esc(t("(MANUAL)")) + "</div>" + esc(t("Recorded for %(sn)s.", {sn: body.sn})) +
              (verdict === "FAIL" ? '<div class="mes-term-hint">' + esc(t("Its TrackOut at this step will be FAIL with this defect.")) + "</div>" : ""));
          manual.reset();
          manual.classList.add("hidden");
          scan.focus();
        });
      });
    });
  }
})();
