"""Helpers every benchmark uses: timing medians and writing its section of BENCHMARKS.md.

Each area owns one section, delimited by HTML comments, so areas can be re-measured apart:
`<!-- bench:NAME -->` … `<!-- /bench:NAME -->`.
"""

from __future__ import annotations

import platform
import re
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import os

BENCHMARKS_FILE = Path(os.environ.get("SERVICEPULSE_BENCHMARKS_FILE", "BENCHMARKS.md"))


def time_runs(run: Callable[[], object], repeats: int = 5, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of `repeats` runs of `run`, after `warmup` unmeasured runs."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine_line() -> str:
    return (f"{platform.python_implementation()} {platform.python_version()}, "
            f"{os.cpu_count()} cores, measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


def write_section(name: str, markdown: str, path: Path = BENCHMARKS_FILE) -> None:
    """Replace (or append) the section `name` of BENCHMARKS.md with `markdown`."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n\nMeasured with `servicepulse bench AREA`; medians of several runs on this machine.\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _m: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
