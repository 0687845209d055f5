"""References that never resolved: ids a record names that no record of that kind has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, func, select

from servicepulse.store import tables

# (kind, table, column) -> the kind it refers to
REFERENCES: tuple[tuple[str, str, str], ...] = (
    ("team", "lead_id", "agent"),
    ("team", "calendar_id", "calendar"),
    ("agent", "team_id", "team"),
    ("interaction", "customer_id", "customer"),
    ("interaction", "agent_id", "agent"),
    ("interaction", "team_id", "team"),
    ("event", "interaction_id", "interaction"),
    ("event", "agent_id", "agent"),
    ("survey", "interaction_id", "interaction"),
    ("survey", "customer_id", "customer"),
    ("survey", "agent_id", "agent"),
    ("agent_state", "agent_id", "agent"),
    ("shift", "agent_id", "agent"),
    ("order", "customer_id", "customer"),
    ("order", "interaction_id", "interaction"),
    ("order", "agent_id", "agent"),
    ("social_post", "agent_id", "agent"),
    ("social_mention", "interaction_id", "interaction"),
)


@dataclass(frozen=True)
class Unresolved:
    kind: str
    field: str
    target: str
    count: int
    examples: list[str]

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "field": self.field, "refers_to": self.target,
                "count": self.count, "examples": self.examples}


def unresolved_references(engine: Engine, examples: int = 5) -> list[Unresolved]:
    """One set-based anti-join per reference."""
    found = []
    with engine.connect() as connection:
        for kind, column, target in REFERENCES:
            source = tables.RECORD_TABLES[kind]
            referred = tables.RECORD_TABLES[target]
            missing = (
                select(source.c.id, source.c[column])
                .select_from(source.outerjoin(referred, referred.c.id == source.c[column]))
                .where(and_(source.c[column].is_not(None), referred.c.id.is_(None)))
            )
            count = connection.execute(
                select(func.count()).select_from(missing.subquery())).scalar() or 0
            if count:
                sample = connection.execute(missing.limit(examples)).all()
                found.append(Unresolved(kind, column, target, count,
                                        [f"{rid} -> {ref}" for rid, ref in sample]))
    return found
