"""A small result cache for dashboard runners: one computation per key, shared by all clients.

Keys include the data version (bumped by `LiveHub.changed()` on every write) so an ingest makes
fresh numbers visible at once; entries also expire after `ttl` seconds, which bounds staleness
for writes the hub cannot see (another process writing a SQLite file). Concurrent requests for
the same key wait for the one computation in flight instead of starting 50 of their own.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool


class ResultCache:
    def __init__(self, ttl: float = 30.0, max_entries: int = 512) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._in_flight: dict[str, asyncio.Future[Any]] = {}

    def clear(self) -> None:
        self._entries.clear()

    async def get(self, key: str, compute: Callable[[], Any]) -> Any:
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            self._entries.move_to_end(key)
            return entry[1]
        pending = self._in_flight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            value = await run_in_threadpool(compute)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            self._in_flight.pop(key, None)
        future.set_result(value)
        self._entries[key] = (time.monotonic() + self.ttl, value)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return value
