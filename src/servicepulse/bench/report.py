"""Helpers every benchmark uses: timing medians and writing its section of BENCHMARKS.md.

Each area owns one section, delimited by HTML comments, so areas can be re-measured apart:
`<!-- bench:NAME -->` … `<!-- /bench:NAME -->`.
"""

from __future__ import annotations

import gc
import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS_FILE = Path(os.environ.get("SERVICEPULSE_BENCHMARKS_FILE", "BENCHMARKS.md"))


def time_runs(run: Callable[[], object], repeats: int = 5, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of `repeats` runs of `run`, after `warmup` unmeasured runs.

    Each run starts after a full garbage collection (not timed): otherwise a run pays for
    collecting what earlier runs, or other measurements, left behind.
    """
    for _ in range(warmup):
        gc.collect()
        run()
    times = []
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine_line() -> str:
    return (f"{platform.python_implementation()} {platform.python_version()}, "
            f"{os.cpu_count()} cores, measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


_HEADER = ("# Benchmarks\n\nMeasured with `servicepulse bench AREA` on the project's 2-core "
           "machine; medians of several runs, ratios against a baseline run in the same "
           "process.\n")


def write_section(name: str, markdown: str, path: Path = BENCHMARKS_FILE) -> None:
    """Replace (or append) the section `name` of BENCHMARKS.md with `markdown`."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    text = path.read_text() if path.exists() else _HEADER
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _match: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
