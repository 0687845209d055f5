"""`servicepulse explain` on a store built by hand: the JSON contract, the table, and the
errors a person meets (a KPI that is not a rate or a mean, days the wrong way round)."""

from __future__ import annotations

from pathlib import Path

import orjson
from sqlalchemy import Engine
from typer.testing import CliRunner

from servicepulse.cli.main import app
from tests.kpi.test_change import contacts, store_with

RUNNER = CliRunner()


def _explain(engine: Engine, *args: str, columns: int = 150) -> tuple[int, str]:
    result = RUNNER.invoke(app, ["--db", str(engine.url), "explain", *args],
                           env={"COLUMNS": str(columns)})
    return result.exit_code, result.output


def test_json_and_table(sqlite_store: Engine, tmp_path: Path) -> None:
    # resolution rate 60% -> 70% from channel mix alone (tests/kpi/test_change.py)
    store_with(sqlite_store, tmp_path,
               contacts("2026-03-02", "phone", 10, 8), contacts("2026-03-02", "email", 10, 4),
               contacts("2026-03-09", "phone", 30, 24), contacts("2026-03-09", "email", 10, 4))
    days = ["--from", "2026-03-09", "--to", "2026-03-10", "--against-from", "2026-03-02",
            "--against-to", "2026-03-03"]
    code, output = _explain(sqlite_store, "--kpi", "resolution_rate", "--by", "channel",
                            *days, "--format", "json")
    assert code == 0, output
    document = orjson.loads(output)
    assert (document["kpi"], document["value"], document["previous"], document["change"]) == (
        "resolution_rate", 70.0, 60.0, 10.0)
    assert [(c["dimension"], c["group"], c["mix"], c["rate"], c["total"])
            for c in document["contributions"]] == [("channel", "phone", 20.0, 0.0, 20.0),
                                                    ("channel", "email", -10.0, 0.0, -10.0)]
    # a terminal of 80 columns: each group's row fits on one line
    code, output = _explain(sqlite_store, "--kpi", "resolution_rate", "--by", "channel", *days,
                            columns=80)
    assert code == 0, output
    assert "60.0% (2026-03-02 to 2026-03-03) → 70.0%" in output
    assert "change +10.00 pts" in output
    assert "By channel" in output
    phone = next(line for line in output.splitlines() if line.startswith("phone "))
    assert phone.split() == ["phone", "50.0%", "75.0%", "80.0%", "80.0%", "+20.00", "pts",
                             "0.00", "pts", "+20.00", "pts", "–"]
    # without --against-*: the 7 days before --from (3 Mar is a day with none: same answer
    # as against 2 Mar to 9 Mar, which holds the 2 Mar contacts)
    code, output = _explain(sqlite_store, "--kpi", "resolution_rate", "--by", "channel",
                            "--from", "2026-03-09", "--to", "2026-03-16", "--format", "json")
    assert code == 0, output
    assert (orjson.loads(output)["against_from"], orjson.loads(output)["change"]) == (
        "2026-03-02", 10.0)


def test_errors_say_what_to_do(sqlite_store: Engine) -> None:
    days = ["--from", "2026-03-09", "--to", "2026-03-10"]
    code, output = _explain(sqlite_store, "--kpi", "contacts", "--by", "channel", *days)
    assert code == 2
    assert "contacts is a count or sum, not a rate or a mean" in output
    assert "Traceback" not in output
    code, output = _explain(sqlite_store, "--kpi", "fcr", "--by", "channel",
                            "--from", "2026-03-09", "--to", "2026-03-09")
    assert code == 2 and "--to is exclusive" in output
    code, output = _explain(sqlite_store, "--kpi", "fcr", "--by", "weather", *days)
    assert code == 2 and "cannot split by 'weather'" in output
    code, output = _explain(sqlite_store, "--kpi", "fcr", "--by", "channel",
                            "--from", "9 March", "--to", "2026-03-10")
    assert code == 2 and "is not a date" in output
