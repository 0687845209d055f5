"""`servicepulse demo`: a simulated contact centre that is alive, in the embedded store.

The demo simulates the last `--days` days up to today (and two weeks beyond, simulated only
as their time comes), writes what has happened by now to demo-data/demo.jsonl, imports it,
and, while the dashboard serves, keeps feeding what happens next (contacts, agent states,
surveys) through the importer every few seconds: the wallboard moves, alerts fire and the
staffing plan is about today. This module is the composition root that wires the simulator's
feed to the server (the web layer knows nothing of the simulator).

demo-data/demo.json remembers which simulation the file holds and as of when, so a demo
started again the same day (or within the two weeks) goes on with the same centre and
catches up from the file's moment to now; a demo whose days are over simulates anew.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from servicepulse.cli.context import state

if TYPE_CHECKING:
    from servicepulse.config import Settings
    from servicepulse.simulate import SimulationConfig

console = Console()
DEMO_DATA = Path("demo-data/demo.jsonl")
DEMO_STATE = Path("demo-data/demo.json")  # the simulation in DEMO_DATA, and as of when
HORIZON_DAYS = 14  # days simulated beyond today, fed as their time comes


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def _read_state() -> dict[str, Any] | None:
    try:
        data = json.loads(DEMO_STATE.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _reusable(saved: dict[str, Any] | None, agents: int, seed: int,
              today: date) -> tuple[SimulationConfig, datetime] | None:
    """The saved simulation, if it is the one asked for and its days are not over."""
    from servicepulse.simulate import SimulationConfig
    from servicepulse.simulate.live import LOOKAHEAD_DAYS

    if saved is None or not DEMO_DATA.exists():
        return None
    try:
        config = SimulationConfig(agents=int(saved["agents"]), days=int(saved["days"]),
                                  seed=int(saved["seed"]),
                                  start=date.fromisoformat(saved["start"]),
                                  around_the_clock=bool(saved["around_the_clock"]))
        as_of = datetime.fromisoformat(saved["as_of"])
    except (KeyError, TypeError, ValueError):
        return None
    last_day = config.start + timedelta(days=config.days - 1)
    if (config.agents, config.seed) != (agents, seed) or not (
            config.start <= today <= last_day - timedelta(days=LOOKAHEAD_DAYS)):
        return None
    return config, as_of


def ensure_demo_data(ctx: typer.Context, agents: int, days: int, seed: int,
                     now: datetime) -> tuple[SimulationConfig, datetime]:
    """Simulate (when there is no demo file of this centre whose days include today), write
    what has happened by `now`, and import the file into the store (idempotent). Returns the
    simulation and the moment the file is as of."""
    from servicepulse.cli.simulate import organisation_today
    from servicepulse.ingest.importer import Importer
    from servicepulse.ingest.readers import read_paths
    from servicepulse.simulate import SimulationConfig, write_jsonl

    today = organisation_today(now, state(ctx).settings().timezone)
    saved = _read_state()
    reused = _reusable(saved, agents, seed, today)
    if reused is not None:
        config, as_of = reused
        console.print(f"Demo centre of {config.agents} agents from {config.start}, as of "
                      f"{as_of:%Y-%m-%d %H:%M} UTC ({DEMO_DATA}); the feed catches up to now.")
    else:
        config = SimulationConfig(agents=agents, days=days + HORIZON_DAYS, seed=seed,
                                  start=today - timedelta(days=days - 1),
                                  around_the_clock=True)
        as_of = now
        DEMO_DATA.parent.mkdir(parents=True, exist_ok=True)
        if saved is not None or DEMO_DATA.exists():
            console.print(f"The demo file {DEMO_DATA} is of days that are over: simulating "
                          "anew. (A store that holds the earlier demo keeps its records; "
                          "for a clean one, remove the store file first.)")
        console.print(f"Simulating {agents} agents over {days} days, {config.start} to "
                      f"{today}, up to now ({now:%H:%M} UTC), into {DEMO_DATA} ...")
        write_jsonl(config, DEMO_DATA, as_of=now)
        DEMO_STATE.write_text(json.dumps({
            "agents": config.agents, "days": config.days, "seed": config.seed,
            "start": config.start.isoformat(), "around_the_clock": config.around_the_clock,
            "as_of": now.isoformat()}, indent=2) + "\n")
    engine = state(ctx).engine()
    console.print(f"Importing {DEMO_DATA} into {engine.url.render_as_string(hide_password=True)}"
                  " ...")
    summary = Importer(engine).import_rows(read_paths([DEMO_DATA]))
    inserted = sum(summary.inserted.values())
    console.print(f"{inserted:,} records new, {sum(summary.unchanged.values()):,} already there,"
                  f" {summary.quarantined:,} quarantined ({summary.seconds:.1f} s).")
    return config, as_of


# Example alert rules the demo stores (a rule of the same name is replaced), so that the Alerts
# page shows alerts firing and recovering as the centre works.
DEMO_ALERT_RULES: tuple[dict[str, Any], ...] = (
    {"name": "demo: service level today", "kpi": "service_level", "window_days": 1},
    {"name": "demo: abandon rate today", "kpi": "abandon_rate", "window_days": 1},
    {"name": "demo: agent CSAT below 50% this week", "kpi": "csat", "per_agent": True,
     "condition": "below", "threshold": 50.0, "scope": "role:frontline"},
    {"name": "demo: agent occupancy above 90%", "kpi": "occupancy", "per_agent": True,
     "condition": "above", "threshold": 90.0, "scope": "role:frontline"},
)


ALERT_CHECK_EVERY_S = 60.0


def demo_alerts(engine: Any, settings: Settings) -> Callable[..., None]:
    """Store the demo's alert rules; return the check the feed runs after its imports (the
    rules the imports queued; all of them with `pending=False`), printing what fired."""
    from servicepulse.scorecards.alerts import (
        AlertRule,
        add_rule,
        all_rules,
        check_pending,
        check_rules,
        remove_rule,
    )

    names = {values["name"] for values in DEMO_ALERT_RULES}
    for rule in all_rules(engine, settings):  # an earlier version's demo rules
        if rule.origin == "store" and rule.name.startswith("demo: ") and rule.name not in names:
            remove_rule(engine, rule.name)
    for values in DEMO_ALERT_RULES:
        add_rule(engine, AlertRule.from_mapping(dict(values), "store"))

    last_check = [0.0]

    def check(pending: bool = True) -> None:
        # The KPI queries of a check take seconds: at most one a minute, so that the feed
        # stays on time.
        if pending and time.monotonic() - last_check[0] < ALERT_CHECK_EVERY_S:
            return
        last_check[0] = time.monotonic()
        summary = (check_pending(engine, settings) if pending
                   else check_rules(engine, settings))
        for line in summary.fired:
            console.print(f"alert fired: {line}")
        for line in summary.recovered:
            console.print(f"alert recovered: {line}")

    return check


def demo(
    ctx: typer.Context,
    agents: Annotated[int, typer.Option(min=12, max=5000, help="Agents in the centre.")] = 40,
    days: Annotated[int, typer.Option(min=1, max=365, help="Days of history up to today.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same centre.")] = 1,
    serve: Annotated[bool, typer.Option(
        help="Start the dashboard afterwards, and keep feeding the centre while it serves.")
    ] = True,
    port: Annotated[int, typer.Option(help="Port of the dashboard (127.0.0.1).")] = 8000,
) -> None:
    """Simulate a contact centre up to now, import it into the store, and open the dashboard
    while the centre keeps working (new contacts, agent states and surveys every few
    seconds)."""
    from servicepulse.cli.simulate import current_time

    config, as_of = ensure_demo_data(ctx, agents, days, seed, current_time())
    from servicepulse.cli.demo_summary import print_agent_summary

    print_agent_summary(state(ctx).engine(), console, state(ctx).kpi_settings())
    if serve:
        from servicepulse.cli.web import serve_demo
        from servicepulse.simulate.live import Feeder, LiveFeed, describe_fed

        engine = state(ctx).engine()
        check_alerts = demo_alerts(engine, state(ctx).settings())
        feeder = Feeder(LiveFeed(config, as_of), engine, report=console.print,
                        after_tick=lambda _result: check_alerts(pending=True))
        console.print("Catching up the demo centre to now ...")
        caught_up = feeder.tick()
        console.print(describe_fed(caught_up.by_kind, caught_up.until))
        check_alerts(pending=False)
        serve_demo(engine, port, feeder)
