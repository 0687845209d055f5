"""State shared by every command: the store URL, opened (and migrated) on first use."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import typer
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
