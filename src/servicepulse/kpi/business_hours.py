"""Business seconds between two instants under a team calendar (issue 3, item 5).

A calendar is an IANA time zone, weekly opening hours in local wall-clock time
(`{"mon": [["09:00", "17:00"]], ...}`, "24:00" allowed as an end) and holidays (local dates with
no business hours at all). An instant is inside business hours when the local clock reading at
that instant falls in one of the day's ranges. So, across daylight-saving changes:
- a range counts the real time that passes while the clock shows it: 00:00-24:00 is 23 hours
  on the spring-forward day and 25 on the fall-back day; 09:00-17:00 stays 8 hours;
- a clock time that never happens (01:30 in London on the spring-forward night) is skipped, and
  one that happens twice (01:30 on the fall-back night) counts twice.

How it is computed: for the span of the instants asked about, the calendar is expanded once
into sorted UTC open intervals with cumulative business seconds (O(days in the span)); then
business_seconds(a, b) = C(b) − C(a), where C is found for whole arrays of instants at once
with a binary search (numpy). The refresher below keeps `interactions.first_response_business_s`
and `interactions.resolution_business_s` up to date with it after every import batch.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import orjson
from sqlalchemy import Connection, Select, bindparam, func, select, update

from servicepulse.ingest.driver import in_ids
from servicepulse.ingest.hooks import Touched
from servicepulse.records.models import WEEKDAYS
from servicepulse.store import tables

logger = logging.getLogger(__name__)

DAY_S = 86_400
EPOCH = date(1970, 1, 1)
_EPOCH_WEEKDAY = EPOCH.weekday()  # 1970-01-01 was a Thursday (3, with Monday = 0)
# Offsets are sampled this often and changes bisected to the second: real zones never change
# twice within six hours.
_OFFSET_STEP_S = 6 * 3600
# Channels whose first response is the answer (docs/kpis.md: voice and chat), as the engine's
# raw frt_s does; other channels use the first public agent message.
ANSWERED_CHANNELS = frozenset({"phone", "chat"})
CHUNK_SIZE = 1000

FloatArray = npt.NDArray[np.float64]
WeeklyRanges = tuple[tuple[tuple[int, int], ...], ...]  # per weekday: (start s, end s) ranges


def _clock_seconds(value: str, where: str) -> int:
    parts = value.split(":") if isinstance(value, str) else []
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        raise ValueError(f"{where}: time of day {value!r} is not HH:MM (e.g. \"09:00\")")
    hour, minute = int(parts[0]), int(parts[1])
    if not (0 <= hour <= 24 and 0 <= minute < 60) or (hour == 24 and minute != 0):
        raise ValueError(f"{where}: time of day {value!r} is out of range 00:00-24:00")
    return hour * 3600 + minute * 60


def _weekly_ranges(hours: Mapping[str, Sequence[Sequence[str]]]) -> WeeklyRanges:
    """Per weekday (Monday first), the merged (start, end) ranges in seconds after midnight."""
    week: list[tuple[tuple[int, int], ...]] = []
    unknown = set(hours) - set(WEEKDAYS)
    if unknown:
        raise ValueError(
            f"hours: {', '.join(sorted(unknown))} is not a weekday; use {', '.join(WEEKDAYS)}"
        )
    for day in WEEKDAYS:
        ranges: list[tuple[int, int]] = []
        for index, pair in enumerate(hours.get(day, ())):
            where = f"hours.{day}[{index}]"
            if len(pair) != 2:
                raise ValueError(f"{where}: a range is [\"HH:MM\", \"HH:MM\"], got {pair!r}")
            start, end = _clock_seconds(pair[0], where), _clock_seconds(pair[1], where)
            if end <= start:
                raise ValueError(f"{where}: range {pair[0]}-{pair[1]} ends before it starts")
            ranges.append((start, end))
        merged: list[tuple[int, int]] = []
        for start, end in sorted(ranges):  # overlapping ranges must not count twice
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        week.append(tuple(merged))
    return tuple(week)


def _day_number(value: date | str) -> int:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError as error:
            raise ValueError(f"holidays: {value!r} is not a date (YYYY-MM-DD)") from error
    return (value - EPOCH).days


def _utc_offset(zone: ZoneInfo, instant: int) -> int:
    delta = datetime.fromtimestamp(instant, UTC).astimezone(zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def _offset_segments(zone: ZoneInfo, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(segment start, segment end, UTC offset) pieces of [start, end) with a constant offset."""
    segment_start, offset = start, _utc_offset(zone, start)
    instant = start
    while instant < end:
        following = min(instant + _OFFSET_STEP_S, end)
        if _utc_offset(zone, following) == offset:
            instant = following
            continue
        low, high = instant, following  # the change lies in (low, high]: bisect to the second
        while high - low > 1:
            middle = (low + high) // 2
            if _utc_offset(zone, middle) == offset:
                low = middle
            else:
                high = middle
        yield segment_start, high, offset
        segment_start, offset, instant = high, _utc_offset(zone, high), high
    yield segment_start, end, offset


class BusinessCalendar:
    """A team calendar that measures business seconds between instants (epoch seconds UTC)."""

    def __init__(
        self,
        timezone: str,
        hours: Mapping[str, Sequence[Sequence[str]]],
        holidays: Iterable[date | str] = (),
    ) -> None:
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(
                f"timezone {timezone!r} is not an IANA time zone (e.g. \"Europe/London\")"
            ) from error
        self.timezone = timezone
        self.week = _weekly_ranges(hours)
        self.holidays = frozenset(_day_number(day) for day in holidays)
        # The expansion: sorted open intervals [starts, starts + lengths) over a covered span,
        # and the business seconds before each interval.
        self._covered: tuple[int, int] | None = None
        self._starts: FloatArray = np.empty(0)
        self._lengths: FloatArray = np.empty(0)
        self._before: FloatArray = np.empty(0)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> BusinessCalendar:
        """From a `calendars` row (hours and holidays as JSON, parsed or text)."""
        hours, holidays = row["hours"], row["holidays"]
        if isinstance(hours, str | bytes):
            hours = orjson.loads(hours)
        if isinstance(holidays, str | bytes):
            holidays = orjson.loads(holidays)
        return cls(row["timezone"], hours, holidays or ())

    def open_intervals(self, start: float, end: float) -> list[tuple[float, float]]:
        """The business intervals (UTC epoch seconds) that overlap [start, end)."""
        self._cover(start, end)
        low = max(int(np.searchsorted(self._starts, start, side="right")) - 1, 0)
        high = int(np.searchsorted(self._starts, end, side="left"))
        return [
            (max(float(s), start), min(float(s + n), end))
            for s, n in zip(self._starts[low:high], self._lengths[low:high], strict=True)
            if s + n > start
        ]

    def business_seconds(self, start: float, end: float) -> float:
        """Business seconds from `start` to `end` (negative when end is before start)."""
        result = self.business_seconds_many(np.array([start]), np.array([end]))
        return float(result[0])

    def business_seconds_many(
        self, starts: npt.ArrayLike, ends: npt.ArrayLike
    ) -> FloatArray:
        """Element-wise business seconds from starts to ends; NaN where either is NaN."""
        start_values = np.asarray(starts, dtype=np.float64)
        end_values = np.asarray(ends, dtype=np.float64)
        both = np.concatenate([start_values.ravel(), end_values.ravel()])
        known = both[np.isfinite(both)]
        if known.size == 0:
            return np.full(np.broadcast(start_values, end_values).shape, np.nan)
        self._cover(float(known.min()), float(known.max()))
        return self._cumulative(end_values) - self._cumulative(start_values)

    # -- the expansion ----------------------------------------------------------------------

    def _cumulative(self, instants: FloatArray) -> FloatArray:
        """Business seconds from the start of the covered span to each instant (NaN stays)."""
        if self._starts.size == 0:
            return np.where(np.isnan(instants), np.nan, 0.0)
        index = np.searchsorted(self._starts, instants, side="right") - 1
        safe = np.clip(index, 0, self._starts.size - 1)
        inside = np.clip(instants - self._starts[safe], 0.0, self._lengths[safe])
        result = np.where(index >= 0, self._before[safe] + inside, 0.0)
        return np.where(np.isnan(instants), np.nan, result)

    def _cover(self, start: float, end: float) -> None:
        # A day of margin either side, so that instants at the edges are measured in full.
        low, high = math.floor(start) - DAY_S, math.ceil(end) + DAY_S
        if self._covered is not None:
            if self._covered[0] <= low and high <= self._covered[1]:
                return
            low, high = min(low, self._covered[0]), max(high, self._covered[1])
        intervals = self._expand(low, high)
        self._starts = np.array([s for s, _ in intervals], dtype=np.float64)
        self._lengths = np.array([e - s for s, e in intervals], dtype=np.float64)
        self._before = np.concatenate([[0.0], np.cumsum(self._lengths)[:-1]])
        self._covered = (low, high)

    def _expand(self, low: int, high: int) -> list[tuple[int, int]]:
        intervals: list[tuple[int, int]] = []
        for segment_start, segment_end, offset in _offset_segments(self.zone, low, high):
            # Within a segment the local clock is utc + offset: map local ranges back by −offset.
            local_start, local_end = segment_start + offset, segment_end + offset
            for day in range(local_start // DAY_S, (local_end - 1) // DAY_S + 1):
                if day in self.holidays:
                    continue
                midnight = day * DAY_S
                for range_start, range_end in self.week[(day + _EPOCH_WEEKDAY) % 7]:
                    opens = max(midnight + range_start, local_start)
                    closes = min(midnight + range_end, local_end)
                    if closes > opens:
                        if intervals and intervals[-1][1] == opens - offset:
                            intervals[-1] = (intervals[-1][0], closes - offset)  # 24:00 | 00:00
                        else:
                            intervals.append((opens - offset, closes - offset))
        return intervals


# --- the store refresher ------------------------------------------------------------------

def first_response_end(
    channel: str, first_response_at: float | None, answered_at: float | None
) -> float | None:
    """The instant that ends the first-response time (docs/kpis.md frt)."""
    return answered_at if channel in ANSWERED_CHANNELS else first_response_at


def _select_interactions() -> Select[Any]:
    interactions, agents, teams = tables.interactions, tables.agents, tables.teams
    # The interaction's own team, else its agent's team (an unknown team has no calendar).
    team_id = func.coalesce(interactions.c.team_id, agents.c.team_id)
    return select(
        interactions.c.id,
        interactions.c.channel,
        interactions.c.created_at,
        interactions.c.first_response_at,
        interactions.c.answered_at,
        interactions.c.resolved_at,
        interactions.c.first_response_business_s,
        interactions.c.resolution_business_s,
        teams.c.calendar_id,
    ).select_from(
        interactions.outerjoin(agents, agents.c.id == interactions.c.agent_id).outerjoin(
            teams, teams.c.id == team_id
        )
    )


def _chunks_of_rows(
    connection: Connection, interaction_ids: Iterable[str] | None, chunk_size: int
) -> Iterator[Sequence[Any]]:
    query = _select_interactions()
    id_column = tables.interactions.c.id
    if interaction_ids is None:
        last: str | None = None  # keyset pagination: every interaction, one chunk at a time
        while True:
            page = query.order_by(id_column).limit(chunk_size)
            if last is not None:
                page = page.where(id_column > last)
            rows = connection.execute(page).all()
            if not rows:
                return
            yield rows
            last = rows[-1].id
    else:
        ids = sorted(set(interaction_ids))
        dialect = connection.dialect.name
        for offset in range(0, len(ids), chunk_size):
            chunk = ids[offset : offset + chunk_size]
            yield connection.execute(query.where(in_ids(id_column, chunk, dialect))).all()


def _calendar(
    connection: Connection, calendar_id: str, cache: dict[str, BusinessCalendar | None]
) -> BusinessCalendar | None:
    if calendar_id not in cache:
        row = connection.execute(
            select(tables.calendars).where(tables.calendars.c.id == calendar_id)
        ).mappings().first()
        calendar = None
        if row is not None:
            try:
                calendar = BusinessCalendar.from_row(dict(row))
            except ValueError as error:
                # Records are validated on import, so this is a store edited by hand: measure
                # nothing rather than fail every import batch.
                logger.warning("calendar %r cannot be used for business hours: %s; "
                               "fix and re-import it", calendar_id, error)
        cache[calendar_id] = calendar
    return cache[calendar_id]


def _floats(values: Sequence[float | None]) -> FloatArray:
    return np.array(values, dtype=np.float64)  # None becomes NaN


def _same(new: FloatArray, old: FloatArray) -> npt.NDArray[np.bool_]:
    return (new == old) | (np.isnan(new) & np.isnan(old))


def refresh_business_durations(
    connection: Connection,
    interaction_ids: Iterable[str] | None = None,
    chunk_size: int = CHUNK_SIZE,
    unset: Collection[str] = (),
) -> int:
    """Recompute the business-hours durations of these interactions (None: of all of them).

    first_response_business_s: created_at to the first response (phone and chat: answered_at,
    other channels: first_response_at); resolution_business_s: created_at to resolved_at; both
    in business seconds under the calendar of the interaction's team (its own team, else its
    agent's team), and null when that team has no calendar or the end is unknown. One query per
    chunk of ids and one executemany per chunk; rows whose values did not change are not
    written. Returns the number of interactions updated. Runs in the caller's transaction.
    `unset`: interactions known to hold no durations (inserted by the caller's batch), not
    looked up when no team has a calendar (null is then what they must hold).
    """
    statement = (
        update(tables.interactions)
        .where(tables.interactions.c.id == bindparam("interaction_id"))
        .values(
            first_response_business_s=bindparam("first_response"),
            resolution_business_s=bindparam("resolution"),
        )
    )
    if connection.execute(select(tables.teams.c.id).where(
            tables.teams.c.calendar_id.is_not(None)).limit(1)).first() is None:
        if interaction_ids is not None and unset:
            interaction_ids = set(interaction_ids).difference(unset)
        return _clear_durations(connection, interaction_ids, statement)
    calendars: dict[str, BusinessCalendar | None] = {}
    updated = 0
    for rows in _chunks_of_rows(connection, interaction_ids, chunk_size):
        if not rows:
            continue
        # Column-wise: the per-row Python work is only the unpacking.
        (ids, channels, created_at, first_response_at, answered_at, resolved_at,
         old_first_response, old_resolution, calendar_ids) = zip(*rows, strict=True)
        answered_channel = np.array([channel in ANSWERED_CHANNELS for channel in channels])
        created = _floats(created_at)
        ends = np.stack([
            np.where(answered_channel, _floats(answered_at), _floats(first_response_at)),
            _floats(resolved_at),
        ], axis=1)
        seconds = np.full(ends.shape, np.nan)
        calendar_of = np.array(calendar_ids, dtype=object)
        for calendar_id in set(calendar_ids) - {None}:
            calendar = _calendar(connection, calendar_id, calendars)
            if calendar is not None:
                mask = calendar_of == calendar_id
                seconds[mask] = calendar.business_seconds_many(created[mask, None], ends[mask])
        changed = ~(_same(seconds[:, 0], _floats(old_first_response))
                    & _same(seconds[:, 1], _floats(old_resolution)))
        changes = [
            {"interaction_id": ids[index],
             "first_response": None if np.isnan(first) else float(first),
             "resolution": None if np.isnan(resolution) else float(resolution)}
            for index, (first, resolution) in zip(
                np.flatnonzero(changed), seconds[changed].tolist(), strict=True)
        ]
        if changes:
            connection.execute(statement, changes)
            updated += len(changes)
    return updated


def _clear_durations(connection: Connection, interaction_ids: Iterable[str] | None,
                     statement: Any) -> int:
    """No team has a calendar, so every duration is null: only the interactions still
    holding one change (the outcome of the full computation, without its join per row)."""
    interactions = tables.interactions
    query = select(interactions.c.id).where(
        interactions.c.first_response_business_s.is_not(None)
        | interactions.c.resolution_business_s.is_not(None))
    if interaction_ids is not None:  # the ids as one parameter: one query however many
        query = query.where(in_ids(interactions.c.id, sorted(set(interaction_ids)),
                                   connection.dialect.name))
    stale: list[str] = list(connection.execute(query).scalars())
    if stale:
        connection.execute(statement, [{"interaction_id": key, "first_response": None,
                                         "resolution": None} for key in stale])
    return len(stale)


def _chunked(values: Iterable[str]) -> Iterator[list[str]]:
    ordered = sorted(set(values))
    for offset in range(0, len(ordered), CHUNK_SIZE):
        yield ordered[offset : offset + CHUNK_SIZE]


def _affected_interactions(connection: Connection, touched: Touched) -> set[str]:
    """Interactions the batch changed, and those whose calendar its teams, agents or
    calendars may have changed."""
    interactions, agents, teams = tables.interactions, tables.agents, tables.teams
    ids = set(touched.interaction_ids)
    team_ids = set(touched.ids("team"))
    for chunk in _chunked(touched.ids("calendar")):
        team_ids.update(connection.execute(
            select(teams.c.id).where(teams.c.calendar_id.in_(chunk))).scalars())
    agent_ids = set(touched.ids("agent"))
    for chunk in _chunked(team_ids):
        ids.update(connection.execute(
            select(interactions.c.id).where(interactions.c.team_id.in_(chunk))).scalars())
        agent_ids.update(connection.execute(
            select(agents.c.id).where(agents.c.team_id.in_(chunk))).scalars())
    for chunk in _chunked(agent_ids):
        # An agent's team only matters for interactions without a team of their own.
        ids.update(connection.execute(
            select(interactions.c.id).where(
                interactions.c.agent_id.in_(chunk), interactions.c.team_id.is_(None))
        ).scalars())
    return ids


def refresh_after_import(connection: Connection, touched: Touched) -> None:
    """Import hook: refresh the interactions a batch changed, or whose calendar it changed."""
    ids = _affected_interactions(connection, touched)
    if ids:
        refresh_business_durations(connection, ids, unset=touched.inserted_interactions)

