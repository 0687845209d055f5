// Live wallboard: server-sent events from /api/v1/live redraw the tiles and tables.
(function () {
  "use strict";
  var statusEl = document.getElementById("wb-status");
  var updatedEl = document.getElementById("wb-updated");

  function duration(s) {
    if (s === null || s === undefined) return "–";
    if (s < 60) return Math.round(s) + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + String(Math.floor(s % 60)).padStart(2, "0") + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h " + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
    return (s / 86400).toFixed(1) + " d";  // a backlog's oldest: "6.6 d", not "157h 17m"
  }
  function cellEl(tag, text, cls) {
    var el = document.createElement(tag);
    el.textContent = text;
    if (cls) el.className = cls;
    return el;
  }
  function fillTable(id, rows, empty, columns, rightFrom) {
    if (rightFrom === undefined) rightFrom = 1;  // numbers right-aligned from this column
    var body = document.querySelector("#" + id + " tbody");
    body.replaceChildren();
    if (!rows.length) {
      var tr = document.createElement("tr");
      var td = cellEl("td", empty, "empty");
      td.colSpan = columns;
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    rows.forEach(function (cells) {
      var tr = document.createElement("tr");
      cells.forEach(function (c, i) { tr.appendChild(cellEl("td", c, i >= rightFrom ? "r" : "")); });
      body.appendChild(tr);
    });
  }
  // Out of adherence: "since" as a local clock time, "for" counted on by the page's clock
  // between server updates.
  var adherence = [];
  function clock(epoch) {
    return new Date(epoch * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  function drawAdherence() {
    var now = Date.now() / 1000;
    fillTable("wb-adherence", adherence.map(function (a) {
      return [a.name || a.agent_id, a.team_id || "–", a.planned,
              (a.state || "no state").replace(/_/g, " "), clock(a.since),
              duration(Math.max(0, now - a.since))];
    }), "everyone on shift is where the schedule says", 6, 5);
  }
  setInterval(drawAdherence, 1000);
  // "Figures as of HH:MM:SS (zone)" (base.html) follows the data, in the organisation's zone
  function showAsOf(iso) {
    var line = document.querySelector(".as-of time");
    if (!line || !iso) return;
    var zone = line.parentElement.dataset.timezone;
    line.setAttribute("datetime", iso);
    line.textContent = new Date(iso).toLocaleTimeString("en-GB", {
      timeZone: zone, hour12: false, hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }
  function render(state) {
    if (state.error) { statusEl.textContent = state.error; return; }
    (state.cells || []).forEach(function (c) {
      var tile = document.querySelector('#wb-kpis [data-kpi="' + c.name + '"]');
      if (!tile) return;
      var num = tile.querySelector(".num");
      if (num.textContent !== c.text) { tile.classList.remove("flash"); void tile.offsetWidth; tile.classList.add("flash"); }
      num.textContent = c.text;
      tile.querySelector(".meta").textContent = "n = " + (c.n === null ? "–" : c.n) + (c.low_sample ? " · low sample" : "");
      tile.querySelector(".target").textContent = c.target ? c.target + (c.status ? " · " + c.status : "") : "";
      tile.classList.remove("met", "missed", "none");
      tile.classList.add(c.status || "none");
    });
    fillTable("wb-queues", (state.queues || []).map(function (q) {
      return [q.channel, String(q.waiting), duration(q.longest_wait_s)];
    }), "nobody waiting", 3);
    fillTable("wb-states", Object.keys(state.agent_states || {}).map(function (k) {
      return [k.replace(/_/g, " "), String(state.agent_states[k])];
    }), "no agent logged in", 2);
    document.getElementById("wb-contacts").textContent = state.contacts_today;
    adherence = state.out_of_adherence || [];
    document.getElementById("wb-adherence-count").textContent =
      adherence.length + " of " + (state.on_shift || 0) + " on shift";
    drawAdherence();
    updatedEl.textContent = new Date(state.computed_at * 1000).toLocaleTimeString();
    showAsOf(state.as_of);
    document.body.dataset.wallboardVersion = String((Number(document.body.dataset.wallboardVersion) || 0) + 1);
  }

  render(JSON.parse(document.getElementById("wb-initial").textContent));
  var source = new EventSource("/api/v1/live");
  source.addEventListener("open", function () { statusEl.textContent = "live"; });
  source.addEventListener("error", function () { statusEl.textContent = "reconnecting…"; });
  source.addEventListener("wallboard", function (event) { render(JSON.parse(event.data)); });
})();
