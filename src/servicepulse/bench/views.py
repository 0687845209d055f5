"""`servicepulse bench views`: the team lead's commands as a cold process, on a real store.

Each command runs in a new process (imports, connection, queries, output: what a team lead
waits for), several rounds, the set-ups taking turns within a round so that the machine's
noise falls on all: the analytical path (DuckDB reading the store in place, the default)
with its compiled statements kept from an earlier run (`kpi.compiled_sql`, what a team lead
asking again meets), the same with nothing kept (a new cache file every run: the first
command of the day), and the store's own SQL engine (`SERVICEPULSE_KPI_ENGINE=store`, the
engine before issue 16), the baseline of the ratio. An SQLite store runs on SQLite itself
in every set-up (`kpi.analytical`): its set-ups are SQLite with statements kept and with
nothing kept. Medians; a command that fails is reported with its error, not timed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from servicepulse.bench.report import machine_line, median

# set-ups: (name, SERVICEPULSE_KPI_ENGINE, whether compiled statements are kept)
SETUPS = (("kept", "duckdb", True), ("fresh", "duckdb", False), ("store", "store", False))


@dataclass(frozen=True)
class ViewCommand:
    """A command line (after `servicepulse --db URL`) and what it stands for."""

    label: str
    arguments: tuple[str, ...]


def team_lead_commands(team: str, agent: str, report: Path) -> list[ViewCommand]:
    """The commands of issue 16's table, for one team and one of its agents."""
    return [
        ViewCommand("`--help`", ("--help",)),
        ViewCommand("`kpi --by agent --period week`",
                    ("kpi", "--by", "agent", "--period", "week")),
        ViewCommand(f"`scorecard --team {team}`", ("scorecard", "--team", team)),
        ViewCommand(f"`report agent {agent}` (PDF)",
                    ("report", "agent", agent, "--out", str(report))),
        ViewCommand("`drivers`", ("drivers",)),
        ViewCommand("`leaderboard`", ("leaderboard",)),
        ViewCommand("`health`", ("health",)),
    ]


def a_team_and_agent(url: str) -> tuple[str, str]:
    """The first team (by id) with an active agent, and its first agent."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            row = connection.execute(sqlalchemy.text(
                "SELECT team_id, id FROM agents WHERE team_id IS NOT NULL AND active "
                "ORDER BY team_id, id LIMIT 1")).first()
    finally:
        engine.dispose()
    if row is None:
        raise ValueError(f"{url}: no agent with a team; run `servicepulse demo --no-serve` "
                         "first, or name a store that holds a centre")
    return str(row[0]), str(row[1])


def time_command(url: str, command: ViewCommand, engine: str, sql_cache: Path,
                 source: Path | None = None) -> float | str:
    """Seconds of one cold run, or the error's last line when the command failed;
    `source`: another checkout's `src` to run instead of this one (a baseline)."""
    environment = {**os.environ, "SERVICEPULSE_KPI_ENGINE": engine,
                   "SERVICEPULSE_SQL_CACHE": str(sql_cache)}
    if source is not None:
        environment["PYTHONPATH"] = str(source)
    started = time.perf_counter()
    finished = subprocess.run(
        [sys.executable, "-m", "servicepulse", "--db", url, *command.arguments],
        capture_output=True, text=True, env=environment, check=False)
    elapsed = time.perf_counter() - started
    if finished.returncode != 0:
        lines = (finished.stderr or finished.stdout).strip().splitlines()
        return f"exit {finished.returncode}: {lines[-1] if lines else ''}"
    return elapsed


def run_views_bench(url: str, runs: int = 3, progress: bool = True,
                    baseline: Path | None = None, skip: tuple[str, ...] = (),
                    only: tuple[str, ...] = ()) -> str:
    """The markdown table of every command's median in each set-up, and the ratios;
    `baseline`: a checkout of an earlier commit, timed as one more set-up; `skip`: commands
    (their first word) left out; `only`: the set-ups to time (kept, fresh, store), all
    when empty."""
    team, agent = a_team_and_agent(url)
    # an SQLite store always runs on SQLite itself (kpi.analytical): its set-ups differ
    # only in the statements kept
    sqlite = url.startswith("sqlite")
    setups: tuple[tuple[str, str, bool], ...] = SETUPS if not sqlite else SETUPS[:2]
    if only:
        setups = tuple(setup for setup in setups if setup[0] in only)
    if baseline is not None:
        setups = (*setups, ("baseline", "duckdb", False))
    with tempfile.TemporaryDirectory() as scratch:
        commands = [command for command in
                    team_lead_commands(team, agent, Path(scratch) / "report.pdf")
                    if command.arguments[0] not in skip]
        kept_file = Path(scratch) / "kept.sqlite3"
        times: dict[tuple[str, str], list[float]] = {}
        errors: dict[tuple[str, str], str] = {}
        if any(name == "kept" for name, _engine, _keep in setups):
            for command in commands:  # the kept set-up's statements, from a run not timed
                time_command(url, command, "duckdb", kept_file)
        for round_number in range(runs):
            for command in commands:
                order = setups if round_number % 2 == 0 else setups[::-1]
                for name, engine, keep in order:
                    cache = kept_file if keep else Path(scratch) / f"fresh-{time.time_ns()}"
                    source = baseline / "src" if name == "baseline" and baseline else None
                    result = time_command(url, command, engine, cache, source)
                    key = (command.label, name)
                    if isinstance(result, str):
                        errors[key] = result
                    else:
                        times.setdefault(key, []).append(result)
                    if progress:
                        shown = result if isinstance(result, str) else f"{result:.2f} s"
                        print(f"round {round_number + 1}/{runs} {command.label} [{name}]: "
                              f"{shown}", file=sys.stderr, flush=True)
    engine_name = "SQLite" if sqlite else "DuckDB"
    titles = {"kept": f"{engine_name}, statements kept",
              "fresh": f"{engine_name}, nothing kept",
              "store": ("the store's own engine" if any(name == "kept" for name, _e, _k in setups)
                        else "this version"),
              "baseline": f"`{baseline.name if baseline else ''}` (baseline)"}
    names = [name for name, _engine, _keep in setups]
    reference = ("baseline" if baseline is not None
                 else "store" if any(name == "store" for name, _e, _k in setups)
                 else setups[-1][0])
    compared = [name for name in names if name != reference]
    lines = [f"Store: `{_shown_url(url)}`; {runs} cold runs each, set-ups alternating; "
             f"{machine_line()}.", "",
             "| command | " + " | ".join(f"{titles[name]}, s" for name in names) + " | "
             + " | ".join(f"{titles[reference]} ÷ {titles[name]}" for name in compared)
             + " |",
             "|---|" + "---:|" * (len(names) + len(compared))]
    for command in commands:
        medians: dict[str, float] = {}
        cells = []
        for name in names:
            key = (command.label, name)
            if key in times and key not in errors:
                medians[name] = median(times[key])
                cells.append(f"{medians[name]:.2f}")
            else:
                cells.append(errors.get(key, "–"))
        ratios = [f"{medians[reference] / medians[name]:.2f}x"
                  if reference in medians and name in medians else "–" for name in compared]
        lines.append(f"| {command.label} | {' | '.join(cells + ratios)} |")
    return "\n".join(lines)


def _shown_url(url: str) -> str:
    import sqlalchemy

    return sqlalchemy.make_url(url).render_as_string(hide_password=True)
