"""`servicepulse verify` for business-hours durations: every interaction's
`first_response_business_s` and `resolution_business_s` against a recomputation.

The recomputation is the refresher's (`servicepulse.kpi.business_hours`): the calendar of
the interaction's team (its own, else its agent's), `BusinessCalendar.business_seconds_many`
from created_at to the first response (`first_response_end`) and to resolved_at; null when
that team has no usable calendar or the end is unknown. It only reads (keyset pages of
interactions on one connection), so it runs next to imports; the repair is the refresher
itself on the interactions that differ, in a transaction holding the derived-data lock.
Values are compared with a relative tolerance of 1e-9 (they are computed by the same numpy
arithmetic, so equal in practice).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, func, select

from servicepulse.kpi.business_hours import (
    ANSWERED_CHANNELS,
    BusinessCalendar,
    refresh_business_durations,
)
from servicepulse.store import tables
from servicepulse.store.database import write_transaction
from servicepulse.store.derived import CheckResult, Difference, Progress

logger = logging.getLogger(__name__)

KIND = "business hours"
COLUMNS = ("first_response_business_s", "resolution_business_s")
PAGE = 20_000
RELATIVE_TOLERANCE = 1e-9


def same_value(stored: float | None, recomputed: float | None) -> bool:
    if stored is None or recomputed is None:
        return stored is None and recomputed is None
    return math.isclose(stored, recomputed, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-9)


def _utc_day(instant: float | None) -> str | None:
    return None if instant is None else datetime.fromtimestamp(instant, UTC).date().isoformat()


def _calendars(connection: Connection) -> dict[str, BusinessCalendar | None]:
    found: dict[str, BusinessCalendar | None] = {}
    for row in connection.execute(select(tables.calendars)).mappings():
        try:
            found[row["id"]] = BusinessCalendar.from_row(dict(row))
        except ValueError:  # the refresher measures nothing under it either
            found[row["id"]] = None
    return found


def _page_query() -> Any:
    interactions, agents, teams = tables.interactions, tables.agents, tables.teams
    team_id = func.coalesce(interactions.c.team_id, agents.c.team_id)
    return select(
        interactions.c.id, interactions.c.channel, interactions.c.created_at,
        interactions.c.first_response_at, interactions.c.answered_at,
        interactions.c.resolved_at, interactions.c.first_response_business_s,
        interactions.c.resolution_business_s, teams.c.calendar_id,
    ).select_from(interactions.outerjoin(agents, agents.c.id == interactions.c.agent_id)
                  .outerjoin(teams, teams.c.id == team_id))


def _floats(values: Sequence[float | None]) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.array(values, dtype=np.float64)


def recompute_page(rows: Sequence[Any], calendars: Mapping[str, BusinessCalendar | None]
                   ) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The two durations of each row (NaN: null), as the refresher computes them."""
    (_, channels, created_at, first_response_at, answered_at, resolved_at, _, _,
     calendar_ids) = zip(*rows, strict=True)
    answered = np.array([channel in ANSWERED_CHANNELS for channel in channels])
    created = _floats(created_at)
    ends = np.stack([np.where(answered, _floats(answered_at), _floats(first_response_at)),
                     _floats(resolved_at)], axis=1)
    seconds = np.full(ends.shape, np.nan)
    calendar_of = np.array(calendar_ids, dtype=object)
    for calendar_id in set(calendar_ids) - {None}:
        calendar = calendars.get(calendar_id)
        if calendar is not None:
            mask = calendar_of == calendar_id
            seconds[mask] = calendar.business_seconds_many(created[mask, None], ends[mask])
    return seconds


class BusinessHoursCheck:
    name = KIND

    def check(self, engine: Engine, progress: Progress,
              earlier: Mapping[str, Sequence[Difference]]) -> CheckResult:
        result = CheckResult()
        interactions = tables.interactions
        with engine.connect() as connection:
            total = int(connection.execute(
                select(func.count()).select_from(interactions)).scalar_one())
            calendars = _calendars(connection)
            query = _page_query().order_by(interactions.c.id).limit(PAGE)
            last: str | None = None
            while True:
                rows = connection.execute(
                    query if last is None else query.where(interactions.c.id > last)).all()
                if not rows:
                    break
                last = rows[-1].id
                seconds = recompute_page(rows, calendars)
                for row, values in zip(rows, seconds.tolist(), strict=True):
                    for column, stored, value in zip(
                            COLUMNS, (row.first_response_business_s,
                                      row.resolution_business_s), values, strict=True):
                        recomputed = None if math.isnan(value) else value
                        if not same_value(stored, recomputed):
                            result.differences.append(Difference(
                                KIND, _utc_day(row.created_at), row.id, stored, recomputed,
                                column))
                result.checked += len(rows)
                progress(result.checked, total, "business hours")
        return result

    def repair(self, engine: Engine, differences: Sequence[Difference]) -> int:
        ids = {item.group for item in differences if item.kind == KIND}
        if not ids:
            return 0
        with write_transaction(engine, "derived") as connection:
            refresh_business_durations(connection, ids)
        return len(ids)


CHECK = BusinessHoursCheck()
