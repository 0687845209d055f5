"""State shared by every command: the store URL, opened (and migrated) on first use; the
settings, loaded on first use, once a process (the command line's composition root: no other
module reads the configuration file); dates and the default window of days every command
shares with the pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import typer

from servicepulse.errors import InvalidRequest

if TYPE_CHECKING:  # SQLAlchemy and pydantic load when a command needs them, not at start-up
    from sqlalchemy import Engine

    from servicepulse.config import Settings
    from servicepulse.kpi.settings import KpiSettings


@dataclass
class CliState:
    db_url: str | None = None
    _engine: Engine | None = field(default=None, repr=False)
    _settings: Settings | None = field(default=None, repr=False)

    def engine(self) -> Engine:
        if self._engine is None:
            from servicepulse.store import open_store

            try:
                self._engine = open_store(self.db_url)
            except InvalidRequest as exc:  # not a URL, or not a database the store runs on
                raise typer.BadParameter(str(exc), param_hint="--db") from exc
        return self._engine

    def settings(self) -> Settings:
        """The configuration (servicepulse.toml, SERVICEPULSE_* variables), read the first time
        a command asks; a bad one is a ConfigError (exit 2, the message says what to fix)."""
        if self._settings is None:
            from servicepulse.config import load_settings
            from servicepulse.records import plausible

            self._settings = load_settings()
            # records read and written in this process are held to the configured plausible
            # values (docs/records.md, "Plausible values")
            plausible.configure_from_settings(self._settings)
        return self._settings

    def kpi_settings(self) -> KpiSettings:
        """What the KPI engine reads of `settings()`."""
        from servicepulse.kpi.settings import kpi_settings

        return kpi_settings(self.settings())


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


def default_window(engine: Any, first: date | None, last: date | None,
                   settings: KpiSettings) -> tuple[date, date]:
    """The days asked for, else the window every page opens on: the last
    `default_window_days` whole days with data (`servicepulse.kpi.window`); `last` exclusive.
    One default for the pages and the commands, so both show the same numbers."""
    from servicepulse.kpi.window import window_for  # SQLAlchemy and pydantic: on first use

    try:
        window = window_for(engine, first, last, settings.default_window_days,
                            settings.timezone)
    except InvalidRequest as error:
        raise typer.BadParameter(str(error), param_hint="--from/--to") from None
    return window.from_, window.to
