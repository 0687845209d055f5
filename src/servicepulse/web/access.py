"""What a user may see, as filters added to every KPI query, interaction and customer listing.

An agent sees only their own agent id, a team lead only their teams, managers and admins
everything. A request that asks for data outside the caller's scope gets 403 (`Forbidden`),
never an empty answer that would look like "no data": a filter on an agent or team outside
the scope (`check_filters`), an agent's or team's page.

Customers follow the interactions: a scoped caller sees a customer when one of the
interactions they may see names that customer (`customer_clause`, an EXISTS on the
interactions' customer index). A single customer outside the scope answers 404 with the same
text as a customer that does not exist (`CustomerNotFound`), so ids cannot be probed; lists
simply leave such customers out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Select,
    false,
    or_,
    select,
    union,
)

from servicepulse.errors import NotFound
from servicepulse.store.tables import agents, interactions
from servicepulse.web.users import User, UserRole


class Forbidden(Exception):
    """The caller asked for data outside what their role lets them see."""


class CustomerNotFound(NotFound):
    """No such customer, or one the caller may not see: the same answer (404) for both."""

    def __init__(self, customer_id: str) -> None:
        super().__init__(f"no customer {customer_id!r} among the customers you may see")


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
        return cls()  # managers, admins, and reviewers (who grade conversations of any team)

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

    def customer_ids(self) -> Select[Any] | CompoundSelect[Any] | None:
        """The ids of the customers the caller may see, as a query: the customers named by
        an interaction in the caller's scope (None: every customer). Each part reads the
        interactions through an index where the store has one (the agent index for agents
        and a team's agents)."""
        named = interactions.c.customer_id.is_not(None)
        if self.agent_ids is not None:
            if not self.agent_ids:
                return select(interactions.c.customer_id).where(false())
            return select(interactions.c.customer_id).where(
                named, interactions.c.agent_id.in_(self.agent_ids))
        if self.team_ids is not None:
            if not self.team_ids:
                return select(interactions.c.customer_id).where(false())
            team_agents = select(agents.c.id).where(agents.c.team_id.in_(self.team_ids))
            return union(
                select(interactions.c.customer_id).where(
                    named, interactions.c.agent_id.in_(team_agents)),
                select(interactions.c.customer_id).where(
                    named, interactions.c.team_id.in_(self.team_ids)))
        return None

    def customer_clause(self, customer_id: ColumnElement[Any]) -> ColumnElement[bool] | None:
        """The WHERE clause keeping the customers (by their id column `customer_id`) the caller
        may see (None: all customers).

        Written as `customer_id IN (customer_ids())` rather than a correlated EXISTS: both
        stores then collect the caller's customers once from the agent index (a few thousand
        contacts of an agent) instead of probing every customer's contacts; the EXISTS took
        seconds on SQLite at a million interactions, which does not turn it into a join."""
        visible = self.customer_ids()
        return None if visible is None else customer_id.in_(visible)

    def check_filters(self, connection: Connection, filters: dict[str, list[str]]) -> None:
        """Forbidden when an agent or team filter names one outside the caller's scope: an
        agent may filter on their own agent and team, a team lead on their teams and the
        agents in them (as `check_agent`)."""
        wanted_agents = sorted(set(filters.get("agent", ())))
        wanted_teams = sorted(set(filters.get("team", ())))
        if self.agent_ids is not None:
            outside = [agent for agent in wanted_agents if agent not in self.agent_ids]
            if outside:
                raise Forbidden(f"agent filter: you may not see agent {', '.join(outside)}")
            if wanted_teams:
                own: set[str] = set(connection.execute(select(agents.c.team_id).where(
                    agents.c.id.in_(self.agent_ids), agents.c.team_id.is_not(None))).scalars())
                outside = [team for team in wanted_teams if team not in own]
                if outside:
                    raise Forbidden(f"team filter: you may not see team {', '.join(outside)}")
        if self.team_ids is not None:
            outside = [team for team in wanted_teams if team not in self.team_ids]
            if outside:
                raise Forbidden(f"team filter: you may not see team {', '.join(outside)}")
            if wanted_agents:
                inside: set[str] = set(connection.execute(select(agents.c.id).where(
                    agents.c.id.in_(wanted_agents),
                    agents.c.team_id.in_(self.team_ids))).scalars()) if self.team_ids else set()
                outside = [agent for agent in wanted_agents if agent not in inside]
                if outside:
                    raise Forbidden(f"agent filter: you may not see agent {', '.join(outside)}"
                                    ": not in your teams")

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
