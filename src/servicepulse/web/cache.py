"""The runners' result cache: one computation per key, shared by every client.

Dashboards at a million contacts cost the KPI engine seconds per view, so the cache serves
*stale-while-revalidate*: once a view has been computed, a request gets the last result at
once, and when the data changed since (the live hub's version) or the entry is older than
`ttl`, one background recomputation refreshes it. So the numbers on a page are at most one
recomputation behind the newest data, and no request waits for the engine except the very
first one for a view. Concurrent requests for a key never start two computations.
With `serve_stale=False` (tests, or when exactness right after a write matters more than
latency) a stale entry is recomputed before answering.

The freshness contract (docs/kpis.md, "Engines"): every view says as of when its numbers are.
So each entry keeps the moment its computation started (its queries read the store from
then on), a value served from the cache keeps the time of the computation that made it, and
the request notes the oldest such time it was served (`figures_as_of`), which the base
template prints ("Figures as of ...") and the JSON API returns as `as_of`. A view model with
an `as_of` field gets it filled in here, once, when it is computed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cachetools import LRUCache
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)

# epoch seconds of the oldest computation whose figures this request was served; each request
# runs in its own task, hence its own copy of the context
_figures_as_of: ContextVar[float | None] = ContextVar("figures_as_of", default=None)


def figures_as_of() -> float | None:
    """When the oldest figures served to this request were computed (epoch seconds; None when
    none were)."""
    return _figures_as_of.get()


def note_figures(computed_at: float) -> None:
    """This request shows figures computed at `computed_at` (the oldest one counts)."""
    current = _figures_as_of.get()
    if current is None or computed_at < current:
        _figures_as_of.set(computed_at)


def as_of_time(computed_at: float, timezone: str) -> datetime:
    """`computed_at` in the organisation's time zone, to the second (as the pages show it)."""
    return datetime.fromtimestamp(int(computed_at), ZoneInfo(timezone))


def with_as_of(body: bytes, timezone: str) -> bytes:
    """A JSON object's text with `"as_of": ...` added at its end: this request's figures' time
    (servicepulse.web.cache.figures_as_of; now if it was served none)."""
    at = as_of_time(figures_as_of() or time.time(), timezone).isoformat()
    stripped = body.rstrip()
    if not stripped.endswith(b"}"):
        raise ValueError("with_as_of needs the text of a JSON object")
    inner = stripped[:-1].rstrip()
    separator = b"" if inner.endswith(b"{") else b","
    return inner + separator + b'"as_of":"' + at.encode() + b'"}'


@dataclass
class _Entry:
    version: int
    expires: float
    value: Any
    computed_at: float  # epoch seconds when its computation started


class ResultCache:
    def __init__(self, ttl: float = 60.0, max_entries: int = 512,
                 serve_stale: bool = True, timezone: str = "UTC") -> None:
        self.ttl = ttl
        self.serve_stale = serve_stale
        self.timezone = timezone  # of the `as_of` filled into view models
        self._entries: LRUCache[str, _Entry] = LRUCache(max_entries)
        self._in_flight: dict[str, asyncio.Future[_Entry]] = {}
        self._background: set[asyncio.Task[Any]] = set()

    @property
    def max_entries(self) -> int:
        return int(self._entries.maxsize)

    def clear(self) -> None:
        self._entries.clear()

    async def get(self, key: str, version: int, compute: Callable[[], Any]) -> Any:
        entry = self._entries.get(key)  # a hit counts as a use
        if entry is not None:
            if entry.version == version and entry.expires > time.monotonic():
                note_figures(entry.computed_at)
                return entry.value
            if self.serve_stale:
                if key not in self._in_flight:
                    task = asyncio.create_task(self._refresh(key, version, compute))
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)
                note_figures(entry.computed_at)
                return entry.value
        entry = await self._compute(key, version, compute)
        note_figures(entry.computed_at)
        return entry.value

    async def _refresh(self, key: str, version: int, compute: Callable[[], Any]) -> None:
        try:
            await self._compute(key, version, compute)
        except Exception:  # the stale value stays; the next request tries again
            log.exception("background refresh of %s failed", key)

    async def _compute(self, key: str, version: int, compute: Callable[[], Any]) -> _Entry:
        pending = self._in_flight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[_Entry] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        started = time.time()
        try:
            value = await run_in_threadpool(compute)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no warning when nobody else waited
            raise
        finally:
            self._in_flight.pop(key, None)
        if isinstance(value, BaseModel) and "as_of" in type(value).model_fields:
            setattr(value, "as_of", as_of_time(started, self.timezone))  # noqa: B010
        entry = _Entry(version, time.monotonic() + self.ttl, value, started)
        future.set_result(entry)
        self._entries[key] = entry
        return entry
