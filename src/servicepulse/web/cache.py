"""The runners' result cache: one computation per key, shared by every client.

Dashboards at a million contacts cost the KPI engine seconds per view, so the cache serves
*stale-while-revalidate*: once a view has been computed, a request gets the last result at
once, and when the data changed since (the live hub's version) or the entry is older than
`ttl`, one background recomputation refreshes it. So the numbers on a page are at most one
recomputation behind the newest data, and no request waits for the engine except the very
first one for a view. Concurrent requests for a key never start two computations.
With `serve_stale=False` (tests, or when exactness right after a write matters more than
latency) a stale entry is recomputed before answering.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache
from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)


@dataclass
class _Entry:
    version: int
    expires: float
    value: Any


class ResultCache:
    def __init__(self, ttl: float = 60.0, max_entries: int = 512,
                 serve_stale: bool = True) -> None:
        self.ttl = ttl
        self.serve_stale = serve_stale
        self._entries: LRUCache[str, _Entry] = LRUCache(max_entries)
        self._in_flight: dict[str, asyncio.Future[Any]] = {}
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
                return entry.value
            if self.serve_stale:
                if key not in self._in_flight:
                    task = asyncio.create_task(self._refresh(key, version, compute))
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)
                return entry.value
        return await self._compute(key, version, compute)

    async def _refresh(self, key: str, version: int, compute: Callable[[], Any]) -> None:
        try:
            await self._compute(key, version, compute)
        except Exception:  # the stale value stays; the next request tries again
            log.exception("background refresh of %s failed", key)

    async def _compute(self, key: str, version: int, compute: Callable[[], Any]) -> Any:
        pending = self._in_flight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            value = await run_in_threadpool(compute)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no warning when nobody else waited
            raise
        finally:
            self._in_flight.pop(key, None)
        future.set_result(value)
        self._entries[key] = _Entry(version, time.monotonic() + self.ttl, value)
        return value
