"""The API's part of the fault matrix: a real server killed mid-request, and imports while it
ingests, end equal to a clean import (see test_fault_matrix for the comparison).

`POST /api/v1/records` is stored whole or not at all: a server killed inside the request's
transaction leaves none of its records, and the client's retry stores them all. Derived data
the killed server had still to build stays marked; the next server's worker finishes it at
start-up.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import create_engine

from servicepulse.insights.tables import text_sentiment_pending
from servicepulse.kpi.tables import kpi_rollup_dirty
from servicepulse.store import tables
from servicepulse.web.users import create_token, create_user
from tests.ingest.faults import KILLER, assert_same, import_here, split_parts


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """`servicepulse serve` in its own process (with a kill point when asked)."""

    def __init__(self, url: str, kill: tuple[str, int] | None = None) -> None:
        self.port = _free_port()
        prefix = ["-c", KILLER, kill[0], str(kill[1])] if kill else ["-m", "servicepulse"]
        self.process = subprocess.Popen(
            [sys.executable, *prefix, "--db", url, "serve", "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.stderr.read().decode() \
                if self.process.stderr else "the server exited"
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError("the server did not start in 120 s")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def post(self, token: str, body: bytes) -> httpx.Response:
        return httpx.post(f"{self.base}/api/v1/records", content=body, timeout=300,
                          headers={"Authorization": f"Bearer {token}",
                                   "Content-Type": "application/x-ndjson"})

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()


def _token(url: str) -> str:
    engine = create_engine(url)
    try:
        create_user(engine, "feeder", "a long enough password", "admin")
        return create_token(engine, "feeder", "ingest")
    finally:
        engine.dispose()


def _counts(url: str) -> tuple[int, int, int]:
    """Interactions stored, rollup days and texts still marked for a rebuild."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return tuple(int(connection.execute(sa.select(sa.func.count()).select_from(t))
                             .scalar() or 0)
                         for t in (tables.interactions, kpi_rollup_dirty,
                                   text_sentiment_pending))  # type: ignore[return-value]
    finally:
        engine.dispose()


def _until_unmarked(url: str, seconds: float = 180.0) -> None:
    deadline = time.monotonic() + seconds
    while _counts(url)[1:] != (0, 0):
        assert time.monotonic() < deadline, f"still marked after {seconds} s: {_counts(url)}"
        time.sleep(0.5)


def test_server_killed_mid_request_stores_nothing_and_a_retry_completes(
        centre: Path, new_store: Any, clean: dict[str, Any]) -> None:
    url = new_store()
    token = _token(url)
    body = centre.read_bytes()  # about 4,000 records
    killed = Server(url, kill=("batch", 2))
    try:
        # twice over in one request (8,000 lines): two batches of 5,000 in the request's one
        # transaction; the server is killed in the second, after the first was written
        with pytest.raises(httpx.TransportError):  # the client never got an answer
            killed.post(token, body + body)
    finally:
        killed.kill()
    assert _counts(url) == (0, 0, 0)  # nothing of the request was stored

    retry = Server(url)
    try:
        answer = retry.post(token, body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["inserted"]["interaction"] == len(clean["interactions"])
    finally:
        retry.kill()  # at once: the rollup and the scores are still to be built
    assert _counts(url)[0] == len(clean["interactions"])

    restarted = Server(url)  # its worker finishes what the killed one left marked
    try:
        _until_unmarked(url)
    finally:
        restarted.kill()
    assert_same(url, clean)


def test_imports_while_the_server_ingests_equal_a_clean_import(
        centre: Path, new_store: Any, clean: dict[str, Any], tmp_path: Path) -> None:
    url = new_store()
    token = _token(url)
    over_api, over_cli = split_parts(centre, tmp_path, 2)
    server = Server(url)
    try:
        importing = subprocess.Popen([sys.executable, "-m", "servicepulse", "--db", url,
                                      "import", str(over_cli), "--batch-size", "700"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        lines = over_api.read_bytes().splitlines(keepends=True)
        for start in range(0, len(lines), 1000):
            answer = server.post(token, b"".join(lines[start:start + 1000]))
            assert answer.status_code == 200, answer.text
        _, errors = importing.communicate(timeout=600)
        assert importing.returncode == 0, errors.decode()
    finally:
        server.kill()
    # what the server's worker had not built yet is finished by the next import
    import_here(url, over_cli)
    assert _counts(url)[1:] == (0, 0)
    assert_same(url, clean)
