"""The staffing page and API (servicepulse.web.routes.workforce) on the small store of
tests/fixtures/workforce/plan_history.jsonl (worked by hand in test_plan.py).

Hourly plan for Monday 16 March 2026 with 25% shrinkage, from test_plan's hand computation:
- 09:00: forecast 4 calls, 2 agents required, ceil(2 / 0.75) = 3 to schedule, 2 scheduled
  -> −1 (under-staffed); 1 productive agent projects SL 66.98%, occupancy 34.44%, ASA 163 s.
- 10:00: forecast 1 call, 1 required, 2 to schedule, 0.75 scheduled -> −1.25; SL 0.
- 08:00: nothing forecast, 0.5 scheduled -> +0.5 (over-staffed).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from servicepulse.web.app import create_app
from servicepulse.web.users import create_token, create_user
from servicepulse.workforce.plan import staffing_plan
from tests.fresh_stores import loaded_sqlite_store
from tests.workforce.test_plan import load_plan_history

PLAN_DAY = {"from": "2026-03-16", "to": "2026-03-17", "interval": 60, "shrinkage": 25}


@pytest.fixture
def planned(tmp_path: Path) -> Iterator[Engine]:
    """The fixture imported (a copy of a store it was imported into once per process)."""
    engine = loaded_sqlite_store(tmp_path / "store.db", "plan_history", load_plan_history)
    yield engine
    engine.dispose()


@pytest.fixture
def staffing_client(planned: Engine) -> Iterator[tuple[TestClient, dict[str, str]]]:
    sqlite_store = planned
    create_user(sqlite_store, "manager", "correct horse battery", "manager")
    create_user(sqlite_store, "lead", "correct horse battery", "team_lead", team_ids=["t1"])
    create_user(sqlite_store, "ann", "correct horse battery", "agent", agent_id="a1")
    tokens = {name: create_token(sqlite_store, name, "read")
              for name in ("manager", "lead", "ann")}
    app = create_app(sqlite_store, serve_stale=False, prewarm=False)
    with TestClient(app) as client:
        yield client, tokens


def _auth(tokens: dict[str, str], name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[name]}"}


def test_api_is_the_plan_function(staffing_client: tuple[TestClient, dict[str, str]],
                                  planned: Engine) -> None:
    client, tokens = staffing_client
    response = client.get("/api/v1/staffing/plan", params=PLAN_DAY,
                          headers=_auth(tokens, "manager"))
    assert response.status_code == 200, response.text
    # `to` is exclusive on the web (as every page), the function's end day inclusive.
    direct = staffing_plan(planned, date(2026, 3, 16), date(2026, 3, 16), interval_s=3600,
                           target_sl=0.8, max_occupancy=0.85, shrinkage=0.25)
    assert response.json() == direct.model_dump(mode="json")
    nine = response.json()["intervals"][9]
    assert (nine["required_agents"], nine["required_scheduled"]) == (2, 3)
    assert nine["scheduled_agents"] == 2.0 and nine["over_under"] == -1.0
    assert nine["projected_service_level"] == pytest.approx(0.669820, abs=1e-6)

    # The CSV download: one row per interval, percentages 0-100.
    download = client.get("/api/v1/staffing/plan", params={**PLAN_DAY, "format": "csv"},
                          headers=_auth(tokens, "manager"))
    assert download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert len(rows) == 24
    assert rows[9]["over_under"] == "-1.0" and rows[9]["projected_service_level"] == "66.98"
    assert rows[10]["scheduled_agents"] == "0.75" and rows[10]["required_scheduled"] == "2"


def test_page_shows_the_plan_and_the_calculator(
        staffing_client: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = staffing_client
    # Calculator: Call Centre Helper's example (as test_erlang): 100 calls in 30 min, AHT
    # 180 s, 80% in 20 s -> 14 agents, SL 88.8%, ASA 7.8 s, occupancy 71.4%; 30% shrinkage
    # -> 20 to schedule.
    response = client.get("/staffing", params={
        **PLAN_DAY, "calc_calls": 100, "calc_interval": 1800, "calc_aht": 180,
        "calc_target_sl": 80, "calc_target_time": 20, "calc_shrinkage": 30},
        headers={**_auth(tokens, "manager"), "Accept": "text/html"})
    assert response.status_code == 200, response.text
    page = response.text
    assert '<a href="/staffing" class="on">Staffing</a>' in page
    assert "<b>2</b> of 24 intervals under-staffed" in page  # 09:00 and 10:00
    assert "required 5 agent-hours, scheduled 3.25" in page  # 3 + 2; 0.5 + 2 + 0.75
    assert page.count('<tr class="under">') == 2 and page.count('<tr class="over">') == 1
    assert '/static/vendor/uplot/uPlot.iife.min.js' in page and "https://" not in page
    chart = json.loads(page.split('id="staffing-data">')[1].split("</script>")[0])
    assert chart["required"][8:11] == [0, 3, 2] and chart["scheduled"][8:11] == [0.5, 2, 0.75]
    assert chart["service_level"][9] == 66.98 and chart["occupancy"][9] == 34.44
    assert '<dd id="calc-agents">14</dd>' in page
    assert "<dd>20</dd>" in page and "88.8%" in page and "7.8 s" in page and "71.4%" in page


def test_page_explains_missing_history_and_bad_calculator_input(
        staffing_client: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = staffing_client
    response = client.get("/staffing", params={"from": "2026-03-01", "to": "2026-03-02",
                                               "calc_calls": "many"},
                          headers=_auth(tokens, "manager"))
    assert response.status_code == 200
    assert "import some history first" in response.text
    assert "not a number: calls" in response.text


def test_roles(staffing_client: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = staffing_client
    for path in ("/api/v1/staffing/plan", "/staffing"):
        assert client.get(path, params=PLAN_DAY).status_code == 401
        assert client.get(path, params=PLAN_DAY,
                          headers=_auth(tokens, "ann")).status_code == 403
        assert client.get(path, params=PLAN_DAY,
                          headers=_auth(tokens, "lead")).status_code == 200
    bad = client.get("/api/v1/staffing/plan", params={**PLAN_DAY, "interval": 20},
                     headers=_auth(tokens, "manager"))
    assert bad.status_code == 422
