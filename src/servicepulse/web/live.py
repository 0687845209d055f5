"""Live updates: a change signal, the data version it bumps, and the wallboard broadcast.

Whoever changes the data calls `LiveHub.changed()` (the records API does, after its import).
With PostgreSQL, a trigger (migration 0003) also NOTIFYs `servicepulse_live` on every write to
interactions, agent states and surveys, and each server process LISTENs on a thread, so writes
by any process reach every server. With SQLite there is no cross-process signal: changes made
in the serving process are pushed at once, others show at the next periodic refresh.

A single pump task recomputes the wallboard once per burst of changes (not once per client)
and hands the new state to every open server-sent-events stream. Two independent loops do it:
the counts (waiting contacts, agent states, contacts today: plain indexed SQL, milliseconds)
and today's KPI tiles from the KPI engine (slower); each pushes as soon as it is ready, so a
slow KPI computation never holds back the counts. After a change the tiles start once the
counts of that change are out (at most `COUNTS_FIRST_S` later): computed side by side, the
two would share the interpreter and the counts would arrive as late as the tiles.

The state says as of when its figures are (`as_of`, ISO 8601 in the organisation's time zone):
when the older of its two parts started computing. The page prints it ("Figures as of") and
the live script updates it with the data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from sqlalchemy import Engine

from servicepulse.web.cache import as_of_time, note_figures

CHANNEL = "servicepulse_live"
DEBOUNCE_S = 0.05  # coalesce a burst of writes into one recompute
REFRESH_S = 10.0  # waits grow while nothing is written; also picks up SQLite writes by others
COUNTS_FIRST_S = 1.0  # the tiles wait at most this long for the counts of the same change
FRESH_TILES_S = 60.0  # a caller asking for up-to-date tiles waits at most this long

log = logging.getLogger(__name__)


class LiveHub:
    def __init__(self, engine: Engine, compute_counts: Callable[[], dict[str, Any]],
                 compute_kpis: Callable[[], dict[str, Any]], timezone: str = "UTC") -> None:
        self.engine = engine
        self.timezone = timezone  # of the state's `as_of`
        self.compute_counts = compute_counts
        self.compute_kpis = compute_kpis
        self.version = 0  # bumped by every change; result caches key on it
        self.state: dict[str, Any] | None = None
        self.state_version = -1
        self._subscribers: set[asyncio.Queue[bytes]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakes: list[asyncio.Event] = []
        self._parts: dict[int, dict[str, Any]] = {}
        self._parts_at: dict[int, float] = {}  # epoch seconds each part's computation started
        self._stop = threading.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._listener: threading.Thread | None = None
        self._ready: asyncio.Event | None = None
        self._counts_version = -1  # the data version the published counts are of
        self._counts_out: asyncio.Event | None = None
        self._tiles_version = -1  # ... and the published KPI tiles
        self._tiles_at = 0.0  # when (monotonic) the published tiles were computed
        self._tiles_out: asyncio.Event | None = None
        self._tiles_wanted: asyncio.Event | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._ready = asyncio.Event()
        self._counts_out = asyncio.Event()
        self._counts_version = -1
        self._tiles_out, self._tiles_wanted = asyncio.Event(), asyncio.Event()
        self._tiles_version = -1
        self._stop.clear()
        if self.engine.dialect.name == "postgresql":
            self._listener = threading.Thread(target=self._listen, name="servicepulse-listen",
                                              daemon=True)
            self._listener.start()
        self._wakes = [asyncio.Event(), asyncio.Event()]
        self._parts, self._parts_at = {}, {}
        for step, wake in zip((self.compute_counts, self.compute_kpis), self._wakes, strict=True):
            self._tasks.append(asyncio.create_task(self._pump(step, wake)))

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        # Bounded: on Python 3.11 a cancel that lands as `wait_for` completes can be swallowed
        # (CPython gh-86296); the loops also check `_stop`, so they end on their next turn.
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        self._tasks.clear()
        if self._listener is not None:
            await asyncio.to_thread(self._listener.join, 5)
            self._listener = None

    # -- signalling --------------------------------------------------------------------------
    def changed(self) -> None:
        """Data changed: safe to call from any thread (the request's worker thread included)."""
        self.version += 1
        loop = self._loop
        if loop is not None and not loop.is_closed():
            for wake in self._wakes:
                loop.call_soon_threadsafe(wake.set)

    def _listen(self) -> None:
        import psycopg

        url = self.engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as connection:
                    # LISTEN takes an identifier, not a parameter: CHANNEL is a constant
                    connection.execute(f"LISTEN {CHANNEL}")
                    # A write may have happened while we were (re)connecting.
                    self.changed()
                    while not self._stop.is_set():
                        for _notify in connection.notifies(timeout=0.5, stop_after=1):
                            self.changed()
            except Exception:  # the server restarted or the network dropped: retry
                log.exception("live listener lost its PostgreSQL connection; reconnecting")
                self._stop.wait(1.0)

    # -- wallboard broadcast -----------------------------------------------------------------
    async def _pump(self, step: Callable[[], dict[str, Any]], wake: asyncio.Event) -> None:
        """Recompute one part of the state after each burst of changes (or every REFRESH_S).
        Counts and KPI tiles run as two such loops, so a slow engine never delays counts."""
        assert self._ready is not None
        first = True
        while not self._stop.is_set():
            if step is self.compute_kpis and not first:
                await self._until_tiles_wanted()
            first = False
            wake.clear()  # changes so far are in this computation
            version = self.version
            if step is self.compute_kpis:
                await self._counts_first(version)
            started, started_at = time.monotonic(), time.time()
            try:
                part = await asyncio.to_thread(step)
            except Exception:
                log.exception("wallboard state failed")
                part = {"error": "the wallboard could not be computed; see the server log"}
            self._parts[id(step)] = part
            self._parts_at[id(step)] = started_at
            state: dict[str, Any] = {}
            for piece in self._parts.values():
                state.update(piece)
            state["computed_at"] = time.time()
            state["as_of"] = as_of_time(min(self._parts_at.values()),
                                        self.timezone).isoformat()
            state["version"] = version
            if step is self.compute_counts or self.state is not None:
                self._publish(state, version)  # the first state shown always has the counts
            if step is self.compute_counts:
                self._counts_version = version
                assert self._counts_out is not None
                self._counts_out.set()
            elif self.state is not None:
                self._tiles_version = version
                self._tiles_at = started
                assert self._tiles_out is not None
                self._tiles_out.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), REFRESH_S)
            wake.clear()
            await asyncio.sleep(DEBOUNCE_S)
            wake.clear()

    async def _until_tiles_wanted(self) -> None:
        """The KPI tiles cost the engine seconds: recomputed only while a wallboard stream is
        open, or when a caller asks for them (`current_state(fresh_tiles=True)`)."""
        assert self._tiles_wanted is not None
        while not self._subscribers and not self._stop.is_set():
            if self._tiles_wanted.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._tiles_wanted.wait(), 1.0)
        self._tiles_wanted.clear()

    def _want_tiles(self) -> None:
        if self._tiles_wanted is not None:
            self._tiles_wanted.set()
        if len(self._wakes) > 1:
            self._wakes[1].set()  # the tiles' loop, if it is waiting for a change

    async def _counts_first(self, version: int) -> None:
        """Wait until the counts of `version` are published, at most COUNTS_FIRST_S."""
        assert self._counts_out is not None
        deadline = time.monotonic() + COUNTS_FIRST_S
        while self._counts_version < version and not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._counts_out.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._counts_out.wait(), left)

    def _publish(self, state: dict[str, Any], version: int) -> None:
        assert self._ready is not None
        self.state, self.state_version = state, version
        self._ready.set()
        message = b"event: wallboard\ndata: " + orjson.dumps(state) + b"\n\n"
        for queue in list(self._subscribers):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()  # a slow client only needs the newest state
            queue.put_nowait(message)

    async def current_state(self, fresh_tiles: bool = False,
                            wait_s: float = FRESH_TILES_S) -> dict[str, Any]:
        """The newest state. With `fresh_tiles`, KPI tiles of the data as it is now, waiting
        at most `wait_s` for them (the tiles are otherwise kept up to date only while a stream
        is open). Tiles older than REFRESH_S count as stale too: a writer in this process that
        does not signal (the demo's feed on SQLite) bumps no version."""
        assert self._ready is not None, "LiveHub.start() was not called"
        await self._ready.wait()
        if fresh_tiles and (self._tiles_version < self.version
                            or time.monotonic() - self._tiles_at > REFRESH_S):
            assert self._tiles_out is not None and self._tiles_wanted is not None
            target, asked = self.version, time.monotonic()
            deadline = asked + wait_s
            while (self._tiles_version < target or self._tiles_at < asked) \
                    and not self._stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._tiles_out.clear()
                self._want_tiles()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._tiles_out.wait(), left)
        assert self.state is not None
        note_figures(min(self._parts_at.values()))  # the page says as of when
        return self.state

    async def stream(self, is_disconnected: Callable[[], Any]) -> AsyncIterator[bytes]:
        """Server-sent events: the current state at once, then every new one."""
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1)
        self._subscribers.add(queue)
        if self._tiles_version < self.version:
            self._want_tiles()  # they were not kept up to date while nobody watched
        try:
            state = await self.current_state()
            yield b"retry: 1000\nevent: wallboard\ndata: " + orjson.dumps(state) + b"\n\n"
            while not self._stop.is_set():
                try:
                    yield await asyncio.wait_for(queue.get(), 15.0)
                except TimeoutError:
                    if await is_disconnected():
                        return
                    yield b": keep-alive\n\n"
        finally:
            self._subscribers.discard(queue)
