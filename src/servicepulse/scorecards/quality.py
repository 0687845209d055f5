"""Coaching from QA reviews: the categories that pull an agent's internal quality score down,
each with the agent's reviews that scored it lowest.

A category pulls the agent down when the agent's mean score on it (the KPI iqs_<category>,
0-100 of its scale, non-calibration reviews) is below the team's. Categories are ordered by
the points the agent would gain on it by reaching the team's mean, times its reviews (the
largest, most supported shortfall first). The figures come from the KPI engine; the examples
are the reviews themselves (their scores, reviewer and comment).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy
from sqlalchemy import select

from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.scorecards import explain
from servicepulse.store import tables

EXAMPLES_PER_CATEGORY = 2
MAX_CATEGORIES = 4


def reviewed_categories(engine: sqlalchemy.Engine, agent: str, start: float,
                        end: float) -> list[str]:
    """The QA categories scored in the agent's non-calibration reviews of [start, end)."""
    r, s, i = tables.qa_reviews, tables.qa_review_scores, tables.interactions
    query = (select(s.c.category).distinct()
             .select_from(r.join(s, s.c.review_id == r.c.id)
                          .join(i, i.c.id == r.c.interaction_id))
             .where(i.c.agent_id == agent, r.c.calibration.is_(False),
                    r.c.at >= start, r.c.at < end)
             .order_by(s.c.category))
    with engine.connect() as connection:
        names: list[Any] = list(connection.execute(query).scalars())
    return [str(name) for name in names]


def lowest_reviews(engine: sqlalchemy.Engine, agent: str, category: str, start: float,
                   end: float, limit: int = EXAMPLES_PER_CATEGORY) -> list[dict[str, Any]]:
    """The agent's reviews that scored `category` lowest (comments first among equals)."""
    r, s, i = tables.qa_reviews, tables.qa_review_scores, tables.interactions
    query = (select(r.c.id, r.c.interaction_id, r.c.reviewer_id, r.c.at, r.c.iqs,
                    r.c.comment, r.c.scores, s.c.percent, i.c.channel, i.c.subject)
             .select_from(r.join(s, s.c.review_id == r.c.id)
                          .join(i, i.c.id == r.c.interaction_id))
             .where(i.c.agent_id == agent, s.c.category == category,
                    r.c.calibration.is_(False), r.c.at >= start, r.c.at < end)
             .order_by(s.c.percent, r.c.comment.is_(None), r.c.at.desc(), r.c.id)
             .limit(limit))
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [{"review": row["id"], "interaction_id": row["interaction_id"],
             "reviewer": row["reviewer_id"],
             "at": datetime.fromtimestamp(row["at"], UTC).strftime("%Y-%m-%d"),
             "score": row["scores"].get(category), "percent": row["percent"],
             "iqs": row["iqs"], "comment": row["comment"], "channel": row["channel"],
             "subject": row["subject"]} for row in rows]


def pulling_down(engine: sqlalchemy.Engine, agent: str, members: list[str], start_day: date,
                 end_day: date, start: float, end: float,
                 settings: Any) -> list[dict[str, Any]]:
    """The categories where the agent's mean is below the team's (`members`), largest
    shortfall × reviews first, each with its lowest-scored example reviews."""
    categories = reviewed_categories(engine, agent, start, end)
    if not categories:
        return []
    names = [f"iqs_{category}" for category in categories]
    mine = run_kpi_query(engine, KpiQuery(from_=start_day, to=end_day, kpis=names,
                                          filters={"agent": [agent]}), settings)
    team = run_kpi_query(engine, KpiQuery(from_=start_day, to=end_day, kpis=names,
                                          filters={"agent": members}), settings)
    if not mine.rows or not team.rows:
        return []
    found: list[dict[str, Any]] = []
    for category, name in zip(categories, names, strict=True):
        own, whole = mine.figure(name), team.figure(name)
        if own is None or whole is None:
            continue
        value, team_value, n = own.value, whole.value, int(own.n or 0)
        if value is None or team_value is None or n == 0 or value >= team_value:
            continue
        found.append({"category": category, "label": category.replace("_", " "),
                      "value": value, "team_value": team_value, "n": n,
                      "team_n": int(whole.n or 0),
                      "shortfall": round(team_value - value, 4),
                      "value_text": explain.value_text(name, value),
                      "team_text": explain.value_text(name, team_value)})
    found.sort(key=lambda item: (-item["shortfall"] * item["n"], item["category"]))
    chosen = found[:MAX_CATEGORIES]
    for item in chosen:
        item["examples"] = lowest_reviews(engine, agent, item["category"], start, end)
    return chosen
