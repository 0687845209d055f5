// The intraday reforecast's charts (web/routes/workforce.py, /staffing/today) with the vendored uPlot:
// contacts per interval (forecast, actual so far, reforecast) and agents required against
// scheduled, with a line at the moment the reforecast was made.
(function () {
  "use strict";
  var d = JSON.parse(document.getElementById("reforecast-data").textContent);
  if (!d.x.length) return;
  var step = d.x.length > 1 ? d.x[1] - d.x[0] : 1800;
  var x = d.x.concat([d.x[d.x.length - 1] + step]);
  function last(values) { return values.concat([values[values.length - 1]]); }
  var stepped = uPlot.paths.stepped({ align: 1 });
  function width(box) { return Math.max(300, box.clientWidth - 16); }
  // the organisation's local times, as the table
  function local(ts) { return uPlot.tzDate(new Date(ts * 1e3), d.timezone); }
  function now(u) {
    var ctx = u.ctx, left = u.valToPos(d.at, "x", true);
    ctx.save();
    ctx.strokeStyle = "#1d2433"; ctx.setLineDash([4, 4]); ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(left, u.bbox.top); ctx.lineTo(left, u.bbox.top + u.bbox.height);
    ctx.stroke(); ctx.restore();
  }
  function shade(u) {
    var ctx = u.ctx;
    ctx.save();
    for (var i = 0; i < d.x.length; i++) {
      var gap = d.scheduled[i] - d.required[i];
      if (gap === 0) continue;
      var left = u.valToPos(x[i], "x", true), right = u.valToPos(x[i + 1], "x", true);
      ctx.fillStyle = gap < 0 ? "rgba(217,45,32,.18)" : "rgba(18,183,106,.14)";
      ctx.fillRect(left, u.bbox.top, right - left, u.bbox.height);
    }
    ctx.restore();
  }
  var line = function (label, color, extra) {
    var s = { label: label, stroke: color, width: 2, paths: stepped, points: { show: false } };
    for (var k in extra || {}) s[k] = extra[k];
    return s;
  };
  var volume = document.getElementById("reforecast-volume");
  new uPlot({ width: width(volume), height: 240, tzDate: local, scales: { x: { time: true } },
              hooks: { draw: [now] },
              series: [{}, line("Forecast", "#98a2b3", { dash: [6, 4] }), line("Actual", "#1d2433"),
                       line("Reforecast", "#2754c5")],
              axes: [{}, { label: "contacts", size: 50 }] },
            [x, last(d.forecast), last(d.actual), last(d.reforecast)], volume);
  var agents = document.getElementById("reforecast-agents");
  new uPlot({ width: width(agents), height: 240, tzDate: local, scales: { x: { time: true } },
              hooks: { drawClear: [shade], draw: [now] },
              series: [{}, line("Required", "#d92d20"), line("Scheduled", "#2754c5", { fill: "rgba(39,84,197,.08)" })],
              axes: [{}, { label: "agents", size: 50 }] },
            [x, last(d.required), last(d.scheduled)], agents);
})();
