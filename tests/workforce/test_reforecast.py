"""The intraday reforecast on a day running above its forecast, worked by hand.

Store (built below): the history is Monday 2 March, 2 phone calls at 09:xx, 10:xx and 11:xx
(talk 360 s each: AHT 360 s; none abandoned: Erlang C). The baseline forecast of Monday
9 March is therefore 2 calls at 09:00, 10:00 and 11:00 (1-hour intervals) and 0 elsewhere.
The day runs above it: 3 calls at 09:xx (09:10, 09:20, 09:40), 3 at 10:xx (10:05, 10:20,
10:40) and 2 at 11:xx (11:10, 11:30, after the moment asked, so never counted).
Shifts: a1 09:00-12:00, a2 10:30-11:30 -> scheduled 09:00 = 1, 10:00 = 1.5, 11:00 = 1.5.

Agents by Erlang C for 80% in 20 s, AHT 360 s, per hour:
- 2 calls (0.2 Erlang): 1 agent gives P(wait) = 0.2, SL = 1 − 0.2·e^(−0.8·20/360) = 80.9%: 1.
- 3 calls (0.3 Erlang): 1 agent gives SL = 1 − 0.3·e^(−0.7·20/360) = 71.1%, too low; 2 agents
  give P(wait) = 0.0391, SL = 96.4%: 2. The same 2 for 10/3 calls (1 agent: 67.9%).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from servicepulse.cli.main import app
from servicepulse.workforce.forecast import ForecastError
from servicepulse.workforce.reforecast import (
    ReforecastMethod,
    estimate_patience,
    intraday_reforecast,
    scale,
)
from tests.kpi.helpers import load

DAY = date(2026, 3, 9)


def _call(ident: str, at: str, **extra: Any) -> dict[str, Any]:
    return {"type": "interaction", "id": ident, "channel": "phone", "agent_id": "a1",
            "created_at": at, "answered_at": at, "talk_s": 360, **extra}


def _store(engine: Engine, tmp_path: Path) -> Engine:
    records: list[dict[str, Any]] = [
        {"type": "team", "id": "t1", "name": "Care"},
        {"type": "agent", "id": "a1", "name": "Ann", "role": "frontline", "team_id": "t1"},
        {"type": "agent", "id": "a2", "name": "Bob", "role": "frontline", "team_id": "t1"},
        {"type": "shift", "id": "s1", "agent_id": "a1", "start": "2026-03-09T09:00:00Z",
         "end": "2026-03-09T12:00:00Z"},
        {"type": "shift", "id": "s2", "agent_id": "a2", "start": "2026-03-09T10:30:00Z",
         "end": "2026-03-09T11:30:00Z"}]
    for hour in (9, 10, 11):
        for minute in (15, 45):
            records.append(_call(f"h{hour}{minute}", f"2026-03-02T{hour:02d}:{minute}:00Z"))
    for clock in ("09:10", "09:20", "09:40", "10:05", "10:20", "10:40", "11:10", "11:30"):
        records.append(_call(f"d{clock}", f"2026-03-09T{clock}:00Z"))
    path = tmp_path / "day.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    load(engine, path)
    return engine


def _rows(result: Any) -> dict[int, Any]:
    return {row.start.hour: row for row in result.intervals}


def test_day_above_forecast_ratio(store: Engine, tmp_path: Path) -> None:
    _store(store, tmp_path)
    result = intraday_reforecast(store, DAY, time(11, 0), 3600, ["phone"], "UTC",
                                 method=ReforecastMethod.ratio)
    # 6 arrived against 4 forecast: ratio 1.5; 11:00 reforecast 1.5 × 2 = 3
    assert (result.arrived, result.forecast_so_far, result.ratio) == (6, 4.0, 1.5)
    assert (result.aht_s, result.patience_s, result.model) == (360.0, None, "Erlang C")
    rows = _rows(result)
    assert len(result.intervals) == 24
    assert [(h, rows[h].forecast, rows[h].actual, rows[h].reforecast) for h in (8, 9, 10, 11, 12)] \
        == [(8, 0.0, 0, 0.0), (9, 2.0, 3, 3.0), (10, 2.0, 3, 3.0), (11, 2.0, None, 3.0),
            (12, 0.0, None, 0.0)]
    assert [(rows[h].agents_required_forecast, rows[h].agents_required) for h in (9, 10, 11)] \
        == [(1, 2), (1, 2), (1, 2)]
    assert [(rows[h].agents_scheduled, rows[h].gap) for h in (9, 10, 11, 12)] == [
        (1.0, -1.0), (1.5, -0.5), (1.5, -0.5), (0.0, 0.0)]
    assert result.short_intervals == 1  # 11:00 on; 09:00 and 10:00 are over
    assert (result.forecast_total, result.reforecast_total) == (6.0, 9.0)
    document: dict[str, Any] = result.as_dict()
    assert document["intervals"][11] == {
        "start": "2026-03-09T11:00:00+00:00", "forecast": 2.0, "actual": None,
        "reforecast": 3.0, "agents_required": 2, "agents_required_forecast": 1,
        "agents_scheduled": 1.5, "gap": -0.5}


def test_mid_interval_and_weighted(sqlite_store: Engine, tmp_path: Path) -> None:
    _store(sqlite_store, tmp_path)
    # at 10:30: 5 arrived (3 + 10:05, 10:20) against 2 + half of 2 = 3 forecast: ratio 5/3;
    # 10:00 keeps its 2 and adds 5/3 × 2 × 1/2; 11:00 is 5/3 × 2
    result = intraday_reforecast(sqlite_store, DAY, time(10, 30), 3600, ["phone"], "UTC",
                                 method=ReforecastMethod.ratio)
    rows = _rows(result)
    assert result.ratio == pytest.approx(5 / 3)
    assert (rows[10].actual, rows[10].reforecast, rows[11].reforecast) == (2, 3.6667, 3.3333)
    assert rows[11].agents_required == 2
    # weighted, at 11:00: (6 + 60) / (4 + 60) = 1.03125; 11:00: 2.0625 calls need 1 agent
    # (0.206 Erlang: SL 1 − 0.206·e^(−0.794·20/360) = 80.3%)
    weighted = intraday_reforecast(sqlite_store, DAY, time(11, 0), 3600, ["phone"], "UTC")
    assert weighted.method == "weighted"
    assert weighted.ratio == 1.03125
    assert (_rows(weighted)[11].reforecast, _rows(weighted)[11].agents_required) == (2.0625, 1)
    with pytest.raises(ForecastError, match="not within 2026-03-09"):
        intraday_reforecast(sqlite_store, DAY, datetime(2026, 3, 10, 1, tzinfo=UTC), 3600)
    with pytest.raises(ForecastError, match="midnight in Asia/Kolkata is not on a 60-minute"):
        intraday_reforecast(sqlite_store, DAY, time(10), 3600, timezone="Asia/Kolkata")
    with pytest.raises(ForecastError, match="no inbound chat interactions stored before"):
        intraday_reforecast(sqlite_store, DAY, time(10), 3600, ["chat"])


def test_scale_before_any_forecast_volume() -> None:
    start = datetime(2026, 3, 9, tzinfo=UTC)
    forecast = np.array([0.0, 4.0, 6.0])
    # at the start: nothing forecast yet, ratio 1 (no evidence), no actuals
    scaled = scale(forecast, np.zeros(3), start, 3600, start, ReforecastMethod.ratio)
    assert (scaled.ratio, scaled.actual, scaled.values.tolist()) == (1.0, [None] * 3,
                                                                      [0.0, 4.0, 6.0])


def test_patience_estimate(sqlite_store: Engine, tmp_path: Path) -> None:
    # waits 30 s and 50 s (answered) and 20 s (abandoned): 100 s waited, 1 abandoned
    records = [
        {"type": "interaction", "id": "p1", "channel": "phone", "agent_id": "a1",
         "created_at": "2026-03-02T09:00:00Z", "answered_at": "2026-03-02T09:00:30Z", "talk_s": 60},
        {"type": "interaction", "id": "p2", "channel": "phone", "agent_id": "a1",
         "created_at": "2026-03-02T09:10:00Z", "answered_at": "2026-03-02T09:10:50Z", "talk_s": 60},
        {"type": "interaction", "id": "p3", "channel": "phone", "created_at":
         "2026-03-02T09:20:00Z", "abandoned_at": "2026-03-02T09:20:20Z"}]
    path = tmp_path / "waits.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    load(sqlite_store, path)
    window = (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))
    assert estimate_patience(sqlite_store, ["phone"], *window) == 100.0
    assert estimate_patience(sqlite_store, ["chat"], *window) is None
    # the reforecast picks it up: Erlang A
    result = intraday_reforecast(sqlite_store, date(2026, 3, 9), time(0), 3600, ["phone"])
    assert (result.patience_s, result.model) == (100.0, "Erlang A")


def test_command(sqlite_store: Engine, tmp_path: Path) -> None:
    _store(sqlite_store, tmp_path)
    runner = CliRunner()
    base = ["--db", str(sqlite_store.url), "staffing", "reforecast", "--date", "2026-03-09",
            "--interval", "1h", "--timezone", "UTC", "--method", "ratio"]
    result = runner.invoke(app, [*base, "--at", "11:00", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert [(i["start"][11:16], i["forecast"], i["actual"], i["reforecast"], i["agents_required"],
             i["agents_scheduled"], i["gap"]) for i in document["intervals"][9:12]] == [
        ("09:00", 2.0, 3, 3.0, 2, 1.0, -1.0), ("10:00", 2.0, 3, 3.0, 2, 1.5, -0.5),
        ("11:00", 2.0, None, 3.0, 2, 1.5, -0.5)]
    table = runner.invoke(app, [*base, "--at", "11:00"], env={"COLUMNS": "120"})
    assert table.exit_code == 0, table.output
    assert "6 arrived by 11:00 against 4.0 forecast: the rest of the day scaled by 1.500" \
        in table.output
    eleven = next(line for line in table.output.splitlines() if line.startswith("11:00"))
    assert eleven.split() == ["11:00", "2.0", "3.0", "2", "1.50", "-0.50"]
    bad = runner.invoke(app, [*base, "--at", "25:00"])
    assert bad.exit_code == 2 and "not a time of day: write HH:MM" in bad.output
    bad = runner.invoke(app, [*base[:-2], "--at", "10:00", "--channel", "pigeon"])
    assert bad.exit_code == 2 and "'pigeon' is not a channel" in bad.output


def test_api_and_page(sqlite_store: Engine, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from servicepulse.web.app import create_app
    from servicepulse.web.users import create_token, create_user

    _store(sqlite_store, tmp_path)
    create_user(sqlite_store, "lead", "correct horse battery", "team_lead", team_ids=["t1"])
    create_user(sqlite_store, "ann", "correct horse battery", "agent", agent_id="a1")
    tokens = {name: create_token(sqlite_store, name, "read") for name in ("lead", "ann")}
    asked: dict[str, str | int] = {"date": "2026-03-09", "at": "11:00", "interval": 60,
                                   "method": "ratio"}
    with TestClient(create_app(sqlite_store, serve_stale=False, prewarm=False)) as client:
        lead = {"Authorization": f"Bearer {tokens['lead']}"}
        response = client.get("/api/v1/staffing/reforecast", params=asked, headers=lead)
        assert response.status_code == 200, response.text
        document = response.json()
        direct = intraday_reforecast(sqlite_store, DAY, time(11), 3600, ["phone"], "UTC",
                                     method=ReforecastMethod.ratio)
        assert document == direct.as_dict()
        assert (document["ratio"], document["intervals"][11]["gap"]) == (1.5, -0.5)
        page = client.get("/staffing/today", params=asked, headers=lead)
        assert page.status_code == 200, page.text
        assert '<div class="value" id="ratio">150%</div>' in page.text
        assert '<div class="value" id="short">1</div>' in page.text
        assert 'http-equiv="refresh"' not in page.text  # a moment asked: not live
        assert "<h1>Staffing on 2026-03-09: reforecast</h1>" in page.text
        assert "<title>Staffing on 2026-03-09" in page.text
        # today, as of now: the page reloads itself
        live = client.get("/staffing/today", headers=lead)
        assert live.status_code == 200 and 'http-equiv="refresh"' in live.text
        assert "<h1>Staffing today: reforecast</h1>" in live.text
        # the staffing plan's page leads to it
        plan = client.get("/staffing", headers=lead)
        assert '<a href="/staffing/today" id="today-link">' in plan.text
        bad = client.get("/api/v1/staffing/reforecast", params={**asked, "at": "9h"},
                         headers=lead)
        assert bad.status_code == 422 and "not a time of day" in bad.text
        agent = {"Authorization": f"Bearer {tokens['ann']}"}
        assert client.get("/api/v1/staffing/reforecast", params=asked,
                          headers=agent).status_code == 403
