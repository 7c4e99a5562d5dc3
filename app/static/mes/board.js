/* The line board (templates/mes/line_board.html): reads GET /api/v1/boards/<line> every few seconds
   with the Board account's API key from the address's fragment (#key=…), or the session cookie.
   Every value goes in with textContent: codes and reasons typed elsewhere never become markup. */
(function () {
  "use strict";
  var body = document.body;
  var refresh = Math.max(5, parseInt(body.dataset.refresh, 10) || 30) * 1000;
  var match = /(?:^|[#&])key=([^&]+)/.exec(window.location.hash);
  var key = match ? decodeURIComponent(match[1]) : null;
  var chart = null;
  var zone = "UTC";
  var t = MES.t;  // the page's language (common.js; the messages are listed in app/web/i18n.py JS_MESSAGES)

  // counts and hours in the page's language (MES.number, common.js: 12,345); null stays null ("—")
  function num(x, digits) { return x === null || x === undefined ? null : MES.number(x, digits); }
  function el(id) { return document.getElementById(id); }
  function text(id, value) { el(id).textContent = value === null || value === undefined ? "—" : String(value); }
  function time(iso, seconds) {
    var options = { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: zone };
    if (seconds) { options.second = "2-digit"; }
    return new Date(iso).toLocaleTimeString("en-GB", options);
  }
  function rows(id, items, cells) {
    var tbody = el(id);
    tbody.textContent = "";
    items.forEach(function (item) {
      var tr = document.createElement("tr");
      cells(item).forEach(function (cell) {
        var td = document.createElement("td");
        td.textContent = cell.text === undefined ? String(cell) : cell.text;
        if (cell.cls) { td.className = cell.cls; }
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
    if (!items.length) {
      var tr = document.createElement("tr"), td = document.createElement("td");
      td.textContent = "—"; tr.appendChild(td); tbody.appendChild(tr);
    }
  }
  function message(value) {
    var box = el("board-message");
    box.hidden = !value;
    box.textContent = value || "";
  }

  function show(data) {
    zone = data.timeZone || "UTC";
    text("board-line-name", data.line.name);
    text("board-shift", data.shift.label);
    text("board-clock", time(data.now));
    var out = data.output;
    text("board-done", num(out.done));
    text("board-plan", num(out.plan, 0));
    text("board-shift-plan", num(out.shiftPlan, 0));
    text("board-rate", data.line.targetPerHour ? t("%(count)s / h", { count: num(data.line.targetPerHour) }) : t("no target"));
    var tile = el("tile-output");
    tile.classList.remove("board-good", "board-warn", "board-bad");
    if (out.plan) { tile.classList.add(out.done >= 0.95 * out.plan ? "board-good" : out.done >= 0.8 * out.plan ? "board-warn" : "board-bad"); }
    rows("board-runs", data.runs, function (r) { return [r.runNo, r.productCode, num(r.done) + " / " + num(r.planQty), num(r.wip)]; });
    rows("board-stations", data.stations, function (s) {
      return [s.code, num(s.pass), { text: num(s.fail), cls: s.fail ? "board-fail" : "" }, num(s.inStation)];
    });
    rows("board-fails", data.lastFails, function (f) {
      return [time(f.at), f.sn, f.station, { text: f.defects.join(", "), cls: "board-fail" }];
    });
    var holds = data.holds.runs.map(function (r) { return [t("run %(run)s", { run: r.runNo }), t("OQC failed"), t("%(hours)s h", { hours: num(r.ageHours) })]; })
      .concat(data.holds.units.map(function (u) { return [u.sn, u.defectCodes.join(", "), t("%(hours)s h", { hours: num(u.ageHours) })]; }));
    rows("board-holds", holds, function (h) { return h; });
    var count = el("board-hold-count");
    count.textContent = num(holds.length);
    count.classList.toggle("board-alert", holds.length > 0);
    showReels(data.msdReels || []);
    var spc = data.spcAlarms || [];  // OPEN SPC alarms of the line's boards: a drifting process
    rows("board-spc", spc, function (a) {
      return [time(a.raisedAt), a.specName, { text: "R" + a.rule, cls: "board-fail" }, a.sn];
    });
    var spcCount = data.spcAlarmCount == null ? spc.length : data.spcAlarmCount;  // the rows are the newest 20
    el("board-spc-count").textContent = num(spcCount);
    el("board-spc-count").classList.toggle("board-alert", spcCount > 0);
    drawChart(out.perHour);
    text("board-updated", time(new Date().toISOString(), true));
    body.dataset.loaded = "1";
  }

  /* Moisture-sensitive reels on the line whose floor life is spent (red) or ends within the warning
     window (amber): slot, reel, what is left. The words come translated from the page (data-*). */
  function showReels(reels) {
    var tile = el("tile-msd");
    rows("board-msd", reels, function (r) {
      var spent = r.clock.status === "EXPIRED";
      return [r.slotCode, r.materialCode + " " + r.lotNo,
              { text: spent ? tile.dataset.spent : tile.dataset.left.replace("%(hours)s", num(r.clock.remainingHours, 1)),
                cls: spent ? "board-fail" : "board-amber" }];
    });
    var count = el("board-msd-count");
    count.textContent = num(reels.length);
    count.classList.toggle("board-alert", reels.some(function (r) { return r.clock.status === "EXPIRED"; }));
    count.classList.toggle("board-amber-count", reels.length > 0);
  }

  function drawChart(perHour) {
    if (typeof Chart === "undefined") { return; }
    var labels = perHour.map(function (b) { return b.bucket.slice(11); });
    var config = {
      type: "bar",
      data: { labels: labels, datasets: [
        { type: "bar", label: t("Output"), data: perHour.map(function (b) { return b.output; }), backgroundColor: "#3d8bd9" },
        { type: "line", label: t("Plan"), data: perHour.map(function (b) { return b.plan; }), borderColor: "#f0c040",
          backgroundColor: "#f0c040", pointRadius: 0, borderDash: [8, 6] }] },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
                 locale: document.documentElement.lang || "en",  // numbers in the page's language
                 plugins: { legend: { labels: { color: "#e8edf3", font: { size: 20 } } } },
                 scales: { x: { ticks: { color: "#e8edf3", font: { size: 18 } } },
                           y: { beginAtZero: true, ticks: { color: "#e8edf3", font: { size: 18 } }, grid: { color: "#2c3a4a" } } } }
    };
    if (chart) { chart.data = config.data; chart.update(); } else { chart = new Chart(el("board-chart"), config); }
  }

  function load() {
    var headers = { "Accept": "application/json" };
    if (key) { headers.Authorization = "Bearer " + key; }
    fetch(body.dataset.api, { headers: headers, credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (payload) { return { status: response.status, payload: payload }; });
      })
      .then(function (answer) {
        if (answer.status === 200) { message(null); show(answer.payload.data); return; }
        var error = answer.payload.error || {};
        if (answer.status === 401 || answer.status === 403) {
          message(t("This board needs the API key of a Board account: open %(address)s#key=… (ask the administrator).",
                    { address: window.location.pathname }) + " " + (error.message || ""));
        } else {
          message((error.code || answer.status) + ": " + (error.message || t("the board could not be read")));
        }
      })
      .catch(function () { message(t("The server does not answer: retrying every %(seconds)s s.", { seconds: refresh / 1000 })); });
  }
  load();
  window.setInterval(load, refresh);
})();
