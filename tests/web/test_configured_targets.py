"""The dashboards' target lines are the organisation's resolved targets (servicepulse.kpi.targets):
a configured `[targets]` entry, an industry profile or `frt_target_s` moves them; the defaults are
the KPI definitions'.

The centre's week (tests/fixtures/web/centre.jsonl), worked by hand:
- CSAT: scores 5, 4, 2, 5, 3 on 1-5, top two points = 3 of 5 = 60%;
- abandon rate: offered phone and chat i01, i02, i03, i05, i08 (i04 left after 3 s, under the
  5 s short-abandon threshold), abandoned i03: 1 of 5 = 20%;
- first response of email: i06 1 h, i07 2 h, median 1.5 h (5,400 s); of chat: i05 20 s, i08
  5 s, median 12.5 s.
"""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from servicepulse.config import Settings
from servicepulse.kpi.settings import KpiSettings
from servicepulse.kpi.targets import TargetError
from servicepulse.web.access import Access
from servicepulse.web.app import create_app
from servicepulse.web.kpi import engine_kpi_function
from servicepulse.web.runners import OverviewRunner, RunContext, WindowInput
from tests.web.conftest import WEEK as WEEK_PARAMS
from tests.web.conftest import Tokens, login

WEEK = WindowInput(**{"from": date(2026, 11, 2), "to": date(2026, 11, 9)})


def _overview(engine: Engine, settings: KpiSettings) -> dict[str, tuple[float | None, str | None,
                                                                      str | None]]:
    context = RunContext(engine=engine, kpi=engine_kpi_function(), access=Access(),
                         settings=settings)
    output = OverviewRunner(context, WEEK).run()
    shown = {tile.cell.name: (tile.cell.value, tile.cell.target, tile.cell.status)
             for tile in output.tiles}
    for channel in output.first_response:
        shown[f"frt {channel.channel}"] = (channel.cell.value, channel.target_text,
                                           channel.status)
    return shown


def test_default_targets_are_the_definitions(centre: tuple[Engine, Tokens]) -> None:
    shown = _overview(centre[0], KpiSettings())
    assert shown["csat"] == (60.0, "target ≥ 80%", "missed")
    assert shown["abandon_rate"] == (20.0, "target ≤ 5%", "missed")
    assert shown["fcr"][1] == "target ≥ 70%"
    assert shown["occupancy"][1] == "target 75–85%"
    assert shown["aht"][1:] == (None, None)  # judged against the team median, no line
    assert shown["frt email"] == (5400.0, "≤ 1.0 d", "met")
    assert shown["frt chat"] == (12.5, "≤ 1.0 min", "met")


def test_configured_targets_and_profile_move_the_lines(centre: tuple[Engine, Tokens]) -> None:
    settings = KpiSettings(
        targets={"csat": 60, "abandon_rate": 25, "occupancy": {"low": 70, "high": 90},
                 "channel": {"email": {"frt": 3600}}},
        industry_profile="telecom", frt_targets={"chat": 10.0, "email": 86_400.0})
    shown = _overview(centre[0], settings)
    assert shown["csat"] == (60.0, "target ≥ 60%", "met")  # 60% meets 60
    assert shown["abandon_rate"] == (20.0, "target ≤ 25%", "met")
    assert shown["fcr"][1] == "target ≥ 80%"  # the telecom profile's
    assert shown["occupancy"][1] == "target 70–90%"
    # [targets.channel.email] frt over frt_target_s; chat's from frt_target_s
    assert shown["frt email"] == (5400.0, "≤ 1.0 h", "missed")
    assert shown["frt chat"] == (12.5, "≤ 10 s", "missed")


def test_the_apps_configuration_reaches_the_pages(centre: tuple[Engine, Tokens]) -> None:
    """Through the app: the settings the app factory was given ([targets] csat = 60, the
    telecom profile) are the overview's target lines, in the API and on the page."""
    engine, tokens = centre
    settings = Settings(targets={"csat": 60, "abandon_rate": 25}, industry_profile="telecom")
    app = create_app(engine, settings=settings, serve_stale=False, prewarm=False)
    with TestClient(app) as client:
        answer = client.get("/api/v1/overview", params=WEEK_PARAMS,
                            headers=tokens.header("manager"))
        assert answer.status_code == 200, answer.text
        tiles = {tile["cell"]["name"]: tile["cell"] for tile in answer.json()["tiles"]}
        assert (tiles["csat"]["value"], tiles["csat"]["target"], tiles["csat"]["status"]) == (
            60.0, "target ≥ 60%", "met")
        assert (tiles["abandon_rate"]["target"], tiles["abandon_rate"]["status"]) == (
            "target ≤ 25%", "met")
        assert tiles["fcr"]["target"] == "target ≥ 80%"  # telecom
        login(client, "manager")
        page = client.get("/", params=WEEK_PARAMS).text
        assert "target ≥ 60% · <b>met</b>" in page
        assert "target ≥ 80%" in page and "target ≥ 70%" not in page


def test_a_bad_target_stops_the_app_at_its_start(centre: tuple[Engine, Tokens]) -> None:
    """Not a 422 on every dashboard later: the app factory refuses the configuration."""
    settings = Settings(targets={"role": {"frontline": {"csatt": 80}}})
    with pytest.raises(TargetError, match=r"targets: role\.frontline\.csatt: unknown KPI"):
        create_app(centre[0], settings=settings, serve_stale=False, prewarm=False)
