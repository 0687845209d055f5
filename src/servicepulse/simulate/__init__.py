"""A realistic, internally consistent simulated contact centre, as canonical records.

    from servicepulse.simulate import SimulationConfig, simulate_records, write_jsonl
    for record in simulate_records(SimulationConfig(agents=40, days=30, seed=1)): ...
    write_jsonl(SimulationConfig(agents=40, days=30), "demo.jsonl")

The order is: teams, calendars, agents, customers; then day by day the interactions (each
followed by its events and surveys), agent states, shifts, orders and social activity; last,
the backlog still open at the end. See docs/simulator.md for the model and what it hides.

`write_jsonl(config, path, as_of=moment)` writes the centre as it stood at `moment` (nothing
that happens later; what is in progress shows as such), and `servicepulse.simulate.live`
releases the rest as its time comes (the live demo).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson

from servicepulse.simulate.config import DEFAULT_START, SimulationConfig
from servicepulse.simulate.engine import Simulation

__all__ = [
    "DEFAULT_START",
    "SimulationConfig",
    "SimulationSummary",
    "simulate_records",
    "special_agents",
    "write_jsonl",
]


def simulate_records(config: SimulationConfig) -> Iterator[dict[str, Any]]:
    """Canonical record dicts, deterministic by `config.seed`."""
    for _day, block in Simulation(config).blocks():
        yield from block


def special_agents(config: SimulationConfig) -> dict[str, str]:
    """Ids of the agents the product should find: `busy_not_effective` and `overloaded`."""
    import numpy as np

    from servicepulse.simulate.org import build_organisation

    org = build_organisation(config, np.random.default_rng(config.seed))
    return {
        "busy_not_effective": org.agents[org.busy_not_effective].id,
        "overloaded": org.agents[org.overloaded].id,
    }


@dataclass
class SimulationSummary:
    records: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    bytes_written: int = 0


def write_jsonl(
    config: SimulationConfig,
    path: str | Path,
    progress: bool = True,
    as_of: datetime | None = None,
) -> SimulationSummary:
    """Write the simulation as JSON Lines to `path` ("-" for stdout). A rich progress bar
    shows the days when `progress` and stderr is a terminal. With `as_of`, only what had
    happened by that moment, as it then stood (see `servicepulse.simulate.live`)."""
    summary = SimulationSummary()
    counts: dict[str, int] = {}
    blocks = _blocks(config, as_of)
    if str(path) == "-":
        _write(blocks, sys.stdout.buffer, config, counts, summary, progress)
        sys.stdout.buffer.flush()
    else:
        with open(path, "wb", buffering=1 << 20) as handle:
            _write(blocks, handle, config, counts, summary, progress)
    summary.by_kind = dict(sorted(counts.items()))
    summary.records = sum(counts.values())
    return summary


def _blocks(
    config: SimulationConfig, as_of: datetime | None
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """The simulation's blocks; with `as_of`, each as it stood then, and no day simulated
    beyond what can matter by then (the lookahead: an email received tonight is written
    with tomorrow, when it is answered)."""
    simulation = Simulation(config)
    if as_of is None:
        yield from simulation.blocks()
        return
    from servicepulse.simulate.live import LOOKAHEAD_DAYS, iso, records_as_of

    moment = iso(as_of)
    last = (as_of.date() - config.start).days + LOOKAHEAD_DAYS
    for day, block in simulation.blocks():
        if day > last:
            return
        yield day, list(records_as_of(block, moment))


def _write(
    blocks: Iterator[tuple[int, list[dict[str, Any]]]],
    handle: IO[bytes],
    config: SimulationConfig,
    counts: dict[str, int],
    summary: SimulationSummary,
    progress: bool,
) -> None:
    dumps = orjson.dumps
    newline = orjson.OPT_APPEND_NEWLINE

    def write_block(block: list[dict[str, Any]]) -> None:
        data = b"".join([dumps(record, option=newline) for record in block])
        handle.write(data)
        summary.bytes_written += len(data)
        for record in block:
            kind = record["type"]
            counts[kind] = counts.get(kind, 0) + 1

    show = progress and sys.stderr.isatty()
    if not show:
        for _day, block in blocks:
            write_block(block)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    # On stderr, so that `--out -` keeps stdout to the records.
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task("simulating days", total=config.days + 1)
        for day, block in blocks:
            write_block(block)
            bar.update(task, completed=day + 1)
