/* LineMES dashboard: draws the report figures the page carries (script#dashboard-data) with the
   vendored Chart.js. A click on a chart opens its report with the same filters (data-report). */
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var t = MES.t;  // the page's language (common.js; the messages are listed in app/web/i18n.py JS_MESSAGES)
  var palette = ["#337ab7", "#5cb85c", "#f0ad4e", "#d9534f", "#5bc0de", "#8e6bbf", "#777777"];
  Chart.defaults.font.size = 14;
  Chart.defaults.animation = false;
  Chart.defaults.locale = document.documentElement.lang || "en";  // numbers on axes and tooltips in the page's language

  // tooltips of the percentage series (plotted 0–100): "95.3%" as the KPIs and reports write it (MES.percent)
  function percentLabel(ctx) {
    return ctx.dataset.label + ": " + (ctx.parsed.y === null ? "—" : MES.percent(ctx.parsed.y / 100));
  }

  function openReport(canvas) {
    var card = canvas.closest(".mes-chart-card");
    if (card && card.dataset.report) { window.location.href = card.dataset.report; }
  }

  function draw(id, config, empty) {
    var canvas = document.getElementById(id);
    if (!canvas) { return null; }
    if (empty) {  // nothing to draw: say so instead of an empty grid
      var note = document.createElement("p");
      note.className = "mes-muted mes-chart-empty";
      note.textContent = empty;
      canvas.replaceWith(note);
      return null;
    }
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false,
                                     onClick: function () { openReport(canvas); } }, config.options || {});
    canvas.style.cursor = "pointer";
    var chart = new Chart(canvas, config);
    canvas.dataset.drawn = "1";
    return chart;
  }

  // output per bucket (bars) against the plan (line)
  draw("chart-output", {
    type: "bar",
    data: {
      labels: data.output.map(function (b) { return b.bucket; }),
      datasets: [
        { type: "bar", label: t("Output"), data: data.output.map(function (b) { return b.output; }), backgroundColor: palette[0] },
        { type: "bar", label: t("Scrapped"), data: data.output.map(function (b) { return b.scrapped; }), backgroundColor: palette[3] },
        { type: "line", label: t("Plan"), data: data.output.map(function (b) { return b.plan; }), borderColor: palette[2],
          backgroundColor: palette[2], pointRadius: 0, borderDash: [6, 4], spanGaps: true }
      ]
    },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: t("boards") } } } }
  });

  // WIP by line and step, stacked by status
  var steps = data.wip.map(function (r) { return r.lineCode + " " + r.stepNo + " " + r.operationCode; });
  var statuses = [["queued", t("Queued")], ["inStation", t("In station")], ["outFailed", t("Failed, waiting")], ["onHold", t("On hold")]];
  draw("chart-wip", {
    type: "bar",
    data: {
      labels: steps,
      datasets: statuses.map(function (s, i) {
        return { label: s[1], data: data.wip.map(function (r) { return r[s[0]]; }), backgroundColor: [palette[0], palette[4], palette[3], palette[5]][i] };
      })
    },
    options: { indexAxis: "y", scales: { x: { stacked: true, beginAtZero: true }, y: { stacked: true } } }
  }, data.wip.length ? null : t("No board in work now."));

  // first-pass yield trend: the rolled throughput yield of each line per bucket
  var buckets = [];
  data.fpyTrend.forEach(function (r) { if (buckets.indexOf(r.bucket) < 0) { buckets.push(r.bucket); } });
  var lines = [];
  data.fpyTrend.forEach(function (r) { if (lines.indexOf(r.lineCode) < 0) { lines.push(r.lineCode); } });
  draw("chart-fpy", {
    type: "line",
    data: {
      labels: buckets,
      datasets: lines.map(function (line, i) {
        return {
          label: line, borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length], spanGaps: true,
          data: buckets.map(function (b) {
            var row = data.fpyTrend.find(function (r) { return r.bucket === b && r.lineCode === line; });
            return row ? Math.round(row.rty * 1000) / 10 : null;
          })
        };
      })
    },
    options: { scales: { y: { suggestedMin: 80, max: 100, title: { display: true, text: t("RTY %") } } },
               plugins: { tooltip: { callbacks: { label: percentLabel } } } }
  }, data.fpyTrend.length ? null : t("No board was tracked out in this period."));

  // defect Pareto: quantity per code (bars) and the cumulative share (line, right axis)
  draw("chart-pareto", {
    type: "bar",
    data: {
      labels: data.pareto.map(function (p) { return p.code; }),
      datasets: [
        { type: "bar", label: t("Defects"), data: data.pareto.map(function (p) { return p.qty; }), backgroundColor: palette[3], yAxisID: "y" },
        { type: "line", label: t("Cumulative %"), data: data.pareto.map(function (p) { return Math.round(p.cumulativeShare * 1000) / 10; }),
          borderColor: palette[0], backgroundColor: palette[0], yAxisID: "y2" }
      ]
    },
    options: { scales: { y: { beginAtZero: true, grace: "10%", title: { display: true, text: t("defects") } },
                         y2: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: "%" } } },
               plugins: { tooltip: { callbacks: { label: function (ctx) {
                 return ctx.dataset.yAxisID === "y2" ? percentLabel(ctx) : ctx.dataset.label + ": " + MES.number(ctx.parsed.y);
               } } } } }
  }, data.pareto.length ? null : t("No defect recorded in this period."));
  document.body.dataset.chartsReady = "1";
})();
