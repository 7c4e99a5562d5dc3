/* LineMES SPC chart: the points the page carries (script#spc-data) against their limits, drawn with the
   vendored Chart.js; a point where a run rule fired is red, a point where a TrackOut raised an SPC alarm is
   a red triangle, and a click on a point opens the trace of its (first) board. */
(function () {
  "use strict";
  var source = document.getElementById("spc-data");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var t = window.MES && window.MES.t ? window.MES.t : function (text) { return text; };
  Chart.defaults.font.size = 14;
  Chart.defaults.animation = false;
  Chart.defaults.locale = document.documentElement.lang || "en";  // numbers on axes and tooltips in the page's language
  var labels = data.points.map(function (p) { return String(p.index + 1); });
  var traceBase = document.body.dataset.traceBase || "/trace/units/";

  function flat(value, label, color, dash) {
    return { type: "line", label: label, data: data.points.map(function () { return value; }), borderColor: color,
             backgroundColor: color, pointRadius: 0, borderDash: dash || [], borderWidth: 1.5 };
  }

  function draw(id, values, center, lcl, ucl, title, withRules) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    var datasets = [{
      type: "line", label: title, data: values, borderColor: "#337ab7", backgroundColor: "#337ab7", spanGaps: true,
      pointRadius: data.points.map(function (p) { return withRules && p.alarms && p.alarms.length ? 8 : 4; }),
      pointStyle: data.points.map(function (p) { return withRules && p.alarms && p.alarms.length ? "triangle" : "circle"; }),
      pointBackgroundColor: data.points.map(function (p) {
        return withRules && (p.rules.length || (p.alarms && p.alarms.length)) ? "#d9534f" : "#337ab7";
      })
    }];
    if (center !== null && center !== undefined) {
      datasets.push(flat(center, "CL", "#5cb85c"));
      datasets.push(flat(ucl, "UCL", "#d9534f", [6, 4]));
      datasets.push(flat(lcl, "LCL", "#d9534f", [6, 4]));
    }
    var chart = new Chart(canvas, {
      data: { labels: labels, datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false,
        plugins: { legend: { position: "bottom" } },
        onClick: function (event, elements) {
          if (!elements.length) { return; }
          var point = data.points[elements[0].index];
          if (point && point.sns.length) { window.location.href = traceBase + encodeURIComponent(point.sns[0]); }
        }
      }
    });
    canvas.style.cursor = "pointer";
    canvas.dataset.drawn = "1";
    return chart;
  }

  var limits = data.limits || {};
  draw("spc-chart", data.points.map(function (p) { return p.value; }), limits.center, limits.lcl, limits.ucl,
       data.spec.name, true);
  draw("spc-dispersion", data.points.map(function (p) { return p.dispersion; }), limits.dispersionCenter,
       limits.dispersionLcl, limits.dispersionUcl, t("Dispersion"), false);
}());
