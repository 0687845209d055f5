"""Property-based API testing: schemathesis generates requests from /openapi.json (fetched
with credentials, as every route but login and health needs them) and no request may get a
server error. Kept short: a bounded number of examples per operation.

The server runs in its own process, not in a thread of the test's. CPython 3.11 before 3.11.8
keeps the AST constructor's recursion count in interpreter-wide state (gh-106905, fixed by
python/cpython#113035): two threads building ASTs at once corrupt each other's count and one
fails with "SystemError: AST constructor recursion depth mismatch". Hypothesis builds ASTs all
the time (it parses the source of every newly imported local module for constants), and so
does a server (pydantic's `inspect.signature` of builtins, parsed from their text
signatures); in one process, a server thread's parse during hypothesis' failed the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from sqlalchemy import Engine

from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.results import KpiResult
from servicepulse.store.database import open_store
from servicepulse.web.app import create_app
from tests.web.conftest import Tokens, _free_port, fake_kpi

ROOT = Path(__file__).parents[2]
STORE_VARIABLE = "SERVICEPULSE_SCHEMATHESIS_STORE"


def validating_fake_kpi(engine: Engine, query: KpiQuery) -> KpiResult:
    # The engine's own query validation runs, so bad parameters take the real path (422).
    KpiQuery.model_validate(query.model_dump(by_alias=True))
    return fake_kpi(engine, query)


def served_app() -> FastAPI:
    """The app the server process runs (`uvicorn --factory`), on the store the test copied."""
    engine = open_store(os.environ[STORE_VARIABLE])
    return create_app(engine, kpi=validating_fake_kpi, prewarm=False)


@pytest.fixture(scope="module")
def api_server(centre_template: tuple[Path, Tokens],
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Tokens]]:
    template, tokens = centre_template
    path = tmp_path_factory.mktemp("schemathesis") / "store.db"
    shutil.copy(template, path)
    port = _free_port()
    log = path.with_name("server.log")  # a file, not a pipe nobody reads until the end
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", f"{__name__}:served_app",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT, env={**os.environ, STORE_VARIABLE: f"sqlite:///{path}"},
            stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start in 120 s"
                time.sleep(0.2)
        yield url, tokens
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_no_server_errors(api_server: tuple[str, Tokens]) -> None:
    url, tokens = api_server
    loaded = schemathesis.openapi.from_url(f"{url}/openapi.json",
                                           headers=tokens.header("admin"))
    tested = []
    for result in loaded.get_all_operations():
        assert isinstance(result, Ok), result  # else the app's own schema is invalid
        operation = result.ok()
        if operation.path == "/api/v1/live" or operation.path.startswith("/api/v1/webhooks/"):
            # live: the stream never ends; webhooks: authenticated by the sender's signature
            # and 503 by design while no secret is configured (tested by their own tests)
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def no_server_error(case: Any) -> None:
            response = case.call(base_url=url, headers=tokens.header("admin"))
            case.validate_response(response, checks=[not_a_server_error])

        no_server_error()
        tested.append(f"{operation.method.upper()} {operation.path}")
    assert len(tested) >= 16, tested
