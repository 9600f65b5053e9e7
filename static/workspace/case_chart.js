/* The case summary's chart: measures over time (Chart.js), with each treatment as a band on the time axis,
 * injections as dashed lines, the baseline walking pain and its MCID band, and follow-up answers as markers
 * (chartjs-plugin-annotation). The data come from the page's json_script block, so no inline script is needed
 * (the CSP forbids it); the table under the chart carries the same numbers for screen readers and print. */
(function () {
  "use strict";

  var DAY_MS = 86400000;
  var COLOURS = {
    pain_walking: "#b8336a",
    pain_rest: "#1f6fb2",
    moxfq_walking_standing: "#2f7d32",
    moxfq_pain: "#8a5a00",
    moxfq_social: "#6a3d9a",
  };
  var BAND_COLOURS = ["rgba(31,111,178,0.10)", "rgba(47,125,50,0.12)", "rgba(138,90,0,0.12)", "rgba(106,61,154,0.12)"];

  function dayNumber(iso) {
    return Math.round(Date.parse(iso + "T00:00:00Z") / DAY_MS);
  }

  function dayLabel(number) {
    var locale = document.documentElement.lang || "en-GB";
    return new Date(number * DAY_MS).toLocaleDateString(locale, {
      day: "numeric", month: "short", year: "numeric", timeZone: "UTC",
    });
  }

  function annotations(data) {
    var result = {};
    data.treatments.forEach(function (treatment, index) {
      result["treatment-" + index] = {
        type: "box",
        drawTime: "beforeDatasetsDraw",
        xScaleID: "x",
        xMin: dayNumber(treatment.start),
        xMax: Math.max(dayNumber(treatment.end), dayNumber(treatment.start) + 1),
        backgroundColor: BAND_COLOURS[index % BAND_COLOURS.length],
        borderWidth: 0,
        label: {
          display: true,
          content: treatment.label,
          position: { x: "start", y: "start" },
          font: { size: 11 },
          color: "#333",
        },
      };
    });
    data.injections.forEach(function (injection, index) {
      result["injection-" + index] = {
        type: "line",
        xScaleID: "x",
        xMin: dayNumber(injection.date),
        xMax: dayNumber(injection.date),
        borderColor: "#444",
        borderDash: [4, 4],
        borderWidth: 2,
      };
    });
    var baseline = data.baselines.pain_walking;
    var mcid = data.mcid.pain_walking;
    if (baseline !== undefined) {
      result["baseline-pain_walking"] = {
        type: "line", yScaleID: "nrs", yMin: baseline, yMax: baseline,
        borderColor: COLOURS.pain_walking, borderDash: [2, 3], borderWidth: 1,
      };
      if (mcid) {
        result["mcid-pain_walking"] = {
          type: "box", yScaleID: "nrs", yMin: Math.max(baseline - mcid, 0), yMax: baseline,
          backgroundColor: "rgba(184,51,106,0.08)", borderWidth: 0, drawTime: "beforeDatasetsDraw",
        };
      }
    }
    return result;
  }

  function datasets(data) {
    var sets = data.measures.map(function (measure) {
      return {
        label: measure.label,
        measureKey: measure.key,
        yAxisID: measure.scale === "nrs" ? "nrs" : "moxfq",
        borderColor: COLOURS[measure.key],
        backgroundColor: COLOURS[measure.key],
        borderDash: measure.scale === "nrs" ? [] : [6, 3],
        pointRadius: 4,
        data: measure.points.map(function (point) { return { x: dayNumber(point.x), y: point.y }; }),
      };
    });
    var followUps = [];
    data.follow_ups.forEach(function (answer) {
      Object.keys(answer.values).forEach(function (key) {
        followUps.push({ x: dayNumber(answer.date), y: answer.values[key], key: key });
      });
    });
    if (followUps.length) {
      sets.push({
        label: "Follow-up answers",
        measureKey: "follow_up",
        type: "scatter",
        yAxisID: "nrs",
        pointStyle: "rectRot",
        pointRadius: 7,
        borderColor: "#000",
        backgroundColor: "#fff",
        data: followUps,
      });
    }
    return sets;
  }

  function draw() {
    var canvas = document.getElementById("case-chart");
    var source = document.getElementById("case-chart-data");
    if (!canvas || !source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    var hasMoxfq = data.measures.some(function (measure) { return measure.scale === "moxfq"; });
    var chart = new window.Chart(canvas, {
      type: "line",
      data: { datasets: datasets(data) },
      options: {
        animation: false,
        maintainAspectRatio: false,
        parsing: true,
        scales: {
          x: { type: "linear", ticks: { callback: dayLabel, maxTicksLimit: 8 }, title: { display: true, text: "Date" } },
          nrs: { type: "linear", position: "left", min: 0, max: 10, title: { display: true, text: "Pain (NRS 0–10)" } },
          moxfq: {
            type: "linear", position: "right", min: 0, max: 100, display: hasMoxfq,
            grid: { drawOnChartArea: false }, title: { display: true, text: "MOxFQ (0–100)" },
          },
        },
        plugins: {
          annotation: { annotations: annotations(data) },
          tooltip: { callbacks: { title: function (items) { return items.length ? dayLabel(items[0].parsed.x) : ""; } } },
        },
      },
    });
    window.addEventListener("beforeprint", function () { chart.resize(); });
    window.addEventListener("afterprint", function () { chart.resize(); });
    canvas.dataset.ready = "true";
  }

  function printButton() {
    var button = document.getElementById("print-summary");
    if (button) button.addEventListener("click", function () { window.print(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    printButton();
    draw();
  });
})();
