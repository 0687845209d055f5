"""Live wallboard: a record posted through the API reaches the server-sent events stream
within 2 seconds (SQLite, one process), and with PostgreSQL a write by another process
reaches the server's hub through LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine

from servicepulse.web.access import Access
from servicepulse.web.live import LiveHub
from servicepulse.web.runners import RunContext, WallboardRunner
from tests.web.conftest import LiveServer, fake_kpi, load_centre


def _now_record(record_id: str, channel: str = "phone") -> dict[str, Any]:
    created = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {"type": "interaction", "id": record_id, "channel": channel, "created_at": created}


def _events(url: str, headers: dict[str, str], into: list[tuple[float, dict[str, Any]]],
            stop: threading.Event) -> None:
    with httpx.stream("GET", f"{url}/api/v1/live", headers=headers, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                into.append((time.monotonic(), orjson.loads(line[6:])))
            if stop.is_set():
                return


def test_wallboard_updates_within_two_seconds(live_server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {live_server.tokens.manager}"}
    received: list[tuple[float, dict[str, Any]]] = []
    stop = threading.Event()
    reader = threading.Thread(target=_events, args=(live_server.url, headers, received, stop),
                              daemon=True)
    reader.start()
    deadline = time.monotonic() + 30
    while not received:
        assert time.monotonic() < deadline, "no initial wallboard event"
        time.sleep(0.05)
    before = received[-1][1]
    posted_at = time.monotonic()
    response = httpx.post(f"{live_server.url}/api/v1/records", headers=headers,
                          json=[_now_record("live-1")], timeout=30)
    assert response.json()["inserted"] == {"interaction": 1}
    arrived_at = time.monotonic()  # the record has arrived: the wallboard has 2 s from here
    updated = None
    while updated is None and time.monotonic() < arrived_at + 2.0:
        for at, state in list(received):
            if at >= posted_at and state.get("contacts_today") == before["contacts_today"] + 1:
                updated = state
        time.sleep(0.02)
    stop.set()
    assert updated is not None, f"no update within 2 s: {received[-1][1]}"
    # the new phone call is waiting: no answer yet
    assert {q["channel"]: q["waiting"] for q in updated["queues"]}.get("phone") == 1


@pytest.mark.postgres
def test_postgres_write_by_another_process_reaches_the_hub(postgres_store: Engine) -> None:
    load_centre(postgres_store)
    url = postgres_store.url.render_as_string(hide_password=False)
    context = RunContext(engine=postgres_store, kpi=fake_kpi, access=Access())
    runner = WallboardRunner(context)
    hub = LiveHub(postgres_store, runner.run_counts, runner.run_kpis)
    # Another process writes one interaction straight into the store (as any writer might:
    # an importer, a connector); kept light so the test does not pay for the importer's hooks.
    writer = (
        "import sys, time\n"
        "from sqlalchemy import create_engine\n"
        "from servicepulse.store.tables import interactions\n"
        "with create_engine(sys.argv[1]).begin() as connection:\n"
        "    connection.execute(interactions.insert().values(\n"
        "        id='pg-1', channel='phone', created_at=time.time(), direction='inbound',\n"
        "        reopens=0, transfers=0, escalated=False, given='{}', content_hash='x'))\n"
    )

    async def scenario() -> float:
        await hub.start()
        try:
            stream = hub.stream(lambda: asyncio.sleep(0, result=False))
            first = orjson.loads((await anext(stream)).split(b"data: ", 1)[1])
            version = hub.version
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", writer, url)
            assert await process.wait() == 0
            written = time.monotonic()
            while True:
                message = await asyncio.wait_for(anext(stream), 5)
                state = orjson.loads(message.split(b"data: ", 1)[1])
                if state["contacts_today"] == first["contacts_today"] + 1:
                    assert hub.version > version  # woken by NOTIFY, not by a timer
                    return time.monotonic() - written
        finally:
            await hub.stop()

    assert asyncio.run(scenario()) < 2.0


def test_hub_coalesces_a_burst_of_changes(sqlite_store: Engine) -> None:
    computed: list[int] = []

    def counts() -> dict[str, Any]:
        computed.append(1)
        return {"contacts_today": len(computed)}

    hub = LiveHub(sqlite_store, counts, lambda: {})

    async def scenario() -> None:
        await hub.start()
        try:
            await hub.current_state()
            for _ in range(100):
                hub.changed()
            await asyncio.sleep(0.5)
        finally:
            await hub.stop()

    asyncio.run(scenario())
    # one computation at start, then one for the whole burst (not 100)
    assert len(computed) == 2
    assert hub.version == 100


def test_after_a_change_the_tiles_start_once_its_counts_are_out(sqlite_store: Engine) -> None:
    events: list[str] = []
    hub: LiveHub

    def counts() -> dict[str, Any]:
        events.append(f"counts start v{hub.version}")
        time.sleep(0.2)  # slower than the debounce: the tiles would start meanwhile
        events.append("counts end")
        return {"contacts_today": 1}

    def kpis() -> dict[str, Any]:
        events.append(f"tiles start v{hub.version}")
        return {"cells": []}

    hub = LiveHub(sqlite_store, counts, kpis)

    async def scenario() -> None:
        await hub.start()
        watching = asyncio.create_task(_watch(hub))
        try:
            await hub.current_state()
            await asyncio.sleep(0.5)
            events.clear()
            hub.changed()
            await asyncio.sleep(1.0)
        finally:
            watching.cancel()
            await hub.stop()

    asyncio.run(scenario())
    assert events == ["counts start v1", "counts end", "tiles start v1"]


async def _watch(hub: LiveHub) -> None:
    """A wallboard stream kept open (what a browser on the wallboard page does)."""
    async def connected() -> bool:
        return False

    async for _message in hub.stream(connected):
        pass


def test_tiles_are_computed_only_while_watched_or_asked_for(sqlite_store: Engine) -> None:
    computed: list[str] = []

    def counts() -> dict[str, Any]:
        computed.append(f"counts v{hub.version}")
        return {"contacts_today": hub.version}

    def kpis() -> dict[str, Any]:
        computed.append(f"tiles v{hub.version}")
        return {"cells": [{"name": "contacts", "value": hub.version}]}

    hub = LiveHub(sqlite_store, counts, kpis)
    states: list[dict[str, Any]] = []

    async def scenario() -> None:
        await hub.start()
        try:
            await hub.current_state()
            await asyncio.sleep(0.3)
            hub.changed()  # nobody watches: counts only
            await asyncio.sleep(0.5)
            states.append(dict(await hub.current_state()))
            states.append(dict(await hub.current_state(fresh_tiles=True)))
            watching = asyncio.create_task(_watch(hub))
            await asyncio.sleep(0.1)
            hub.changed()  # watched: counts, then tiles
            await asyncio.sleep(0.5)
            watching.cancel()
        finally:
            await hub.stop()

    asyncio.run(scenario())
    assert computed == ["counts v0", "tiles v0", "counts v1", "tiles v1", "counts v2", "tiles v2"]
    assert states[0]["contacts_today"] == 1 and states[0]["cells"][0]["value"] == 0
    assert states[1]["cells"][0]["value"] == 1  # asked for: computed for the data now


def test_asked_for_tiles_older_than_the_refresh_are_recomputed_without_a_change(
        sqlite_store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer in the serving process that does not signal (the demo's feed on SQLite)
    bumps no version: the wallboard page still asks for tiles of the data as it is now once
    the last ones are older than the refresh period, and waits for them at most `wait_s`."""
    import servicepulse.web.live as live

    monkeypatch.setattr(live, "REFRESH_S", 0.2)
    data = {"contacts": 5}

    def counts() -> dict[str, Any]:
        return {"contacts_today": data["contacts"]}

    def kpis() -> dict[str, Any]:
        return {"cells": [{"name": "contacts", "value": data["contacts"]}]}

    hub = LiveHub(sqlite_store, counts, kpis)
    values: list[Any] = []

    async def scenario() -> None:
        await hub.start()
        try:
            await hub.current_state()
            values.append((await hub.current_state(fresh_tiles=True))["cells"][0]["value"])
            data["contacts"] = 6  # written without hub.changed()
            # younger than the refresh period: as they are, nothing recomputed
            values.append((await hub.current_state(fresh_tiles=True))["cells"][0]["value"])
            await asyncio.sleep(0.3)  # older now: recomputed for the data as it is
            values.append((await hub.current_state(fresh_tiles=True))["cells"][0]["value"])
        finally:
            await hub.stop()

    asyncio.run(scenario())
    assert values == [5, 5, 6]
