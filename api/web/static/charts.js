/* Draws the charts of a page with the vendored Chart.js: every <canvas data-chart="ID">
   reads its description from the JSON data block #ID (written by api/web/charts.py), on
   load and in content htmx swaps in. No inline script: the page's CSP stays strict. */
(function () {
  "use strict";
  function formatter(spec) {
    var locale = spec.locale === "vi" ? "vi-VN" : "en-GB";
    if (spec.unit === "money" && spec.currency) {
      var money = new Intl.NumberFormat(locale, { style: "currency", currency: spec.currency,
        notation: "compact", maximumFractionDigits: 1 });
      return function (v) { return money.format(v); };
    }
    if (spec.unit === "percent") {
      var pct = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });
      return function (v) { return pct.format(v) + "\u00a0%"; };
    }
    var num = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
    return function (v) { return num.format(v); };
  }
  function draw(canvas) {
    if (canvas.dataset.drawn || typeof Chart === "undefined") { return; }
    var block = document.getElementById(canvas.dataset.chart);
    if (!block) { return; }
    var spec = JSON.parse(block.textContent);
    var fmt = formatter(spec);
    var valueAxis = spec.horizontal ? "x" : "y";
    var scales = {};
    scales[valueAxis] = { beginAtZero: true, stacked: spec.stacked,
                          ticks: { callback: function (v) { return fmt(v); } } };
    if (spec.integer) { scales[valueAxis].ticks.precision = 0; }  // counts: no 0.5 ticks
    scales[spec.horizontal ? "y" : "x"] = { stacked: spec.stacked };
    canvas.dataset.drawn = "1";
    canvas._chart = new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: spec.datasets },
      options: {
        indexAxis: spec.horizontal ? "y" : "x",
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: scales,
        plugins: {
          legend: { display: spec.datasets.length > 1 },
          tooltip: { callbacks: { label: function (ctx) {
            var v = spec.horizontal ? ctx.parsed.x : ctx.parsed.y;
            return ctx.dataset.label + ": " + fmt(v);
          } } }
        }
      }
    });
  }
  function drawAll(root) {
    (root || document).querySelectorAll("canvas[data-chart]").forEach(draw);
  }
  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (e) { drawAll(e.target); });
})();
