// Staffing charts with the vendored uPlot: a stepped line per interval, with the intervals
// where the scheduled agents fall short of (or exceed) the requirement shaded.
(function () {
  "use strict";
  var d = JSON.parse(document.getElementById("staffing-data").textContent);
  if (!d.x.length) return;
  var step = d.x.length > 1 ? d.x[1] - d.x[0] : 1800;
  var x = d.x.concat([d.x[d.x.length - 1] + step]);  // the last interval's end
  function last(values) { return values.concat([values[values.length - 1]]); }
  var stepped = uPlot.paths.stepped({ align: 1 });
  function width(box) { return Math.max(320, box.clientWidth - 16); }
  // The plan's intervals are UTC (as the table): draw the axis in UTC, not the browser's zone.
  function utc(ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); }

  function shade(u) {
    var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
    ctx.save();
    for (var i = 0; i < d.x.length; i++) {
      var gap = d.scheduled[i] - d.required[i];
      if (gap === 0) continue;
      var left = u.valToPos(x[i], "x", true), right = u.valToPos(x[i + 1], "x", true);
      ctx.fillStyle = gap < 0 ? "rgba(217,45,32,.18)" : "rgba(18,183,106,.14)";
      ctx.fillRect(left, top, right - left, height);
    }
    ctx.restore();
  }

  var agents = document.getElementById("staffing-agents");
  new uPlot({ width: width(agents), height: 280, tzDate: utc, scales: { x: { time: true } },
              hooks: { drawClear: [shade] },
              series: [{}, { label: "Required (after shrinkage)", stroke: "#d92d20", width: 2, paths: stepped, points: { show: false } },
                       { label: "Scheduled", stroke: "#2754c5", width: 2, paths: stepped, points: { show: false },
                         fill: "rgba(39,84,197,.08)" }],
              axes: [{}, { label: "agents", size: 50 }] },
            [x, last(d.required), last(d.scheduled)], agents);

  var pct = function (u, v) { return v == null ? "–" : v.toFixed(1) + "%"; };
  var quality = document.getElementById("staffing-quality");
  new uPlot({ width: width(quality), height: 220, tzDate: utc, scales: { x: { time: true }, y: { range: [0, 100] } },
              series: [{}, { label: "Service level", stroke: "#12b76a", width: 2, paths: stepped, value: pct, points: { show: false } },
                       { label: "Occupancy", stroke: "#f79009", width: 2, paths: stepped, value: pct, points: { show: false } },
                       { label: "SL target", stroke: "#12b76a", dash: [6, 4], width: 1, value: pct, points: { show: false } },
                       { label: "Max occupancy", stroke: "#f79009", dash: [6, 4], width: 1, value: pct, points: { show: false } }],
              axes: [{}, { values: function (u, vals) { return vals.map(function (v) { return v + "%"; }); }, size: 50 }] },
            [x, last(d.service_level), last(d.occupancy), x.map(function () { return d.target_sl; }),
             x.map(function () { return d.max_occupancy; })], quality);
})();
