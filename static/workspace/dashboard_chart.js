/* The outcomes dashboard's chart: complete, partial and no relief per rung and alternative, stacked (Chart.js).
 * Data from the page's json_script block; the table under the chart has the same numbers with their n. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var canvas = document.getElementById("outcomes-chart");
    var source = document.getElementById("outcomes-chart-data");
    if (!canvas || !source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: "Complete relief", data: data.complete, backgroundColor: "#2f7d32" },
          { label: "Partial relief", data: data.partial, backgroundColor: "#c98a00" },
          { label: "No relief", data: data.none, backgroundColor: "#b8336a" },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: { x: { stacked: true }, y: { stacked: true, ticks: { precision: 0 }, title: { display: true, text: "Treatments assessed" } } },
      },
    });
    canvas.dataset.ready = "true";
  });
})();
