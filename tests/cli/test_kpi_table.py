"""`servicepulse kpi`'s table as a person reads it: a default set of KPIs for the grouping,
values with their units, and tables that fit the terminal at 80, 120 and 250 columns without
cutting anything ("…")."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from rich.console import Console
from sqlalchemy import Engine
from typer.testing import CliRunner

from servicepulse.cli.kpi import default_kpis, render_table
from servicepulse.cli.main import app
from servicepulse.kpi.definitions import KPIS
from servicepulse.kpi.results import KpiResult
from tests.kpi.helpers import WEEK, load

RUNNER = CliRunner()
FRT_SHARE = "frt_within_target" if "frt_within_target" in KPIS else "frt"

# One value a KPI, and how the table writes it (worked out from the units: 361.6 s is
# 6.03 min, written to one decimal).
VALUES: dict[str, tuple[float, str]] = {
    "contacts": (12345, "12,345"), "csat": (82.04, "82.0%"), "fcr": (75.55, "75.5%"),
    "aht": (361.6, "6.0 min"), FRT_SHARE: (66.44, "66.4%"), "service_level": (61.0, "61.0%"),
    "occupancy": (72.4, "72.4%")}
HEADERS = {"contacts": "Contacts", "csat": "CSAT", "fcr": "FCR", "aht": "AHT",
           FRT_SHARE: "FRT in target", "service_level": "Service level",
           "occupancy": "Occupancy"}


def _result(name: str, value: float, low_sample: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {"value": value, "n": 100, "low_sample": low_sample}
    if name == "frt":
        result["within_target"] = value
    return result


def _document(names: list[str], agents: list[str | None], weeks: list[str]
              ) -> dict[str, Any]:
    rows = [{"group": {"agent": agent, "period": week}, "partial": week == weeks[-1],
             "kpis": {name: _result(name, VALUES[name][0] if name in VALUES else 1.5,
                                    low_sample=agent is None)
                      for name in names}}
            for agent in agents for week in weeks]
    return {"from": "2026-11-02", "to": "2026-11-19", "by": ["agent"], "period": "week",
            "filters": {}, "timezone": "Europe/London", "rows": rows}


def _render(document: dict[str, Any], width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    with console.capture() as capture:
        render_table(KpiResult.from_json(document), console)
    return capture.get()


def test_default_kpis_follow_the_grouping() -> None:
    people = ["contacts", "csat", "fcr", "aht", FRT_SHARE, "service_level", "occupancy"]
    assert default_kpis([]) == people
    assert default_kpis(["agent"]) == people
    assert default_kpis(["team", "role"]) == people
    # occupancy comes from agent states: by channel the abandon rate takes its place
    assert default_kpis(["channel"]) == [*people[:-1], "abandon_rate"]
    assert default_kpis(["queue", "language"]) == [*people[:-1], "abandon_rate"]


@pytest.mark.parametrize("width", [80, 120, 250])
def test_default_table_fits_the_terminal(width: int) -> None:
    names = default_kpis(["agent"])
    document = _document(names, ["A0001", "A0002", None], ["2026-11-02", "2026-11-09",
                                                           "2026-11-16"])
    text = _render(document, width)
    lines = text.splitlines()
    assert "…" not in text
    assert max(len(line) for line in lines) <= width
    # agent (12) and week (20) take 34 columns with their spacing; at 80, contacts to FRT in
    # target (8+6+6+8+6 wide, 2 apart) bring it to 78, so the rest go to a second table
    assert sum(1 for line in lines if set(line.strip()) == {"─"}) == (2 if width == 80 else 1)
    header = " ".join(line for line in lines if not line.startswith(("A0", "(una")))
    for name in names:
        for word in HEADERS[name].split():
            assert word in header, (name, word)
    first_rows = [line for line in lines if line.startswith("A0001  ") and "11-02" in line]
    assert [cell for line in first_rows for cell in re.split(r"\s{2,}", line)[2:]] \
        == [VALUES[name][1] for name in names]
    partial = next(line for line in lines if line.startswith("A0002") and "11-16" in line)
    assert "2026-11-16 (partial)" in partial
    unassigned = [line for line in lines if line.startswith("(unassigned)") and "11-02" in line]
    assert [cell for line in unassigned for cell in re.split(r"\s{2,}", line)[2:]] \
        == [VALUES[name][1] + "*" for name in names]
    assert "* = low sample" in text and "(partial) = a period" in text
    assert "FRT in target: share of first responses within their channel's" in \
        " ".join(text.split())


@pytest.mark.parametrize("width", [80, 120, 250])
def test_every_kpi_wraps_into_further_tables_never_cut(width: int) -> None:
    names = list(KPIS)
    document = _document(names, ["A0001"], ["2026-11-02"])
    text = _render(document, width)
    lines = text.splitlines()
    assert "…" not in text
    assert max(len(line) for line in lines) <= width
    tables = sum(1 for line in lines if set(line.strip()) == {"─"})
    # every table repeats the group columns, so each row line names the agent
    assert sum(1 for line in lines if line.startswith("A0001")) == tables
    assert tables > 1 if width < 250 else tables >= 1
    values = [cell for line in lines if line.startswith("A0001")
              for cell in re.split(r"\s{2,}", line.strip())[2:]]
    frt_columns = 1 if "frt_within_target" in names else 0  # frt's share shows once only
    assert len(values) == len(names) - frt_columns


@pytest.fixture
def week_db(sqlite_store: Engine) -> str:
    load(sqlite_store, WEEK)
    return sqlite_store.url.render_as_string(hide_password=False)


def test_the_command_prints_the_default_table_and_json_keeps_every_kpi(week_db: str) -> None:
    week = ["--from", "2026-03-02", "--to", "2026-03-09"]
    table = RUNNER.invoke(app, ["--db", week_db, "kpi", "--by", "agent", *week],
                          env={"COLUMNS": "80"})
    assert table.exit_code == 0, table.output
    assert "…" not in table.output
    assert max(len(line) for line in table.output.splitlines()) <= 80
    header = " ".join(table.output.splitlines()[1:3])
    assert all(word in header for name in default_kpis(["agent"])
               for word in HEADERS[name].split())
    document = orjson.loads(RUNNER.invoke(
        app, ["--db", week_db, "kpi", "--by", "agent", *week, "--format", "json"]).output)
    assert list(document["rows"][0]["kpis"]) == list(KPIS)
    everything = RUNNER.invoke(app, ["--db", week_db, "kpi", *week, "--kpi", "all"],
                               env={"COLUMNS": "120"})
    assert everything.exit_code == 0, everything.output
    assert "Sentiment" in everything.output and "Impressions" in everything.output


def test_without_dates_the_command_shows_the_pages_window(week_db: str) -> None:
    # The fixture's records run from 2026-02-27 to 2026-03-12 (UTC). The pages' default
    # window ends before the data's last, partial day and holds default_window_days (28):
    # 2026-02-12 to 2026-03-12, exclusive.
    result = RUNNER.invoke(app, ["--db", week_db, "kpi", "--kpi", "contacts", "--format",
                                 "json"])
    assert result.exit_code == 0, result.output
    document = orjson.loads(result.output)
    assert (document["from"], document["to"]) == ("2026-02-12", "2026-03-12")
    table = RUNNER.invoke(app, ["--db", week_db, "kpi"], env={"COLUMNS": "80"})
    assert table.output.splitlines()[0] == "KPIs 2026-02-12 to 2026-03-12 (exclusive), UTC"
