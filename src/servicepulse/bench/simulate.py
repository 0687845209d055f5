"""`servicepulse bench simulate`: how fast the simulator writes a million interactions.

Each run is timed on the wall clock and in process CPU time (the machine is shared, so CPU time
is the steadier figure; the load average is written next to it). The baseline, measured in the
same process, is generating the same records without serialising or writing them: the ratio
shows what the JSON Lines output costs on top of the simulation itself.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from servicepulse.bench.report import machine_line, median, write_section
from servicepulse.simulate import SimulationConfig, simulate_records, write_jsonl


def _timed(run: object) -> tuple[float, float, object]:
    assert callable(run)
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def run_simulate_bench(agents: int, days: int, runs: int, out: Path) -> str:
    config = SimulationConfig(agents=agents, days=days, seed=1)
    write_walls: list[float] = []
    write_cpus: list[float] = []
    records = interactions = size = 0
    loads: list[float] = []
    for _ in range(runs):
        loads.append(os.getloadavg()[0])
        wall, cpu, summary = _timed(lambda: write_jsonl(config, out, progress=False))
        write_walls.append(wall)
        write_cpus.append(cpu)
        records = summary.records  # type: ignore[attr-defined]
        interactions = summary.by_kind.get("interaction", 0)  # type: ignore[attr-defined]
        size = out.stat().st_size
    out.unlink(missing_ok=True)
    generate_walls: list[float] = []
    generate_cpus: list[float] = []
    for _ in range(runs):
        wall, cpu, _count = _timed(lambda: sum(1 for _ in simulate_records(config)))
        generate_walls.append(wall)
        generate_cpus.append(cpu)
    wall, cpu = median(write_walls), median(write_cpus)
    ratio = cpu / median(generate_cpus)
    scale = 1_000_000 / max(interactions, 1)  # figures per million interactions
    if wall * scale < 120:
        verdict = f"met ({wall * scale:.0f} s wall per million)"
    elif cpu * scale < 120:
        verdict = (
            f"met in CPU time ({cpu * scale:.0f} s per million); the wall time on the "
            f"shared machine was {wall * scale:.0f} s per million"
        )
    else:
        verdict = f"not met ({cpu * scale:.0f} s CPU per million)"
    markdown = f"""## Simulator (`servicepulse bench simulate --agents {agents} --days {days}`)

- Machine: {machine_line()}; load average {min(loads):.1f}-{max(loads):.1f} during the runs:
  the 2 cores were shared with other work, so CPU time is the steadier figure.
- Goal (one million interactions in under two minutes): {verdict}.

| measure | median of {runs} runs |
|---|---|
| interactions | {interactions:,} |
| records (all kinds) | {records:,} ({size / 1e6:,.0f} MB of JSON Lines) |
| wall time, simulate + write | {wall:.1f} s |
| CPU time, simulate + write | {cpu:.1f} s |
| records/s (wall / CPU) | {records / wall:,.0f} / {records / cpu:,.0f} |
| interactions/s (wall / CPU) | {interactions / wall:,.0f} / {interactions / cpu:,.0f} |
| baseline: generate only, no output (CPU) | {median(generate_cpus):.1f} s |
| simulate + write / generate only | {ratio:.2f}x |
"""
    write_section("simulate", markdown)
    return markdown
