"""Times in the store are epoch seconds UTC; these convert at the edges."""

from __future__ import annotations

from datetime import UTC, date, datetime


def to_epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def from_epoch(value: float | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value, UTC)


def date_to_epoch(value: date) -> float:
    """Midnight UTC at the start of `value`."""
    return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
