"""Who is out of adherence right now, and since when (the wallboard's list).

The adherence KPI (docs/kpis.md) says how a day went; a team lead on the floor needs the
agents whose state does not match their plan at this moment: on shift, planned for work but
on a break, planned for a meeting but still taking calls, planned for work and logged out.

For each agent on shift now: the planned kind (the shift's activity covering now, else work)
and the state kind (the agent's current state, as the KPI maps it; no state is "none"). They
differ: out of adherence since the later of when the planned stretch began and when the
agent entered the current state (or left the last one). A few indexed lookups: the wallboard
recomputes it every few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from servicepulse.kpi.sources import STATE_KINDS, WORK_STATES
from servicepulse.store.tables import agent_states, agents, shift_activities, shifts

LONGEST_SHIFT_S = 2 * 86_400.0  # a shift started longer ago than this is not "now"
STATE_LOOKBACK_S = 86_400.0  # a state begun a day before the shift is stale, read as none


def state_kind(state: str | None) -> str:
    """The kind of time a state is (offline, unknown or no state: none)."""
    if state in WORK_STATES:
        return "work"
    return STATE_KINDS.get(state or "", "none")


@dataclass(frozen=True)
class OutOfAdherence:
    agent_id: str
    name: str | None
    team_id: str | None
    planned: str  # work, break, training, meeting
    state: str | None  # the agent's current state (None: no state, e.g. logged out)
    since: float  # epoch seconds

    def as_dict(self) -> dict[str, Any]:
        return {"agent_id": self.agent_id, "name": self.name, "team_id": self.team_id,
                "planned": self.planned, "state": self.state, "since": self.since}


def out_of_adherence(connection: Connection, now: float,
                     team_ids: tuple[str, ...] | None = None) -> tuple[int, list[OutOfAdherence]]:
    """(agents on shift now, those out of adherence, the longest out first)."""
    query = (select(shifts.c.id, shifts.c.agent_id, shifts.c.start, agents.c.name,
                    agents.c.team_id)
             .join(agents, agents.c.id == shifts.c.agent_id, isouter=True)
             .where(shifts.c.start <= now, shifts.c.start > now - LONGEST_SHIFT_S,
                    shifts.c.end > now))
    if team_ids is not None:
        query = query.where(agents.c.team_id.in_(team_ids))
    on_shift: dict[str, Any] = {}
    for row in connection.execute(query.order_by(shifts.c.start)):
        on_shift.setdefault(row.agent_id, row)  # overlapping shifts: the earlier one
    if not on_shift:
        return 0, []
    ids = sorted(on_shift)
    shift_ids = [row.id for row in on_shift.values()]
    a = shift_activities.c
    planned: dict[str, list[Any]] = {}
    for row in connection.execute(select(a.shift_id, a.kind, a.start, a.end)
                                  .where(a.shift_id.in_(shift_ids), a.start <= now)):
        planned.setdefault(row.shift_id, []).append(row)
    earliest = min(row.start for row in on_shift.values()) - STATE_LOOKBACK_S
    s = agent_states.c
    current: dict[str, Any] = {}
    for row in connection.execute(
            select(s.agent_id, s.state, s.start)
            .where(s.agent_id.in_(ids), s.start >= earliest, s.start <= now,
                   or_(s.end.is_(None), s.end > now))
            .order_by(s.agent_id, s.start)):
        current[row.agent_id] = row  # the latest begun wins
    left = {row.agent_id: float(row.end) for row in connection.execute(
        select(s.agent_id, func.max(s.end).label("end"))
        .where(and_(s.agent_id.in_(ids), s.start >= earliest, s.end <= now))
        .group_by(s.agent_id))}
    out: list[OutOfAdherence] = []
    for agent_id, shift in on_shift.items():
        activities = planned.get(shift.id, [])
        covering = [row for row in activities if row.end > now]
        if covering:
            kind, planned_since = covering[0].kind, float(covering[0].start)
        else:  # work, since the shift began or the last activity ended
            kind = "work"
            planned_since = max([float(shift.start)] + [float(row.end) for row in activities])
        state = current.get(agent_id)
        name = None if state is None else state.state
        if state_kind(name) == kind:
            continue
        state_since = float(state.start) if state is not None \
            else left.get(agent_id, float(shift.start))
        out.append(OutOfAdherence(agent_id, shift.name, shift.team_id, kind, name,
                                  max(planned_since, state_since)))
    out.sort(key=lambda item: (item.since, item.agent_id))
    return len(on_shift), out
