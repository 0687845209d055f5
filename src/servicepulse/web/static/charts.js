// Trend charts drawn with uPlot (vendored in /static/vendor/uplot, MIT licence).
(function () {
  "use strict";
  var palette = ["#2754c5", "#d92d20", "#12b76a", "#f79009", "#7a5af8", "#0ba5ec",
                 "#ee46bc", "#667085", "#84cc16", "#b42318", "#155eef", "#f63d68"];

  function toEpoch(label) { return Date.parse(label + "T00:00:00Z") / 1000; }

  // durations as servicepulse.kpi.display writes them: "45 s", "3.2 min", "11.4 h", "2.1 d"
  function duration(seconds) {
    var size = Math.abs(seconds), sign = seconds < 0 ? "−" : "";
    if (Math.round(size) < 60) return sign + (size < 9.95 ? size.toFixed(1) : size.toFixed(0)) + " s";
    if (Number((size / 60).toFixed(1)) < 60) return sign + (size / 60).toFixed(1) + " min";
    if (Number((size / 3600).toFixed(1)) < 24) return sign + (size / 3600).toFixed(1) + " h";
    return sign + (size / 86400).toFixed(1) + " d";
  }

  function draw(container, labels, series, unit, height) {
    if (!container || !labels.length) {
      if (container) container.textContent = "No data in this window.";
      return;
    }
    var data = [labels.map(toEpoch)];
    var config = [{}];
    series.forEach(function (s, i) {
      data.push(s.values);
      config.push({ label: s.name, stroke: palette[i % palette.length], width: 2,
                    spanGaps: false, points: { size: 5 } });
    });
    var fmt = unit === "percent" ? function (u, v) { return v == null ? "–" : v.toFixed(1) + "%"; }
            : unit === "seconds" ? function (u, v) { return v == null ? "–" : duration(v); }
            : function (u, v) { return v == null ? "–" : (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)); };
    config.slice(1).forEach(function (s) { s.value = fmt; });
    var width = Math.max(320, container.clientWidth - 16);
    new uPlot({ width: width, height: height || 300, series: config,
                axes: [{}, { values: function (u, vals) { return vals.map(function (v) { return fmt(u, v); }); }, size: 70 }],
                scales: { x: { time: true } } }, data, container);
  }

  var trend = document.getElementById("trend-data");
  if (trend) {
    var t = JSON.parse(trend.textContent);
    draw(document.getElementById("trend-chart"), t.labels, t.series, t.unit);
  }
  var agent = document.getElementById("agent-trend-data");
  if (agent) {
    var a = JSON.parse(agent.textContent);
    var box = document.getElementById("agent-trend");
    var units = { csat: "percent", fcr: "percent", aht: "seconds", frt_within_target: "percent" };
    var titles = { csat: "CSAT %", fcr: "FCR %", aht: "Handle time",
                   frt_within_target: "First response within target %" };
    Object.keys(a.series).forEach(function (name) {
      var div = document.createElement("div");
      div.className = "chart";
      var h = document.createElement("h3");
      h.textContent = titles[name] || name;
      div.appendChild(h);
      box.appendChild(div);
      draw(div, a.labels, [{ name: titles[name] || name, values: a.series[name] }], units[name], 180);
    });
  }
})();
