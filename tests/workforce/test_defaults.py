"""One set of workforce defaults and one interval parser for the staffing page, its API and
`servicepulse staffing`: the same question asked without options gets the same answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from typer.testing import CliRunner

from servicepulse.cli.main import app
from servicepulse.web.app import create_app
from servicepulse.web.routes.workforce import erlang_calculator
from servicepulse.web.users import create_token, create_user
from servicepulse.workforce import defaults
from servicepulse.workforce.defaults import IntervalError, parse_interval
from tests.fresh_stores import loaded_sqlite_store
from tests.workforce.test_plan import load_plan_history

runner = CliRunner(env={"COLUMNS": "250"})  # error boxes must not wrap mid-message


@pytest.mark.parametrize(("text", "seconds"), [
    ("15m", 900), ("30m", 1800), ("1h", 3600), ("60min", 3600), ("1800", 1800), ("90s", 90),
    (" 2h ", 7200), ("45 m", 2700), (600, 600)])
def test_one_parser_reads_minutes_hours_and_seconds(text: str | int, seconds: int) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize(("text", "kwargs", "message"), [
    ("half an hour", {}, "'half an hour' is not understood: write 15m, 30m, 1h or seconds"),
    ("0", {}, "whole, positive number"),
    ("1.5s", {}, "whole, positive number"),
    # a bare 30 for a staffing interval is 30 minutes typed without the unit
    ("30", {"minimum_s": 60}, "would be 30 seconds, too short: write 30m for 30 minutes"),
    ("30s", {"minimum_s": 60}, "shorter than 1m"),
    ("20m", {"allowed": (900, 1800, 3600)}, "not supported here: write 15m, 30m or 1h"),
])
def test_the_parser_says_what_to_write(text: str, kwargs: dict[str, object],
                                       message: str) -> None:
    with pytest.raises(IntervalError, match=message):
        parse_interval(text, **kwargs)  # type: ignore[arg-type]


def _erlang(*arguments: str) -> dict[str, object]:
    result = runner.invoke(app, ["staffing", "erlang", "--calls", "1000", "--aht", "180",
                                 *arguments, "--format", "json"])
    assert result.exit_code == 0, result.output
    payload: dict[str, object] = json.loads(result.output)
    return payload


def test_erlang_takes_every_spelling_of_an_interval() -> None:
    thirty = _erlang("--interval", "1800")
    assert _erlang("--interval", "30m") == thirty
    assert _erlang() == thirty  # the default interval is 30 minutes
    assert _erlang("--interval", "1h") == _erlang("--interval", "3600")
    bad = runner.invoke(app, ["staffing", "erlang", "--calls", "100", "--aht", "180",
                              "--interval", "30"])
    assert bad.exit_code == 2
    assert "write 30m for 30 minutes" in " ".join(bad.output.replace("│", " ").split())


def test_erlang_defaults_are_the_pages() -> None:
    # 1000 calls in 30 min at AHT 180 s are 100 Erlangs. Erlang C needs 107 agents for 80% in
    # 20 s, at 93.5% occupancy; the 85% cap needs ceil(100 / 0.85) = 118 (occupancy 84.7%).
    cli = _erlang()
    assert (cli["agents"], cli["occupancy"]) == (118, 84.7458)
    assert _erlang("--max-occupancy", "100")["agents"] == 107
    page = erlang_calculator(1000, 1800, 180, defaults.TARGET_SERVICE_LEVEL_PCT,
                             defaults.target_time_s("phone"))
    assert page.agents == 118


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[str, TestClient, str]]:
    sqlite_store = loaded_sqlite_store(tmp_path / "store.db", "plan_history",
                                       load_plan_history)
    create_user(sqlite_store, "manager", "correct horse battery", "manager")
    token = create_token(sqlite_store, "manager", "read")
    web = create_app(sqlite_store, serve_stale=False, prewarm=False)
    with TestClient(web) as client:
        yield sqlite_store.url.render_as_string(hide_password=False), client, token
    sqlite_store.dispose()


def test_the_plan_without_options_is_the_same_on_the_page_and_the_command_line(
        store: tuple[str, TestClient, str]) -> None:
    url, client, token = store
    result = runner.invoke(app, ["--db", url, "staffing", "plan", "--from", "2026-03-16",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    cli = json.loads(result.output)
    del cli["summary"]
    response = client.get("/api/v1/staffing/plan", params={"from": "2026-03-16"},
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.json() == cli
    assert (cli["interval_s"], cli["target_service_level"], cli["target_time_s"],
            cli["max_occupancy"], cli["shrinkage"]) == (1800, 0.8, 20.0, 0.85, 0.0)
    assert len(cli["intervals"]) == 48


def test_a_configured_threshold_reaches_the_plan_on_the_page_and_the_command_line(
        store: tuple[str, TestClient, str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the page read `service_level_threshold_s` off the KPI settings, which name it
    # `service_level_thresholds`: it always planned with the default 20 s
    url, _client, token = store
    config = tmp_path / "servicepulse.toml"
    config.write_text("[service_level_threshold_s]\nphone = 15\n")
    monkeypatch.setenv("SERVICEPULSE_CONFIG", str(config))
    result = runner.invoke(app, ["--db", url, "staffing", "plan", "--from", "2026-03-16",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    cli = json.loads(result.output)
    del cli["summary"]
    assert cli["target_time_s"] == 15.0
    engine = create_engine(url)
    with TestClient(create_app(engine, serve_stale=False, prewarm=False)) as client:
        response = client.get("/api/v1/staffing/plan", params={"from": "2026-03-16"},
                              headers={"Authorization": f"Bearer {token}"})
    engine.dispose()
    assert response.status_code == 200, response.text
    assert response.json() == cli


def test_without_a_day_both_plan_the_day_after_past_data(
        store: tuple[str, TestClient, str]) -> None:
    # The fixture's newest contact is 2026-03-16 09:10 UTC: a store of past data plans the
    # day after it (today, 2026-12-07, would have no history behind it).
    url, client, token = store
    result = runner.invoke(app, ["--db", url, "staffing", "plan", "--format", "json"])
    assert result.exit_code == 0, result.output
    cli = json.loads(result.output)
    del cli["summary"]
    assert cli["start"].startswith("2026-03-17T00:00:00")
    response = client.get("/api/v1/staffing/plan", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.json() == cli


def test_the_day_planned_is_today_when_the_data_reaches_it() -> None:
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo("Pacific/Auckland")).date()
    assert defaults.plan_day("Pacific/Auckland") == today
    assert defaults.plan_day("Pacific/Auckland", after_data=date(2026, 3, 17)) \
        == min(today, date(2026, 3, 17))
    # a live store: its newest contact is today, the day after it tomorrow
    assert defaults.plan_day("Pacific/Auckland", after_data=date.fromordinal(
        today.toordinal() + 1)) == today


def test_the_page_calculator_reads_intervals_as_the_command_line(
        store: tuple[str, TestClient, str]) -> None:
    _, client, token = store
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/html"}
    ask = {"from": "2026-03-16", "calc_calls": "100", "calc_aht": "180"}
    # Call Centre Helper's example: 100 calls in 30 minutes at AHT 180 s need 14 agents
    for spelling in ("30m", "1800", "0.5h"):
        page = client.get("/staffing", params={**ask, "calc_interval": spelling},
                          headers=headers).text
        assert '<dd id="calc-agents">14</dd>' in page, spelling
    page = client.get("/staffing", params={**ask, "calc_interval": "30"}, headers=headers).text
    assert "write 30m for 30 minutes" in page
    assert 'value="30m"' in client.get("/staffing", headers=headers).text  # the default
