"""State shared by every command: the store URL, opened (and migrated) on first use; dates
and the default window of days every command shares with the pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:  # SQLAlchemy loads when a command opens the store, not at start-up
    from sqlalchemy import Engine


@dataclass
class CliState:
    db_url: str | None = None
    _engine: Engine | None = field(default=None, repr=False)

    def engine(self) -> Engine:
        if self._engine is None:
            from servicepulse.store import open_store

            try:
                self._engine = open_store(self.db_url)
            except ValueError as exc:
                raise typer.BadParameter(str(exc), param_hint="--db") from exc
        return self._engine


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj


def parse_date(value: str | None, option: str) -> date | None:
    """A `--from`/`--to`-style option: YYYY-MM-DD exactly, else a usage error naming it."""
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date: use YYYY-MM-DD (e.g. 2026-03-01)",
                                 param_hint=option) from None


def default_window(engine: Any, first: date | None, last: date | None) -> tuple[date, date]:
    """The days asked for, else the window every page opens on: the last
    `default_window_days` whole days with data (`servicepulse.web.periods`); `last` exclusive.
    One default for the pages and the commands, so both show the same numbers."""
    from servicepulse.config import default_window_days
    from servicepulse.kpi.settings import kpi_settings

    # the runners first: servicepulse.web.periods imported alone meets an import cycle
    from servicepulse.web.runners.base import resolve_window  # isort: skip
    from servicepulse.web.periods import data_span, default_end, local_today  # isort: skip

    timezone = kpi_settings(None).timezone
    if first is None and last is None:
        last = default_end(data_span(engine, timezone), local_today(timezone))
    try:
        window = resolve_window(engine, first, last, default_window_days(), timezone)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--from/--to") from None
    return window.from_, window.to
