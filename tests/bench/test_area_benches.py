"""The benchmarks of each area, now under `servicepulse.bench` (issue 21: bench sits above
the features it measures), still run from their commands and write their section of the
benchmarks file: `bench connectors` and `bench simulate` at a tiny size, in a process of their
own pointed at a scratch BENCHMARKS.md (SERVICEPULSE_BENCHMARKS_FILE). The insights benchmark
has its tests in tests/insights (test_topics, test_drivers); the scorecards one takes a minute
even at the smallest centre and is run by hand."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def _bench(tmp_path: Path, *arguments: str) -> tuple[str, str]:
    """Run `servicepulse bench ...`; its output and the scratch benchmarks file."""
    benchmarks = tmp_path / "BENCHMARKS.md"
    done = subprocess.run(
        [sys.executable, "-m", "servicepulse", "bench", *arguments], capture_output=True,
        text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "SERVICEPULSE_BENCHMARKS_FILE": str(benchmarks)})
    assert done.returncode == 0, done.stderr
    return done.stdout, benchmarks.read_text()


def test_connectors_bench_writes_its_section(tmp_path: Path) -> None:
    out, written = _bench(tmp_path, "connectors", "--size", "200", "--runs", "1")
    section = re.search(r"<!-- bench:connectors -->\n(.*)\n<!-- /bench:connectors -->",
                        written, re.DOTALL)
    assert section is not None and section.group(1).strip() == out.strip()
    assert section.group(1).startswith("## Connectors (`servicepulse bench connectors`)")
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1]
            for line in out.splitlines() if line.startswith("| ") and "---" not in line}
    # source rows per format for --size 200: 630 queue_log lines for 200 calls, tickets and
    # their metrics, half as many Freshdesk tickets, 200 CSV rows
    assert rows == {"format": "source rows", "asterisk (queue_log lines)": "630",
                    "zendesk (tickets + metrics)": "200", "freshdesk (tickets)": "100",
                    "csv (mapped rows)": "200"}


def test_simulate_bench_writes_its_section(tmp_path: Path) -> None:
    scratch = tmp_path / "simulated.jsonl"
    out, written = _bench(tmp_path, "simulate", "--agents", "12", "--days", "1", "--runs", "1",
                          "--out", str(scratch))
    assert "<!-- bench:simulate -->\n## Simulator (`servicepulse bench simulate --agents 12 " \
           "--days 1`)" in written
    assert "| interactions | 1,061 |" in out  # the seeded centre: 12 agents, one day
    assert "| records (all kinds) | 19,540 (3 MB of JSON Lines) |" in out
    assert not scratch.exists()  # the scratch file is removed


def test_a_centre_too_small_to_simulate_is_a_usage_error(tmp_path: Path) -> None:
    # said before anything runs, exit 2 (it was an unexpected ValueError with a logged reference)
    for command in ("simulate", "scorecards"):
        done = subprocess.run(
            [sys.executable, "-m", "servicepulse", "bench", command, "--agents", "3"],
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
            env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "COLUMNS": "200"})
        assert done.returncode == 2, done.stderr
        assert "agents: 3 is too few; the simulated centre needs at least 12" in done.stderr
        assert not (tmp_path / "state").exists()  # nothing logged: not a bug
