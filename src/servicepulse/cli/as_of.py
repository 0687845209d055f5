"""The freshness contract in the command line: a table ends with the moment its figures were
computed, "as of 2026-12-07 09:15:30 (Europe/Berlin)", in the organisation's time zone (the
settings' `timezone`), as every page says it (docs/web.md, "Pages"). Only tables: the JSON and
CSV output stay exactly the documents, for the programs that read them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def as_of_line(started: float, timezone: str) -> str:
    """The line for figures whose computation started at `started` (epoch seconds), in the
    organisation's `timezone` (the command's settings)."""
    at = datetime.fromtimestamp(int(started), ZoneInfo(timezone))
    return f"as of {at:%Y-%m-%d %H:%M:%S} ({timezone})"
