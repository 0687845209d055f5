"""`servicepulse staffing ...`: the JSON contract of `erlang`, errors with exit code 2, and the
plan, forecast and whatif commands end to end on a SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from servicepulse.cli.main import app
from servicepulse.ingest.importer import import_rows
from servicepulse.ingest.readers import read_jsonl
from servicepulse.store.database import open_store

FIXTURE = Path(__file__).parents[1] / "fixtures" / "workforce" / "plan_history.jsonl"
runner = CliRunner(env={"COLUMNS": "250"})  # error boxes must not wrap mid-message

ERLANG = ["staffing", "erlang", "--calls", "100", "--interval", "1800", "--aht", "180",
          "--target-sl", "80", "--target-time", "20"]


def test_erlang_json_contract() -> None:
    # Call Centre Helper's example (REFERENCES.md), 30% shrinkage -> 14 agents, 20 scheduled.
    result = runner.invoke(app, [*ERLANG, "--shrinkage", "30", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "agents": 14, "agents_with_shrinkage": 20, "service_level": 88.835,
        "occupancy": 71.4286, "asa": 7.8359, "probability_of_waiting": 17.4132,
        "probability_of_abandon": None}


def test_erlang_json_with_patience_and_occupancy_cap() -> None:
    result = runner.invoke(app, [*ERLANG, "--patience", "60", "--max-occupancy", "70",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert set(payload) == {"agents", "agents_with_shrinkage", "service_level", "occupancy",
                            "asa", "probability_of_waiting", "probability_of_abandon"}
    # Erlang A alone needs 12 agents (occupancy 77.0%); the 70% cap pushes it to 14 (13 give
    # served load 10 × (1 − P(abandon)) / 13 > 70%).
    assert payload["agents"] == 14
    assert payload["occupancy"] <= 70
    assert payload["probability_of_abandon"] is not None and payload["probability_of_abandon"] > 0


def test_erlang_table() -> None:
    result = runner.invoke(app, ERLANG)
    assert result.exit_code == 0, result.output
    assert "Erlang C" in result.output
    assert "88.84%" in result.output and "71.43%" in result.output


@pytest.mark.parametrize(("change", "message"), [
    (["--calls", "-5"], "--calls"),
    (["--target-sl", "120"], "--target-sl"),
    (["--target-sl", "100"], "below 100"),
    (["--max-occupancy", "0"], "--max-occupancy"),
    (["--shrinkage", "100"], "--shrinkage"),
    (["--aht", "0"], "--aht"),
    (["--interval", "-1800"], "--interval"),
    (["--patience", "-3"], "--patience"),
    (["--format", "xml"], "--format"),
])
def test_erlang_bad_input_exits_2(change: list[str], message: str) -> None:
    arguments = list(ERLANG)
    if change[0] in arguments:
        arguments[arguments.index(change[0]) + 1] = change[1]
    else:
        arguments += change
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2
    assert message in result.output


def test_erlang_missing_option_exits_2() -> None:
    result = runner.invoke(app, ["staffing", "erlang", "--calls", "100"])
    assert result.exit_code == 2
    assert "--aht" in result.output


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    # Read-only for every test here: one store for the module saves a migration per test.
    url = f"sqlite:///{tmp_path_factory.mktemp('workforce_cli') / 'plan.db'}"
    engine = open_store(url)
    import_rows(engine, read_jsonl(FIXTURE))
    engine.dispose()
    return url


def test_plan_json(database: str) -> None:
    result = runner.invoke(app, ["--db", database, "staffing", "plan", "--from", "2026-03-16",
                                 "--interval", "60m", "--shrinkage", "25", "--history-weeks",
                                 "2", "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["aht_s"] == pytest.approx(310.0)
    nine = payload["intervals"][9]
    assert nine["start"].startswith("2026-03-16T09:00:00")
    # Worked by hand in test_plan.py.
    assert (nine["forecast_calls"], nine["required_agents"], nine["required_scheduled"],
            nine["scheduled_agents"], nine["over_under"]) == (4.0, 2, 3, 2.0, -1.0)
    assert payload["summary"] == {"under_staffed_intervals": 2, "required_agent_hours": 5.0,
                                  "scheduled_agent_hours": 3.25}


def test_plan_table_and_errors(database: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["--db", database, "staffing", "plan", "--from", "2026-03-16",
                                 "--interval", "60m", "--history-weeks", "2"])
    assert result.exit_code == 0, result.output
    # Without shrinkage 09:00 has the 2 it needs; 10:00 has 0.75 of 1.
    assert "09:00" in result.output and "under-staffed intervals: 1 of 24" in result.output
    bad = runner.invoke(app, ["--db", database, "staffing", "plan", "--interval", "20m"])
    assert bad.exit_code == 2 and "15m, 30m or 1h" in bad.output
    bad = runner.invoke(app, ["--db", database, "staffing", "plan", "--from", "16/03/2026"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    bad = runner.invoke(app, ["--db", database, "staffing", "plan", "--channel", "fax"])
    assert bad.exit_code == 2 and "not a channel" in bad.output
    empty = runner.invoke(app, ["--db", f"sqlite:///{tmp_path / 'empty.db'}", "staffing",
                                "plan", "--from", "2026-03-16"])
    assert empty.exit_code == 1 and "import some history first" in empty.output


def test_forecast_json(database: str) -> None:
    result = runner.invoke(app, ["--db", database, "staffing", "forecast", "--from",
                                 "2026-03-16", "--interval", "60m", "--backtest-weeks", "0",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    # One whole week of history before 16 March (9-15 March): Monday 09:00 had 5 calls.
    assert payload["history_start"].startswith("2026-03-09")
    assert payload["intervals"][9]["forecast"] == 5.0
    assert payload["backtest"] is None and payload["backtest_skipped"] is None
    # A backtest of 2 weeks needs 3 whole weeks; the forecast is still printed.
    too_short = runner.invoke(app, ["--db", database, "staffing", "forecast", "--from",
                                    "2026-03-16", "--backtest-weeks", "2"])
    assert too_short.exit_code == 0, too_short.output
    assert "backtest skipped" in too_short.output and "whole weeks of history" in too_short.output
    assert "Mon 2026-03-16" in too_short.output


def test_whatif_json() -> None:
    result = runner.invoke(app, ["staffing", "whatif", "--calls", "100", "--calls", "120",
                                 "--agents", "14", "--interval", "1800", "--aht", "180",
                                 "--target-time", "20", "--replications", "5", "--seed", "9",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["model"] == "erlang_c"
    assert [row["agents"] for row in payload["intervals"]] == [14, 14]
    assert payload["intervals"][0]["predicted_service_level"] == 88.84
    again = runner.invoke(app, ["staffing", "whatif", "--calls", "100", "--calls", "120",
                                "--agents", "14", "--aht", "180", "--replications", "5",
                                "--seed", "9", "--format", "json"])
    assert json.loads(again.output) == payload  # seeded: the same run


def test_whatif_table_and_errors() -> None:
    result = runner.invoke(app, ["staffing", "whatif", "--calls", "100", "--agents", "12",
                                 "--aht", "180", "--patience", "60", "--replications", "3"])
    assert result.exit_code == 0, result.output
    assert "Erlang A" in result.output and "simulated overall" in result.output
    bad = runner.invoke(app, ["staffing", "whatif", "--calls", "100", "--calls", "90",
                              "--agents", "1", "--agents", "2", "--agents", "3", "--aht", "60"])
    assert bad.exit_code == 2 and "one per --calls" in bad.output
    bad = runner.invoke(app, ["staffing", "whatif", "--calls", "100", "--agents", "5"])
    assert bad.exit_code == 2 and "average handle time" in bad.output
    bad = runner.invoke(app, ["staffing", "whatif", "--agents", "5", "--aht", "60"])
    assert bad.exit_code == 2 and "--calls" in bad.output


def test_whatif_on_the_stored_plan(database: str) -> None:
    # Plan of test_plan.py (16 March, hourly, 25% shrinkage): at 09:00 4 calls forecast with
    # floor(2 × 0.75) = 1 productive agent scheduled; with --staffing required, 2 agents.
    arguments = ["--db", database, "staffing", "whatif", "--from", "2026-03-16", "--interval",
                 "60m", "--history-weeks", "2", "--shrinkage", "25", "--replications", "5",
                 "--format", "json"]
    scheduled = runner.invoke(app, arguments)
    assert scheduled.exit_code == 0, scheduled.output
    nine = json.loads(scheduled.output)["intervals"][9]
    assert (nine["calls"], nine["agents"]) == (4.0, 1)
    assert nine["predicted_service_level"] == 66.98  # Erlang C by hand in test_plan.py
    required = runner.invoke(app, [*arguments, "--staffing", "required"])
    assert json.loads(required.output)["intervals"][9]["agents"] == 2
    both = runner.invoke(app, [*arguments, "--calls", "5"])
    assert both.exit_code == 2 and "not both" in both.output


def test_forecast_backtest_end_to_end(tmp_path: Path) -> None:
    # Three identical weeks (2-22 March 2026): every weekday 4 calls at 09:00-09:30 and 2 at
    # 14:00-14:30, none at weekends. Holding out the last week, the baseline (mean of the
    # weeks before) forecasts it exactly: WAPE 0 over 6 × 5 = 30 calls.
    lines = []
    for day in range(21):
        if day % 7 >= 5:
            continue
        for k, (hour, minute) in enumerate([(9, 1), (9, 7), (9, 15), (9, 29), (14, 2), (14, 20)]):
            lines.append(json.dumps({
                "type": "interaction", "id": f"d{day}c{k}", "channel": "phone",
                "created_at": f"2026-03-{2 + day:02d}T{hour:02d}:{minute:02d}:00Z"}))
    source = tmp_path / "weeks.jsonl"
    source.write_text("\n".join(lines) + "\n")
    url = f"sqlite:///{tmp_path / 'weeks.db'}"
    engine = open_store(url)
    import_rows(engine, read_jsonl(source))
    engine.dispose()
    result = runner.invoke(app, ["--db", url, "staffing", "forecast", "--from", "2026-03-23",
                                 "--to", "2026-03-24", "--history-weeks", "3",
                                 "--backtest-weeks", "1", "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["backtest"]["wape"] == 0.0
    assert payload["backtest"]["weeks"] == [{"week_start": "2026-03-16T00:00:00+00:00",
                                             "actual": 30.0, "forecast": 30.0, "wape": 0.0}]
    forecasts = [row["forecast"] for row in payload["intervals"]]
    assert len(forecasts) == 96 and sum(forecasts) == 12  # two weekdays × 6 calls
    assert forecasts[18] == 4 and forecasts[28] == 2  # 09:00 and 14:00 half-hours
