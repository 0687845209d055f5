"""`servicepulse bench views`: the commands it times and the table it writes (medians of the
rounds, the ratios against the baseline), with the runs' seconds given."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from servicepulse.bench import views
from tests.kpi.helpers import WEEK, load


def test_the_commands_name_a_team_and_one_of_its_agents(sqlite_store: Engine) -> None:
    load(sqlite_store, WEEK)
    team, agent = views.a_team_and_agent(sqlite_store.url.render_as_string())
    assert (team, agent) == ("t1", "a1")
    labels = [c.label for c in views.team_lead_commands(team, agent, Path("r.pdf"))]
    assert labels[2:4] == ["`scorecard --team t1`", "`report agent a1` (PDF)"]


def test_the_table_holds_medians_and_ratios(sqlite_store: Engine,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    load(sqlite_store, WEEK)
    # seconds of each run in turn: statements kept 1, 3, 2 (median 2; after a first run
    # that fills the kept statements, not timed: 99); nothing kept 4, 5, 3 (median 4); the
    # baseline 8, 4, 6 (median 6); a failing command reports its error
    seconds: dict[tuple[str, str], Iterator[float]] = {}
    runs = {"kept": [99.0, 1.0, 3.0, 2.0], "fresh": [4.0, 5.0, 3.0],
            "baseline": [8.0, 4.0, 6.0]}

    def timed(url: str, command: views.ViewCommand, engine: str, cache: Path,
              source: Path | None = None) -> float | str:
        if command.arguments == ("health",):
            return "exit 1: error: no customers"
        setup = ("baseline" if source is not None
                 else "kept" if cache.name == "kept.sqlite3" else "fresh")
        return next(seconds.setdefault((command.label, setup), iter(runs[setup])))

    monkeypatch.setattr(views, "time_command", timed)
    table = views.run_views_bench(sqlite_store.url.render_as_string(), runs=3,
                                  progress=False, baseline=Path("/checkouts/before"))
    lines = table.splitlines()
    assert lines[2] == ("| command | SQLite, statements kept, s | SQLite, nothing kept, s "
                        "| `before` (baseline), s | `before` (baseline) ÷ SQLite, statements "
                        "kept | `before` (baseline) ÷ SQLite, nothing kept |")
    assert "| `--help` | 2.00 | 4.00 | 6.00 | 3.00x | 1.50x |" in lines
    assert ("| `health` | exit 1: error: no customers | exit 1: error: no customers "
            "| exit 1: error: no customers | – | – |") in lines
