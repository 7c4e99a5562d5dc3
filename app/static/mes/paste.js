/* LineMES Loading Terminal, solder-paste panel (issue 18 paste timers): the jar bound to the line, its times
 * (out of the refrigerator, opened, on the stencil) and the time left inside its windows. Scan the jar +
 * Enter checks it before use; Thaw started / Opened / On stencil (Alt+T / Alt+O / Alt+S) record a time, now
 * or the HH:MM typed (plant time). The paste service judges; refusals show their code and what to do.
 */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("loading-config").textContent);
  var L = MES.loading, t = MES.t, esc = L.esc;
  var el = function (id) { return document.getElementById(id); };
  var lot = el("paste-lot"), at = el("paste-at"), clock = el("paste-clock");
  var path = "/lines/" + encodeURIComponent(cfg.lineCode) + "/solder-paste";
  var shown = null, fetchedAt = 0;

  function duration(minutes) {
    minutes = Math.max(0, Math.floor(minutes));
    return minutes >= 60 ? t("%(h)s h %(m)s min", {h: Math.floor(minutes / 60), m: ("0" + minutes % 60).slice(-2)})
                         : t("%(m)s min", {m: minutes});
  }
  function timeOf(iso) {
    return iso ? L.plantTime(new Date(iso)) : "—";
  }
  /* The clock line: what the jar may do now and how long is left (counted down between refreshes). */
  function clockText(b) {
    var c = b.clock, left = c.remainingMinutes === null ? null : c.remainingMinutes - (Date.now() - fetchedAt) / 60000;
    if (c.status === "NO_WINDOWS") { return t("No paste windows for this lot (its material sets none)."); }
    if (c.status === "NOT_THAWED") { return t("No thaw start recorded: record when the jar left the refrigerator."); }
    if (c.status === "THAWING") { return t("Thawing: %(time)s left before the jar may be opened.", {time: duration(left)}); }
    if (c.status === "EXPIRED") { return t(c.window === "open" ? "Open time over: take the paste off the line." : "Stencil time over: remove the paste and apply fresh paste."); }
    if (left === null) { return t("Thawed: usable."); }
    return t(c.window === "open" ? "Usable: %(time)s of open time left." : "Usable: %(time)s of stencil time left.", {time: duration(left)});
  }
  function render() {
    var b = shown;
    el("paste-lot-bound").textContent = b ? b.lotNo + (b.materialCode ? " · " + b.materialCode : "") : "";
    if (!b) { clock.textContent = t("No paste is bound to this line."); clock.setAttribute("data-status", ""); return; }
    clock.textContent = clockText(b);
    clock.setAttribute("data-status", b.usable ? (b.clock.status === "NO_WINDOWS" ? "NONE" : "OK") : b.clock.status);
    clock.className = "mes-paste-clock mes-paste-" + (b.usable ? "ok" : "bad");
    Array.prototype.forEach.call(document.querySelectorAll("#paste-times [data-time]"), function (td) {
      td.textContent = timeOf(b[td.getAttribute("data-time")]);
    });
    var w = b.windows, parts = [];
    if (w.minThawHours !== null) { parts.push(t("thaw ≥ %(h)s h", {h: w.minThawHours})); }
    if (w.maxOpenHours !== null) { parts.push(t("open ≤ %(h)s h", {h: w.maxOpenHours})); }
    if (w.maxStencilHours !== null) { parts.push(t("stencil ≤ %(h)s h", {h: w.maxStencilHours})); }
    el("paste-windows").textContent = parts.join(" · ") || "—";
  }
  function show(data) { shown = data; fetchedAt = Date.now(); render(); }
  function refresh() {
    return L.call("GET", path).then(function (r) {
      if (r.status === 200) { show(r.body.data.binding); }
    });
  }
  function scanned() {
    var text = lot.value.trim();
    if (!text) {
      L.say("error", '<div class="mes-term-code">' + esc(t("PASTE")) + "</div>" + esc(t("Scan the paste jar's lot first.")));
      lot.focus();
    }
    return text;
  }
  function check() {
    var text = scanned();
    if (!text) { return; }
    lot.value = "";  // like every scan field: the next scan starts empty
    L.call("POST", path + "/verify", {lotNo: text}).then(function (r) {
      if (r.status !== 200) { L.sayError(r.body); L.log(t("paste %(lot)s refused", {lot: text})); refresh(); return; }
      show(r.body.data);
      L.say("ok", '<div class="mes-term-code">' + esc(t("PASS")) + "</div>" + esc(t("Paste %(lot)s may be used.", {lot: text})) +
            '<div class="mes-term-hint">' + esc(clockText(shown)) + "</div>");
      L.log(t("paste %(lot)s checked", {lot: text}));
    });
  }
  var LABELS = {THAW_START: "Thaw started", OPENED: "Opened", ON_STENCIL: "On stencil"};
  function record(kind) {
    var text = scanned();
    if (!text) { return; }
    var body = {lotNo: text, kind: kind};
    if (at && at.value.trim()) { body.at = at.value.trim(); }
    lot.value = "";
    L.call("POST", path + "/times", body).then(function (r) {
      if (r.status !== 201) { L.sayError(r.body); L.log(t("paste %(lot)s refused", {lot: text})); refresh(); return; }
      show(r.body.data);
      L.say("ok", '<div class="mes-term-code">' + esc(t(LABELS[kind])) + " " + esc(timeOf(r.body.data.at)) + "</div>" +
            esc(clockText(shown)));
      L.log(t("paste %(lot)s: %(what)s %(time)s", {lot: text, what: t(LABELS[kind]), time: timeOf(r.body.data.at)}));
      if (at) { at.value = ""; }
      lot.focus();
    });
  }

  lot.addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); check(); }
  });
  if (at) {
    at.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); lot.focus(); }
    });
  }
  el("paste-form").addEventListener("submit", function (event) { event.preventDefault(); });
  Array.prototype.forEach.call(document.querySelectorAll("[data-paste-kind]"), function (button) {
    button.addEventListener("click", function () { record(button.getAttribute("data-paste-kind")); });
  });
  refresh();
  setInterval(render, 30000);     // the time left counts down…
  setInterval(refresh, 300000);   // …and the server's word is fetched again every 5 minutes
})();
