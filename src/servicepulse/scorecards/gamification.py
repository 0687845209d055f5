"""Gamification that rewards quality: points for meeting targets and improving the balanced
score, badges, and a leaderboard that ranks only agents with enough data and shows ties where
a difference is not significant (docs/scorecards.md).

- Points: POINTS_MEETS for each scorecard KPI that meets its target with enough data, plus
  POINTS_STRETCH where it also reaches the stretch target; plus one point per balanced-score
  point gained over the previous period of the same length (never minus). Volume KPIs never
  earn points (they have no target).
- Badges: `csat_90` (CSAT ≥ 90% on at least 30 answers), `fcr_streak` (FCR at or above its
  target on FCR_STREAK consecutive working periods of the trend, each with at least
  FCR_STREAK_MIN_N resolved contacts), `quality_first` (CSAT and FCR both meet their targets
  with enough data), `most_improved` (the largest significant balanced-score gain of a role).
- Ranking: per role, by balanced score, among agents without a `low_sample` flag (leads and
  managers are not ranked). An agent shares the rank of the group leader above when the
  difference is not significant at 95% (z on the balanced scores' standard errors); ranks
  follow competition ranking (1, 1, 3).
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from typing import Any

import sqlalchemy

from servicepulse.kpi.targets import resolve_targets
from servicepulse.scorecards.flags import percentile, team_values
from servicepulse.scorecards.scorecard import (
    LEAD_ROLES,
    Context,
    Figures,
    agent_scorecard,
    gather_teams,
    load_members,
)

POINTS_MEETS = 10
POINTS_STRETCH = 5
FCR_STREAK = 5
FCR_STREAK_MIN_N = 10
CSAT_BADGE_VALUE = 90.0
CSAT_BADGE_ANSWERS = 30
Z_95 = 1.959964


def previous_context(context: Context) -> Context:
    """The same team judged on the engine's previous-period figures (the period of the same
    length just before), for improvement."""
    def shift(kpis: Figures) -> Figures:
        return {name: figure.previous_figure() for name, figure in kpis.items()}

    shifted = replace(
        context,
        per_agent={agent: shift(kpis) for agent, kpis in context.per_agent.items()},
        per_channel={key: shift(kpis) for key, kpis in context.per_channel.items()},
        team_kpis=shift(context.team_kpis), organisation_kpis=shift(context.organisation_kpis),
        daily_occupancy={}, trend={})
    individuals = {a: k for a, k in shifted.per_agent.items()
                   if a in shifted.members and shifted.members[a].role not in LEAD_ROLES}
    shifted.medians = {kpi: (percentile(values, 50) if (values := team_values(individuals, kpi))
                             else None) for kpi in context.medians}
    return shifted


def points(card: dict[str, Any], previous_score: float | None,
           targets: Any) -> tuple[int, list[str]]:
    total, detail = 0, []
    for name, entry in card["kpis"].items():
        if entry["status"] != "meets" or entry.get("weight", 0) <= 0:
            continue
        total += POINTS_MEETS
        detail.append(f"{name} meets target +{POINTS_MEETS}")
        target = targets.get(name)
        judged_by = target.judged_by if target is not None else None
        value = entry["value"]
        if judged_by is not None and judged_by.stretch is not None and value is not None and (
                (judged_by.direction == "higher" and value >= judged_by.stretch)
                or (judged_by.direction == "lower" and value <= judged_by.stretch)):
            total += POINTS_STRETCH
            detail.append(f"{name} reaches stretch +{POINTS_STRETCH}")
    score = card["balanced_score"]
    if score is not None and previous_score is not None and score > previous_score:
        gain = round(score - previous_score)
        if gain > 0:
            total += gain
            detail.append(f"balanced score up {score - previous_score:.1f} +{gain}")
    return total, detail


def fcr_streak(trend: list[dict[str, Any]], target: float) -> tuple[int, str | None, str | None]:
    """Longest run of working periods with FCR ≥ target (periods without resolved contacts
    are skipped, not breaking a run; a period with too few breaks it)."""
    best = run = 0
    best_span: tuple[str | None, str | None] = (None, None)
    start: str | None = None
    for row in trend:
        n, value = int(row.get("n") or 0), row.get("value")
        if n == 0:
            continue
        if n >= FCR_STREAK_MIN_N and value is not None and value >= target:
            if run == 0:
                start = row["period"]
            run += 1
            if run > best:
                best, best_span = run, (start, row["period"])
        else:
            run = 0
    return best, best_span[0], best_span[1]


def badges(card: dict[str, Any], targets: Any, minimum_sample: int) -> list[dict[str, str]]:
    found = []
    csat = card["kpis"].get("csat") or card.get("context", {}).get("csat") or {}
    answers = int(csat.get("n") or 0)
    if csat.get("value") is not None and csat["value"] >= CSAT_BADGE_VALUE and answers >= max(
            CSAT_BADGE_ANSWERS, minimum_sample):
        found.append({"badge": "csat_90",
                      "evidence": f"CSAT {csat['value']:.1f}% on {answers} answers"})
    fcr = targets.get("fcr")
    fcr_target = fcr.judged_by.target if fcr is not None else None
    trend = card.get("trend", {}).get("kpis", {}).get("fcr")
    if trend and fcr_target is not None:
        length, first, last = fcr_streak(trend, fcr_target)
        if length >= FCR_STREAK:
            found.append({"badge": "fcr_streak",
                          "evidence": f"FCR ≥ {fcr_target:g}% on {length} "
                                      f"{card['trend']['period']}s in a row ({first} – {last})"})
    statuses = [card["kpis"].get(name, {}).get("status") for name in ("csat", "fcr")]
    if statuses == ["meets", "meets"]:
        found.append({"badge": "quality_first",
                      "evidence": "CSAT and FCR both meet their targets with enough data"})
    return found


def _significant(a: float, se_a: float, b: float, se_b: float) -> bool:
    error = math.sqrt(se_a ** 2 + se_b ** 2)
    return abs(a - b) > Z_95 * error if error > 0 else a != b


def rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Competition ranks by balanced score; an agent ties with its group's leader when the
    difference between them is not significant."""
    ordered = sorted(rows, key=lambda r: (-r["balanced_score"], r["agent"]))
    leader: dict[str, Any] | None = None
    for position, row in enumerate(ordered, start=1):
        row["tied"] = False
        if leader is not None and not _significant(
                leader["balanced_score"], leader["balanced_score_se"],
                row["balanced_score"], row["balanced_score_se"]):
            row["rank"] = leader["rank"]
            row["tied"] = leader["tied"] = True
        else:
            row["rank"] = position
            leader = row
    return ordered


def team_rows(context: Context) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(eligible, not eligible) rows for the agents of one gathered team."""
    before = previous_context(context)
    eligible, others = [], []
    for agent in sorted(context.members):
        member = context.members[agent]
        card = agent_scorecard(context, agent)
        previous = agent_scorecard(before, agent)["balanced_score"]
        targets = resolve_targets(context.settings, role=member.role, team=member.team)
        earned, detail = points(card, previous, targets)
        row = {"agent": agent, "name": member.name, "role": member.role, "team": member.team,
               "balanced_score": card["balanced_score"],
               "balanced_score_se": card["balanced_score_se"],
               "previous_balanced_score": previous, "points": earned, "points_detail": detail,
               "badges": badges(card, targets, context.minimum_sample)}
        thin = [flag["evidence"] for flag in card["flags"] if flag["flag"] == "low_sample"]
        if member.role in LEAD_ROLES:
            others.append(row | {"reason": "leads are not ranked with their agents"})
        elif card["balanced_score"] is None:
            others.append(row | {"reason": "no KPI with enough data"})
        elif thin:
            others.append(row | {"reason": thin[0]})
        else:
            eligible.append(row)
    return eligible, others


def _most_improved(rows: list[dict[str, Any]]) -> None:
    """Give `most_improved` to the largest significant gain of each role."""
    by_role: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["previous_balanced_score"] is not None:
            by_role.setdefault(row["role"], []).append(row)
    for candidates in by_role.values():
        best = max(candidates, key=lambda r: r["balanced_score"] - r["previous_balanced_score"])
        gain = best["balanced_score"] - best["previous_balanced_score"]
        # the previous period's error is taken to be the current one's
        if gain > 0 and _significant(best["balanced_score"], best["balanced_score_se"],
                                     best["previous_balanced_score"],
                                     best["balanced_score_se"]):
            before, after = best["previous_balanced_score"], best["balanced_score"]
            best["badges"].append({"badge": "most_improved",
                                   "evidence": f"balanced score {before:.1f} → {after:.1f}"})


def build_leaderboard(engine: sqlalchemy.Engine, *, team: str | None = None,
                      start: date | None = None, end: date | None = None,
                      settings: Any = None,
                      contexts: list[Context] | None = None) -> dict[str, Any]:
    # settings: the program's (its start loaded them); None: the documented defaults
    if contexts is None:
        teams = [team] if team is not None else sorted(
            {m.team for m in load_members(engine).values() if m.team and m.active})
        contexts = gather_teams(engine, teams, start=start, end=end, settings=settings)
    eligible: list[dict[str, Any]] = []
    unranked: list[dict[str, Any]] = []
    for context in contexts:
        ranked_here, others = team_rows(context)
        eligible += ranked_here
        unranked += others
    _most_improved(eligible)
    ranked: list[dict[str, Any]] = []
    for role in sorted({row["role"] for row in eligible}):
        ranked += rank([row for row in eligible if row["role"] == role])
    first = contexts[0] if contexts else None
    return {"from": first.start if first else None, "to": first.end if first else None,
            "ranked": ranked, "unranked": unranked}
