"""State shared by every command: the store URL, opened (and migrated) on first use."""

from __future__ import annotations

from dataclasses import dataclass, field

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
