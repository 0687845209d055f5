"""Shift activities as plain rows: `shift_activities`, derived from `shifts.activities`.

Adherence and conformance compare planned time with agent states set-based on every engine;
a JSON list cannot be unnested portably (SQLite and Spark differ), so each import batch writes
the planned activities that are not work (the rest of a shift is work) as rows, in the
batch's own transaction: the derived rows never disagree with the shifts they come from.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection

from servicepulse.ingest.driver import Driver
from servicepulse.ingest.hooks import Touched
from servicepulse.store import tables


def activity_rows(shift_id: str, agent_id: str, activities: Any) -> list[dict[str, Any]]:
    """The derived rows of one shift (its stored `activities`: JSON text or a list)."""
    if isinstance(activities, str | bytes):
        activities = orjson.loads(activities)
    return [{"shift_id": shift_id, "start": float(item["start"]), "end": float(item["end"]),
             "agent_id": agent_id, "kind": item["kind"]}
            for item in activities or () if item["kind"] != "work"]


def derive_shift_activities(connection: Connection, touched: Touched) -> None:
    """Rewrite the derived rows of the shifts this batch inserted or changed."""
    ids = sorted(touched.ids("shift"))
    if not ids:
        return
    driver = Driver(connection)
    shifts = driver.select_where_in(tables.shifts, ("id", "agent_id", "activities"), "id", ids)
    driver.delete_where_in(tables.shift_activities, "shift_id", ids)
    rows = [row for shift_id, agent_id, activities in shifts
            for row in activity_rows(shift_id, agent_id, activities)]
    if rows:
        driver.insert(tables.shift_activities, rows)

