/* Footfall dashboards: draws the charts the page describes in its JSON block (the same
   numbers as the page's tables, already translated and with suppressed cells as null).
   Without chart.js (window.Chart) the tables alone are shown. */
(function () {
  "use strict";
  var source = document.getElementById("footfall-charts");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  var specs;
  try {
    specs = JSON.parse(source.textContent);
  } catch (err) {
    return;
  }
  var PALETTE = {
    current: "#0a7d5a",
    previous: "#9aa5b4",
    usual: "#e0a160",
    bars: ["#0a7d5a", "#2f9e77", "#5bb894", "#8fd0b3", "#c2e6d4"]
  };
  var lang = document.documentElement.lang || "en";
  var font = getComputedStyle(document.body).fontFamily;
  window.Chart.defaults.font.family = font;
  window.Chart.defaults.font.size = 12;
  window.Chart.defaults.color = "#5d6878";
  window.Chart.defaults.animation = false;

  function dataset(spec, ds, index) {
    var colour = PALETTE[ds.role] || PALETTE.bars[index % PALETTE.bars.length];
    var out = {
      label: ds.label,
      data: ds.data,
      borderColor: colour,
      backgroundColor: spec.type === "line" ? colour : (ds.colours || colour),
      borderWidth: spec.type === "line" ? 2 : 0,
      pointRadius: spec.type === "line" ? 2 : 0,
      spanGaps: false,
      tension: 0.25
    };
    if (ds.role === "previous" || ds.role === "usual") {
      out.borderDash = [6, 4];
      if (spec.type === "bar") {
        out.backgroundColor = colour;
      }
    }
    return out;
  }

  function format(value, unit) {
    if (value === null || value === undefined) {
      return spec_suppressed;
    }
    if (unit === "percent") {
      return value.toFixed(1) + "%";
    }
    return Number(value).toLocaleString(lang);
  }
  var spec_suppressed = source.getAttribute("data-suppressed") || "< 10";

  function scales(spec) {
    // The category axis keeps its labels; the value axis starts at 0 and shows the unit.
    var category = { grid: { display: false }, ticks: { autoSkip: true, maxRotation: 0 } };
    var value = {
      beginAtZero: true,
      grid: { color: "#eef1f5" },
      ticks: {
        precision: spec.unit ? undefined : 0,
        callback: function (v) {
          return spec.unit === "percent" ? v + "%" : Number(v).toLocaleString(lang);
        }
      }
    };
    return spec.horizontal ? { x: value, y: category } : { x: category, y: value };
  }

  specs.forEach(function (spec) {
    var canvas = document.getElementById(spec.canvas);
    if (!canvas) {
      return;
    }
    canvas.parentElement.classList.add("drawn");
    new window.Chart(canvas, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (ds, i) { return dataset(spec, ds, i); })
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        indexAxis: spec.horizontal ? "y" : "x",
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { display: spec.datasets.length > 1, position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                return ctx.dataset.label + ": " + format(ctx.raw, spec.unit);
              }
            }
          }
        },
        scales: scales(spec)
      }
    });
  });
})();
