"""What the app holds for its lifetime: the store engine, the KPI function, the live hub,
the runners' result cache and a short-lived identity cache."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import orjson
from cachetools import LRUCache
from fastapi.encoders import jsonable_encoder
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from servicepulse.config import Settings
from servicepulse.kpi.settings import KpiSettings, kpi_settings
from servicepulse.kpi.targets import check_targets
from servicepulse.web.access import Access
from servicepulse.web.cache import ResultCache
from servicepulse.web.kpi import KpiFunction
from servicepulse.web.live import LiveHub
from servicepulse.web.runners import RunContext, WallboardRunner
from servicepulse.web.users import User

log = logging.getLogger(__name__)
IDENTITY_TTL_S = 1.0  # a revoked token, disabled user or ended session stops working within this
MAX_BODY_BYTES = 32 * 1024 * 1024


class PageCache:
    """Rendered pages of cached views: (key, the view output they show) -> HTML, the
    `max_entries` used last (cachetools' LRU). An entry counts only while the result cache
    still hands out that very output object."""

    def __init__(self, max_entries: int = 256) -> None:
        self._pages: LRUCache[Hashable, tuple[Any, bytes]] = LRUCache(max_entries)

    @property
    def max_entries(self) -> int:
        return int(self._pages.maxsize)

    def get(self, key: Hashable, output: Any) -> bytes | None:
        hit = self._pages.get(key)  # a hit counts as a use
        if hit is None or hit[0] is not output:
            return None
        return hit[1]

    def put(self, key: Hashable, output: Any, body: bytes) -> None:
        self._pages[key] = (output, body)


def cache_key(*parts: Any) -> str:
    """A stable text key for a runner's parameters."""
    return orjson.dumps(jsonable_encoder(parts), option=orjson.OPT_SORT_KEYS).decode()


@dataclass
class Services:
    engine: Engine
    kpi: KpiFunction
    exact_kpi: KpiFunction | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    cache: ResultCache = field(default_factory=ResultCache)
    pages: PageCache = field(default_factory=PageCache)
    prewarm_views: bool = True
    hub: LiveHub = field(init=False)
    _identities: dict[tuple[str, str], tuple[float, User | None]] = field(default_factory=dict)

    # the configuration the app factory loaded (its one reading), and what the KPI engine
    # reads of it; without (tests building Services by hand): the documented defaults
    settings: Settings = field(default_factory=Settings)
    kpi_settings: KpiSettings = field(default_factory=kpi_settings)

    def __post_init__(self) -> None:
        # a [targets] entry that cannot be used stops the app at its start, with the key and
        # what is allowed, rather than failing every dashboard that draws a target line
        check_targets(self.kpi_settings)
        self.hub = LiveHub(self.engine, self.wallboard_counts, self.wallboard_kpis,
                           timezone=self.kpi_settings.timezone)
        self.cache.timezone = self.kpi_settings.timezone  # the views' `as_of`

    def context(self, access: Access) -> RunContext:
        return RunContext(engine=self.engine, kpi=self.kpi, access=access,
                          settings=self.kpi_settings, exact_kpi=self.exact_kpi)

    def wallboard_counts(self) -> dict[str, Any]:
        return WallboardRunner(self.context(Access())).run_counts()

    def wallboard_kpis(self) -> dict[str, Any]:
        return WallboardRunner(self.context(Access())).run_kpis()

    async def prewarm(self) -> None:
        """Compute the managers' default overview and channel views once at start-up, so the
        first visitor does not wait for the engine."""
        from servicepulse.web.runners import ChannelRunner, OverviewRunner, WindowInput

        context = self.context(Access())
        params = WindowInput()
        key = cache_key(params.model_dump())
        for name, runner in (("overview", OverviewRunner), ("channels", ChannelRunner)):
            try:
                await self.run_cached(name, context, key, runner(context, params).run)
            except Exception:
                log.exception("pre-computing the %s view failed", name)

    async def cached_identity(self, key: tuple[str, str],
                              lookup: Callable[[Engine, str], User | None]) -> User | None:
        now = time.monotonic()
        hit = self._identities.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        user = await run_in_threadpool(lookup, self.engine, key[1])
        if len(self._identities) > 10_000:
            self._identities.clear()
        self._identities[key] = (now + IDENTITY_TTL_S, user)
        return user

    def forget_identity(self, key: tuple[str, str]) -> None:
        self._identities.pop(key, None)

    async def run_cached(self, name: str, context: RunContext, params: str,
                         compute: Callable[[], Any]) -> Any:
        """A runner's output, shared between callers with the same scope until data changes."""
        key = f"{name}|{context.access.key}|{params}"
        return await self.cache.get(key, self.hub.version, compute)
