"""What a user may see, as filters added to every KPI query and interaction listing.

An agent sees only their own agent id, a team lead only their teams, managers and admins
everything. A request that asks for data outside the caller's scope gets 403 (`Forbidden`),
never an empty answer that would look like "no data".
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_, select

from servicepulse.store.tables import agents, interactions
from servicepulse.web.users import User, UserRole


class Forbidden(Exception):
    """The caller asked for data outside what their role lets them see."""


@dataclass(frozen=True)
class Access:
    agent_ids: tuple[str, ...] | None = None  # None: no restriction on this dimension
    team_ids: tuple[str, ...] | None = None

    @classmethod
    def of(cls, user: User) -> Access:
        if user.role is UserRole.agent:
            return cls(agent_ids=(user.agent_id,) if user.agent_id else ())
        if user.role is UserRole.team_lead:
            return cls(team_ids=user.team_ids)
        return cls()

    @property
    def key(self) -> str:
        """A cache key part: two users with the same scope share cached results."""
        return f"a={self.agent_ids!r};t={self.team_ids!r}"

    def kpi_filters(self, requested: dict[str, list[str]]) -> dict[str, list[str]]:
        """`requested` narrowed to the caller's scope; Forbidden when nothing would be left."""
        filters = {dimension: list(values) for dimension, values in requested.items()}
        for dimension, allowed in (("agent", self.agent_ids), ("team", self.team_ids)):
            if allowed is None:
                continue
            if dimension in filters:
                outside = sorted(set(filters[dimension]) - set(allowed))
                if outside:
                    raise Forbidden(f"you may not see {dimension} {', '.join(outside)}")
            else:
                filters[dimension] = list(allowed)
        return filters

    def interaction_clause(self) -> ColumnElement[bool] | None:
        """The WHERE clause limiting `interactions` to the caller's scope (None: all rows)."""
        if self.agent_ids is not None:
            if not self.agent_ids:
                return false()
            return interactions.c.agent_id.in_(self.agent_ids)
        if self.team_ids is not None:
            if not self.team_ids:
                return false()
            # An interaction is the team's when it names the team, or its agent is in it.
            team_agents = select(agents.c.id).where(agents.c.team_id.in_(self.team_ids))
            return or_(interactions.c.team_id.in_(self.team_ids),
                       interactions.c.agent_id.in_(team_agents))
        return None

    def check_agent(self, agent_id: str, agent_team_id: str | None) -> None:
        if self.agent_ids is not None and agent_id not in self.agent_ids:
            raise Forbidden(f"you may not see agent {agent_id}")
        if self.team_ids is not None and agent_team_id not in self.team_ids:
            raise Forbidden(f"you may not see agent {agent_id}: not in your teams")

    def check_team(self, team_id: str) -> None:
        if self.agent_ids is not None:
            raise Forbidden("agents see only their own scorecard")
        if self.team_ids is not None and team_id not in self.team_ids:
            raise Forbidden(f"you may not see team {team_id}")

    @property
    def sees_everything(self) -> bool:
        return self.agent_ids is None and self.team_ids is None
