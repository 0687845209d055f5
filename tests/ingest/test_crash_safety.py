"""Killing a real import process mid-file loses nothing committed; a re-run completes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
from sqlalchemy import create_engine, func, select

from servicepulse.store import tables

RECORDS = 60_000


def _write_big_file(path: Path) -> None:
    with path.open("wb") as handle:
        for n in range(RECORDS):
            handle.write(orjson.dumps({
                "type": "interaction", "id": f"i{n}", "channel": "email",
                "created_at": f"2026-03-{1 + n // 2880:02d}T{n // 120 % 24:02d}:"
                              f"{n // 2 % 60:02d}:{n % 2 * 30:02d}Z",
                "customer_id": f"c{n % 977}",
            }) + b"\n")


def _count(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(
                select(func.count()).select_from(tables.interactions)).scalar() or 0)
    except Exception:  # the table may not exist before the first migration committed
        return 0
    finally:
        engine.dispose()


def test_kill_mid_import_then_rerun_completes_without_duplicates(tmp_path: Path) -> None:
    data = tmp_path / "big.jsonl"
    _write_big_file(data)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    command = [sys.executable, "-m", "servicepulse", "--db", url, "import", str(data),
               "--batch-size", "500", "--format", "json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300  # a busy machine starts and migrates slowly
    while _count(url) < 2_000 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, "the import finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    committed = _count(url)
    assert 2_000 <= committed < RECORDS
    assert committed % 500 == 0  # whole batches only: each batch is one transaction

    rerun = subprocess.run(command, capture_output=True, check=True)
    summary = orjson.loads(rerun.stdout)
    assert summary["inserted"]["interaction"] == RECORDS - committed
    assert summary["unchanged"]["interaction"] == committed
    assert _count(url) == RECORDS
