"""Role scorecards: per agent and KPI the engine's value, n and interval, the
target that applies, attainment and status, the trend over the last periods, the balanced
score 0-100 and the flags; plus the team's own figures.

Every number comes from the KPI engine (`run_kpi_query`); this module only reads the agents
table (who is in which team and role) and combines engine results with targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy
from sqlalchemy import select

from servicepulse.errors import InvalidRequest, NotFound
from servicepulse.kpi.definitions import KPIS
from servicepulse.kpi.engine import AgentGroup, run_kpi_query, run_with_group_totals
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.results import KpiFigure, KpiResult, KpiRow
from servicepulse.kpi.targets import ResolvedTargets, resolve_targets
from servicepulse.scorecards import explain
from servicepulse.scorecards import flags as flag_rules
from servicepulse.scorecards.attainment import (
    attainment,
    balanced_score,
    balanced_score_error,
    status,
)
from servicepulse.store import tables

# The KPIs each role is judged on (docs/scorecards.md).
ROLE_KPIS: dict[str, list[str]] = {
    "frontline": ["csat", "fcr", "iqs", "aht", "frt"],
    "technical_support": ["resolution_rate", "ttr", "ces", "escalation_rate", "iqs"],
    "customer_success": ["retention_rate", "cltv", "nps"],
    "social_media": ["engagement_rate", "sentiment", "reach", "impressions", "frt"],
    "account_manager": ["retention_rate", "cltv", "nps", "upsell_revenue"],
    "team_lead": ["csat", "fcr", "frt", "occupancy", "adherence", "conformance"],
    "manager": ["csat", "fcr", "frt", "occupancy"],
}
LEAD_ROLES = ("team_lead", "manager")
# Shown beside every scorecard (flags read them); they do not score unless the role has them.
CONTEXT_KPIS = ["contacts", "aht", "repeat_contact_rate", "occupancy", "csat", "fcr"]
# Quality: what caps AHT's attainment and what busy_not_effective weighs against volume
# (the customer's view, CSAT and FCR, and the reviewers', the internal quality score).
QUALITY_KPIS = ("csat", "fcr", "iqs")
# Customers carry no owning agent or team in the record format, so these are the
# organisation's figures on any scorecard; they are shown and not scored (docs/scorecards.md).
ORGANISATION_KPIS = ("retention_rate", "cltv")
# No engine KPI yet: shown as unavailable.
NOT_IN_ENGINE = {"upsell_revenue": "no upsell revenue KPI in the engine yet"}
SOCIAL_CHANNELS = ("social",)
MAX_DAYS = 1_100  # about three years: trends by month stay readable
# Contacts an agent needs on a channel to count in that channel's team median AHT.
AHT_CHANNEL_MIN = 10


class ScorecardError(NotFound):
    """An agent or team that is not in the store (a bad request is an `InvalidRequest`)."""


@dataclass
class Member:
    id: str
    name: str
    role: str
    team: str | None
    active: bool = True


# A group's figures by KPI name, as the engine returned them.
Figures = dict[str, KpiFigure]


@dataclass
class Context:
    """Everything the engine returned for one team and period, as its typed figures (a
    card, made from them, is the JSON document)."""

    members: dict[str, Member]
    team: str | None
    team_name: str | None
    start: str
    end: str
    per_agent: dict[str, Figures]
    per_channel: dict[tuple[str, str], Figures]
    daily_occupancy: dict[str, list[float]]
    trend: dict[str, list[KpiRow]]  # agent -> its rows by period (group["period"])
    trend_period: str
    team_kpis: Figures
    organisation_kpis: Figures
    minimum_sample: int
    settings: Any
    medians: dict[str, float | None] = field(default_factory=dict)
    aht_benchmarks: dict[str, float] = field(default_factory=dict)  # agent -> seconds


def load_members(engine: sqlalchemy.Engine) -> dict[str, Member]:
    agents = tables.agents
    with engine.connect() as connection:
        rows = connection.execute(select(agents.c.id, agents.c.name, agents.c.role,
                                         agents.c.team_id, agents.c.active)).all()
    return {row.id: Member(row.id, row.name, row.role, row.team_id, bool(row.active))
            for row in rows}


def team_name(engine: sqlalchemy.Engine, team: str | None) -> str | None:
    if team is None:
        return None
    with engine.connect() as connection:
        return connection.execute(select(tables.teams.c.name).where(
            tables.teams.c.id == team)).scalar()


def _rows(result: KpiResult, by: list[str]) -> dict[Any, Figures]:
    """Each group's figures by its `by` values (one value: the value itself)."""
    out: dict[Any, Figures] = {}
    for row in result.rows:
        key = tuple(row.group.get(name) for name in by)
        out[key[0] if len(key) == 1 else key] = row.figures
    return out


def _figures(row: KpiRow | None) -> Figures:
    return dict(row.figures) if row is not None else {}


def figure_of(figures: Figures, name: str) -> KpiFigure:
    """The KPI's figure; one with no value and n = 0 when the engine gave none."""
    found = figures.get(name)
    return found if found is not None else KpiFigure(None, 0)


def ci_json(figure: KpiFigure) -> list[float] | None:
    """The figure's interval as a card writes it (JSON `ci`: [low, high] or null)."""
    interval = figure.interval
    return [interval[0], interval[1]] if interval is not None else None


def _trend_period(start: date, end: date) -> str:
    days = (end - start).days
    return "day" if days <= 14 else "week" if days <= 120 else "month"


def gather(engine: sqlalchemy.Engine, *, agent: str | None = None, team: str | None = None,
           start: date | None = None, end: date | None = None,
           settings: Any = None) -> Context:
    """Run the engine queries a team's scorecards need (the team of `agent` when given)."""
    members = load_members(engine)
    if agent is not None:
        if agent not in members:
            raise ScorecardError(f"agent {agent!r} is not in the store; list agents with "
                                 "`servicepulse kpi --by agent` or import its agent record")
        team = members[agent].team
        in_team = [m for m in members.values() if team is not None and m.team == team
                   and (m.active or m.id == agent)]
        if not in_team:
            in_team = [members[agent]]
    else:
        in_team = _active_members(members, team)
    return _contexts(engine, [(team, in_team)], start, end, settings)[0]


def gather_teams(engine: sqlalchemy.Engine, teams: list[str], *, start: date | None = None,
                 end: date | None = None, settings: Any = None) -> list[Context]:
    """`gather` for several teams at once (a leaderboard): the queries by agent run once
    for every team's agents (an agent's figures do not depend on who else is asked), and
    only the team totals once per team."""
    members = load_members(engine)
    return _contexts(engine, [(team, _active_members(members, team)) for team in teams],
                     start, end, settings)


def _active_members(members: dict[str, Member], team: str | None) -> list[Member]:
    in_team = [m for m in members.values() if m.team == team and m.active]
    if not in_team:
        known = sorted({m.team for m in members.values() if m.team})
        raise ScorecardError(f"team {team!r} has no agents in the store; known teams: "
                             f"{', '.join(known) or 'none'}")
    return in_team


def _contexts(engine: sqlalchemy.Engine, teams: list[tuple[str | None, list[Member]]],
              start: date | None, end: date | None, settings: Any) -> list[Context]:
    """Each team's context (its members given) from one set of engine queries by agent."""
    # settings: the program's (its start loaded them); None: the documented defaults
    if start is not None and end is not None:
        if end <= start:
            raise InvalidRequest(f"the end ({end}) must be after the start ({start}): it is "
                                 "exclusive")
        if (end - start).days > MAX_DAYS:
            raise InvalidRequest(f"a scorecard covers at most {MAX_DAYS} days; "
                                 f"{start} to {end} is {(end - start).days}")
    everyone = [m for _team, in_team in teams for m in in_team]
    filters = {"agent": sorted({m.id for m in everyone})}
    wanted = _needed_kpis([m.role for m in everyone])
    # each team's totals from the same pass as its agents' figures (their sums added up)
    groups = [AgentGroup(sorted({m.id for m in in_team}), _needed_kpis([m.role for m in in_team]))
              for _team, in_team in teams]
    main, team_totals = run_with_group_totals(
        engine, KpiQuery(by=["agent"], from_=start, to=end, kpis=wanted, filters=filters),
        {str(index): group for index, group in enumerate(groups)}, settings)
    first, stop = main.from_, main.to
    per_agent = _rows(main, ["agent"])
    channel_result = run_kpi_query(engine, KpiQuery(
        by=["agent", "channel"], from_=first, to=stop,
        kpis=["frt", "service_level", "aht", "contacts"], filters=filters), settings)
    per_channel = _rows(channel_result, ["agent", "channel"])
    trend_period = _trend_period(first, stop)
    scored = _scored_kpis(everyone)
    # The trend and the daily occupancy are read period by period, never against the
    # periods before them (`gamification.previous_context` leaves them out): without the
    # comparison the store reads the window's rows only, not a window as long again before.
    trend_result = run_kpi_query(engine, KpiQuery(
        by=["agent"], period=trend_period, from_=first, to=stop, kpis=scored,
        filters=filters, compare=False), settings)
    trend: dict[str, list[KpiRow]] = {}
    for row in trend_result.rows:
        trend.setdefault(row.group["agent"], []).append(row)
    if trend_period == "day":
        daily_source = trend_result
    else:
        daily_source = run_kpi_query(engine, KpiQuery(
            by=["agent"], period="day", from_=first, to=stop, kpis=["occupancy"],
            filters=filters, compare=False), settings)
    daily: dict[str, list[float]] = {}
    for row in daily_source.rows:
        value = row.value("occupancy")
        if value is not None:
            daily.setdefault(row.group["agent"], []).append(float(value))
    organisation: Figures = {}
    if any(_needs_organisation(in_team) for _team, in_team in teams):
        org_result = run_kpi_query(engine, KpiQuery(from_=first, to=stop,
                                                    kpis=list(ORGANISATION_KPIS)), settings)
        organisation = _figures(org_result.totals())
    contexts = []
    for index, (team, in_team) in enumerate(teams):
        ids, team_wanted = set(groups[index].agents), groups[index].kpis
        team_scored = set(_scored_kpis(in_team))
        team_result = team_totals[str(index)]
        context = Context(
            members={m.id: m for m in in_team}, team=team, team_name=team_name(engine, team),
            start=main.from_.isoformat(), end=main.to.isoformat(),
            # only the team's own KPIs, as when it is gathered alone
            per_agent={agent: {name: result for name, result in kpis.items()
                               if name in team_wanted}
                       for agent, kpis in per_agent.items() if agent in ids},
            per_channel={key: figures for key, figures in per_channel.items()
                         if key[0] in ids},
            daily_occupancy={agent: days for agent, days in daily.items() if agent in ids},
            trend={agent: [KpiRow(row.group, {name: figure
                                              for name, figure in row.figures.items()
                                              if name in team_scored}) for row in rows]
                   for agent, rows in trend.items() if agent in ids},
            trend_period=trend_period,
            team_kpis=_figures(team_result.totals()),
            organisation_kpis=organisation if _needs_organisation(in_team) else {},
            minimum_sample=_minimum_sample(settings), settings=settings)
        context.medians = {kpi: _median(flag_rules.team_values(_individuals(context), kpi))
                           for kpi in ("aht", "contacts", "csat", "fcr",
                                       "repeat_contact_rate")}
        context.aht_benchmarks = aht_benchmarks(context)  # after the medians: its fallback
        contexts.append(context)
    return contexts


def _scored_kpis(members: list[Member]) -> list[str]:
    return sorted({k for m in members for k in ROLE_KPIS.get(m.role, [])
                   if k in KPIS and k not in ORGANISATION_KPIS} | {"occupancy"})


def _needs_organisation(members: list[Member]) -> bool:
    return any(k in ORGANISATION_KPIS for m in members for k in ROLE_KPIS.get(m.role, []))


def aht_benchmarks(context: Context) -> dict[str, float]:
    """Each agent's AHT yardstick: the team's median AHT on each channel (over the agents
    with at least AHT_CHANNEL_MIN contacts there), weighted by the agent's own contacts per
    channel. A chat agent is not slow for taking longer than the phone agents beside them;
    a team median over all channels at once judged channels, not people."""
    individuals = _individuals(context)
    per_channel: dict[str, list[float]] = {}
    for (agent, channel), kpis in context.per_channel.items():
        aht = figure_of(kpis, "aht")
        if agent in individuals and aht.value is not None and aht.n >= AHT_CHANNEL_MIN:
            per_channel.setdefault(channel, []).append(float(aht.value))
    medians = {channel: flag_rules.percentile(values, 50)
               for channel, values in per_channel.items()}
    out: dict[str, float] = {}
    for agent in context.members:
        weighted = total = 0.0
        for (who, channel), kpis in context.per_channel.items():
            n = figure_of(kpis, "aht").n
            if who == agent and n and channel in medians:
                weighted += n * medians[channel]
                total += n
        if total:
            out[agent] = round(weighted / total, 4)
        elif (median := context.medians.get("aht")) is not None:
            out[agent] = float(median)
    return out


def _minimum_sample(settings: Any) -> int:
    from servicepulse.kpi.settings import kpi_settings

    return kpi_settings(settings).minimum_sample


def _median(values: list[float]) -> float | None:
    return flag_rules.percentile(values, 50) if values else None


def _needed_kpis(roles: list[str]) -> list[str]:
    names = set(CONTEXT_KPIS)
    for role in roles:
        names |= set(ROLE_KPIS.get(role, []))
    names -= set(ORGANISATION_KPIS) | set(NOT_IN_ENGINE)
    return sorted(name for name in names if name in KPIS)


def _individuals(context: Context) -> dict[str, Figures]:
    """Agents compared with each other: everyone but team leads and managers."""
    return {agent: kpis for agent, kpis in context.per_agent.items()
            if agent in context.members and context.members[agent].role not in LEAD_ROLES}


# --- one KPI entry -------------------------------------------------------------------------


def _entry(name: str, result: KpiFigure | None, targets: ResolvedTargets,
           context: Context, quality: dict[str, float],
           benchmark: float | None = None) -> dict[str, Any]:
    """One KPI of a card. `benchmark` is AHT's yardstick (the agent's channel-mix median);
    `quality` the attainments of the card's quality KPIs, which cap AHT's."""
    result = result if result is not None else KpiFigure(None, 0)
    target = targets.get(name)
    judged_by = target.judged_by if target is not None else None
    value, n = result.value, result.n
    ci = ci_json(result)
    definition = KPIS.get(name)
    sampled = definition is None or definition.statistic.kind != "sum"
    yardstick = benchmark if benchmark is not None else context.medians.get(name)
    att = attainment(judged_by, value, yardstick)
    uncapped = att
    weakest = min(quality.items(), key=lambda item: item[1]) if quality else None
    cap = weakest[1] if name == "aht" and weakest else None  # speed never beats quality
    if att is not None and cap is not None:
        att = min(att, cap)
    entry: dict[str, Any] = {
        "value": value, "n": n, "ci": ci,
        "target": target.describe() if target else None,
        "attainment": att,
        "status": status(value, n, att, context.minimum_sample, sampled),
        "weight": judged_by.weight if judged_by else 0.0,
        "set_by": target.set_by if target else None,
    }
    if result.reports("unavailable"):
        entry["unavailable"] = result.unavailable
    if judged_by is not None and judged_by.direction == "relative" and yardstick is not None:
        entry["benchmark"] = yardstick
    if judged_by is not None and value is not None and ci:
        low, high = ci
        ends = [attainment(judged_by, x, yardstick) for x in (low, high)]
        entry["attainment_interval"] = sorted(
            min(x, cap) if cap is not None else x for x in ends if x is not None) or None
    entry |= {"label": explain.label(name), "value_text": explain.value_text(name, value),
              "interval_text": explain.interval_text(name, ci),
              "target_text": explain.target_text(name, judged_by, yardstick)}
    entry["reason"] = explain.reason(name, entry, judged_by, context.minimum_sample,
                                     benchmark=yardstick,
                                     quality_cap=weakest if cap is not None else None,
                                     uncapped=uncapped)
    return entry


def _frt_entry(agent: str, targets: ResolvedTargets, context: Context,
               channels: tuple[str, ...] | None) -> dict[str, Any]:
    """First response judged per channel against each channel's target (phone by service
    level), weighted by the agent's own sample on each channel: an agent who answers phones
    and emails is judged on both in the share they work them. There is no single value: a
    median over phone seconds and email hours together describes neither."""
    parts: dict[str, Any] = {}
    weighted, total = 0.0, 0
    low_sum, high_sum = 0.0, 0.0
    for (who, channel), kpis in sorted(context.per_channel.items(), key=lambda i: str(i[0])):
        if who != agent or (channels is not None and channel not in channels):
            continue
        name = "service_level" if channel == "phone" else "frt"
        target = targets.get(name, channel)
        channel_result = figure_of(kpis, name)
        value, n, ci = channel_result.value, channel_result.n, ci_json(channel_result)
        if target is None or target.judged_by.target is None or value is None or n == 0:
            continue
        judged_by = target.judged_by
        att = attainment(judged_by, value)
        assert att is not None
        part = {"kpi": name, "value": value, "n": n, "ci": ci,
                "target": target.describe(), "attainment": att, "set_by": target.set_by,
                "status": status(value, n, att, context.minimum_sample)}
        part |= {"value_text": explain.channel_text(channel, part),
                 "target_text": explain.channel_target_text(channel, part, judged_by)}
        part["reason"] = explain.reason(name, part, judged_by, context.minimum_sample)
        parts[channel] = part
        weighted += n * att
        total += n
        low, high = ci or [value, value]
        ends = [attainment(judged_by, low) or 0.0, attainment(judged_by, high) or 0.0]
        low_sum += n * min(ends)
        high_sum += n * max(ends)
    att_all = round(weighted / total, 4) if total else None
    # one channel: its own figure is the value (seconds, or phone's service level in %)
    single = next(iter(parts.values())) if len(parts) == 1 else None
    frt_target = targets.get("frt")
    judged = status(att_all, total, att_all, context.minimum_sample)
    entry: dict[str, Any] = {
        "value": single["value"] if single else None,
        "unit": ("percent" if single["kpi"] == "service_level" else "seconds") if single
        else None,
        "n": total, "ci": single["ci"] if single else None,
        "target": "; ".join(f"{c} {'service level ' if p['kpi'] == 'service_level' else ''}"
                            f"{p['target']}" for c, p in parts.items()) or None,
        "attainment": att_all,
        "status": judged,
        "weight": frt_target.judged_by.weight if frt_target else 1.0,
        "set_by": ", ".join(sorted({p["set_by"] for p in parts.values()})) or None,
        "channels": parts,
        "label": explain.label("frt") if channels is None else "FRT (first response on social)",
        "value_text": "; ".join(p["value_text"] for p in parts.values()) or explain.MISSING,
        "interval_text": explain.MISSING,
        "target_text": "; ".join(p["target_text"] for p in parts.values()) or explain.MISSING,
    }
    shorts = [explain.channel_short(c, p) for c, p in parts.items()]
    entry["short_text"] = ("FRT " + ", ".join(shorts) if len(shorts) <= 2 else
                           f"FRT {len(shorts)} channels at {100 * (att_all or 0):.0f}% of target")
    if single and single["ci"]:
        entry["interval_text"] = explain.interval_text(single["kpi"], single["ci"])
    if total:
        entry["attainment_interval"] = [round(low_sum / total, 4), round(high_sum / total, 4)]
    if not parts:
        entry["reason"] = "no first responses in the period"
    elif judged == "not_enough_data":
        entry["reason"] = (f"{total:,} first responses, fewer than the minimum sample of "
                           f"{context.minimum_sample}: too few to judge")
    elif single:
        entry["reason"] = single["reason"]
    elif att_all is not None:
        shares = ", ".join(f"{explain.CHANNEL_NAMES.get(c, c)} {100 * p['n'] / total:.0f}% "
                           f"at {100 * p['attainment']:.0f}% of target"
                           for c, p in parts.items())
        whose = "the team's" if agent == "__team__" else "this agent's"
        entry["reason"] = (f"each channel against its own target, weighted by {whose} "
                           f"mix ({shares}): {100 * att_all:.0f}% of target → "
                           f"{explain.STATUS_WORDS[judged]}")
    return entry


def _trend(context: Context, agent: str, kpis: list[str]) -> dict[str, list[Any]]:
    rows = context.trend.get(agent, [])
    return {kpi: [{"period": row.group["period"], "value": row.value(kpi),
                   "n": figure.n if (figure := row.figure(kpi)) is not None else None}
                  for row in rows]
            for kpi in kpis if kpi in KPIS and kpi not in ORGANISATION_KPIS}


def agent_scorecard(context: Context, agent: str) -> dict[str, Any]:
    member = context.members[agent]
    targets = resolve_targets(context.settings, role=member.role, team=member.team)
    lead = member.role in LEAD_ROLES
    source = context.team_kpis if lead else context.per_agent.get(agent, {})
    names = ROLE_KPIS.get(member.role, ROLE_KPIS["frontline"])
    quality: dict[str, float] = {}
    entries: dict[str, dict[str, Any]] = {}
    for name in [n for n in names if n in QUALITY_KPIS] + [n for n in names
                                                           if n not in QUALITY_KPIS]:
        if name == "frt":
            if lead:
                entry = _team_frt(context, targets)
            else:
                entry = _frt_entry(agent, targets, context,
                                   SOCIAL_CHANNELS if member.role == "social_media" else None)
        elif name in ORGANISATION_KPIS:
            entry = _entry(name, context.organisation_kpis.get(name), targets, context, {})
            entry["scope"] = "organisation"
            entry["weight"] = 0.0
            entry["reason"] = explain.reason(name, entry, None, context.minimum_sample)
        elif name in NOT_IN_ENGINE:
            entry = {"value": None, "n": 0, "ci": None, "target": None, "attainment": None,
                     "status": "not_enough_data", "weight": 0.0,
                     "unavailable": NOT_IN_ENGINE[name], "label": explain.label(name),
                     "value_text": explain.MISSING, "interval_text": explain.MISSING,
                     "target_text": explain.MISSING, "reason": NOT_IN_ENGINE[name]}
        else:
            entry = _entry(name, source.get(name), targets, context, quality,
                           context.aht_benchmarks.get(agent) if name == "aht" else None)
            if lead and name == "aht":
                entry["attainment"], entry["status"] = None, "info"
                entry["reason"] = ("the team's own AHT: a team is not judged against its "
                                   "own median")
        if name in QUALITY_KPIS and entry["status"] in ("meets", "near", "misses"):
            quality[name] = entry["attainment"]
        entries[name] = entry
    judged = [(e["weight"], e["attainment"]) for e in entries.values()
              if e["status"] in ("meets", "near", "misses") and e["weight"] > 0]
    score = balanced_score(judged)
    error = balanced_score_error([(e["weight"], *e["attainment_interval"])
                                  for e in entries.values()
                                  if e["status"] in ("meets", "near", "misses")
                                  and e["weight"] > 0 and e.get("attainment_interval")
                                  and len(e["attainment_interval"]) == 2])
    found = agent_flags(context, agent, entries)
    context_kpis = {name: {"value": figure.value if figure is not None else None,
                           "n": figure.n if figure is not None else None}
                    for name in CONTEXT_KPIS if name not in entries
                    for figure in [source.get(name)]}
    return {
        "agent": agent, "name": member.name, "role": member.role, "team": member.team,
        "balanced_score": score, "balanced_score_se": error,
        "flags": [flag.as_json() for flag in found],
        "kpis": entries, "context": context_kpis,
        "trend": {"period": context.trend_period,
                  "kpis": _trend(context, agent, [n for n in names if n in KPIS])},
    }


def _team_frt(context: Context, targets: ResolvedTargets) -> dict[str, Any]:
    """A lead's first response: the whole team's, per channel, from the members' figures."""
    merged = Context(**{**context.__dict__, "per_channel": _team_channels(context)})
    return _frt_entry("__team__", targets, merged, None)


def _team_channels(context: Context) -> dict[tuple[str, str], Figures]:
    """The team's per-channel first response attainment inputs: the n-weighted mean of the
    members' per-channel medians and service levels (only attainment uses them)."""
    sums: dict[str, dict[str, list[float]]] = {}
    for (_agent, channel), kpis in context.per_channel.items():
        name = "service_level" if channel == "phone" else "frt"
        result = figure_of(kpis, name)
        if result.value is None or not result.n:
            continue
        bucket = sums.setdefault(channel, {"v": [], "n": []})
        bucket["v"].append(float(result.value) * result.n)
        bucket["n"].append(result.n)
    out: dict[tuple[str, str], Figures] = {}
    for channel, bucket in sums.items():
        n = int(sum(bucket["n"]))
        name = "service_level" if channel == "phone" else "frt"
        out[("__team__", channel)] = {name: KpiFigure(round(sum(bucket["v"]) / n, 4), n)}
    return out


def main_channel(context: Context, agent: str) -> str | None:
    """The channel of most of the agent's contacts."""
    counts = {channel: int(figure_of(kpis, "contacts").value or 0)
              for (who, channel), kpis in context.per_channel.items() if who == agent}
    return max(sorted(counts), key=lambda c: counts[c]) if any(counts.values()) else None


def _peers(context: Context, agent: str) -> dict[str, Figures]:
    """Whom an agent's volume and quality are compared with: the team's agents of the same
    role working mainly the same channel, when there are at least MIN_TEAM of them, else the
    same role. An email agent closes more contacts a day than a phone agent and a chat
    agent's customers rate differently: across channels the quartiles flagged channels."""
    role = context.members[agent].role
    same_role = {other: kpis for other, kpis in _individuals(context).items()
                 if context.members[other].role == role}
    channel = main_channel(context, agent)
    same_channel = {other: kpis for other, kpis in same_role.items()
                    if main_channel(context, other) == channel}
    return same_channel if channel and len(same_channel) >= flag_rules.MIN_TEAM \
        else same_role


def agent_flags(context: Context, agent: str,
                entries: dict[str, dict[str, Any]]) -> list[flag_rules.Flag]:
    member = context.members[agent]
    found: list[flag_rules.Flag] = []
    if member.role not in LEAD_ROLES:
        peers = _peers(context, agent)
        mine = context.per_agent.get(agent, {})
        targets = resolve_targets(context.settings, role=member.role, team=member.team)
        quality_targets = {kpi: target.judged_by.target for kpi in QUALITY_KPIS
                           if (target := targets.get(kpi)) is not None}
        for flag in (flag_rules.busy_not_effective(mine, peers, context.minimum_sample,
                                                   quality_targets),
                     flag_rules.rushing(mine, peers, context.aht_benchmarks.get(agent))):
            if flag is not None:
                found.append(flag)
        # the band that applies to the agent: occupancy's definition's (75-85 %) unless the
        # configuration sets one; a band is always set (kpi.targets refuses removing it)
        band = targets.kpis["occupancy"].judged_by
        if band.low is not None and band.high is not None:
            occupancy = flag_rules.occupancy_flags(context.daily_occupancy.get(agent, []),
                                                   band.low, band.high,
                                                   figure_of(mine, "occupancy").value)
            if occupancy is not None:
                found.append(occupancy)
    labels = {name: KPIS[name].label if name in KPIS else name for name in entries}
    thin = {name: {"value": e["value"] if "channels" not in e else (e["value"] if e["channels"]
                                                                    else None),
                   "n": e["n"] if "channels" not in e else sum(
                       p["n"] for p in e["channels"].values())}
            for name, e in entries.items()
            if e.get("scope") != "organisation" and e.get("weight", 0) > 0
            and (name not in KPIS or KPIS[name].statistic.kind != "sum")}
    thin_flag = flag_rules.low_sample(thin, context.minimum_sample, labels)
    if thin_flag is not None:
        found.append(thin_flag)
    return found


def team_summary(context: Context, cards: list[dict[str, Any]]) -> dict[str, Any]:
    scores = [c["balanced_score"] for c in cards if c["balanced_score"] is not None]
    targets = resolve_targets(context.settings, team=context.team)
    kpis: dict[str, Any] = {}
    for name in ("csat", "fcr", "aht", "occupancy", "contacts", "repeat_contact_rate"):
        found = context.team_kpis.get(name)
        result = found if found is not None else KpiFigure(None, 0)
        target = targets.get(name)
        judged_by = target.judged_by if target is not None else None
        att = attainment(judged_by, result.value, context.medians.get(name))
        sampled = name in KPIS and KPIS[name].statistic.kind != "sum"
        kpis[name] = {"value": result.value, "n": found.n if found is not None else None,
                      "ci": ci_json(result), "target": target.describe() if target else None,
                      "attainment": None if name == "aht" else att,
                      "status": "info" if name == "aht" else status(
                          result.value, result.n, att, context.minimum_sample, sampled),
                      "label": explain.label(name),
                      "value_text": explain.value_text(name, result.value),
                      "target_text": explain.target_text(name, judged_by,
                                                         context.medians.get(name))}
    flag_counts: dict[str, int] = {}
    for card in cards:
        for flag in card["flags"]:
            flag_counts[flag["flag"]] = flag_counts.get(flag["flag"], 0) + 1
    return {"team": context.team, "name": context.team_name, "agents": len(cards),
            "from": context.start, "to": context.end,
            "balanced_score": round(sum(scores) / len(scores), 1) if scores else None,
            "kpis": kpis, "medians": context.medians, "flags": flag_counts}


def build_scorecards(engine: sqlalchemy.Engine, *, agent: str | None = None,
                     team: str | None = None, start: date | None = None,
                     end: date | None = None, settings: Any = None,
                     context: Context | None = None) -> dict[str, Any]:
    """The `servicepulse scorecard` JSON document. `end` is exclusive."""
    if (agent is None) == (team is None) and context is None:
        raise InvalidRequest("give exactly one of an agent or a team")
    context = context or gather(engine, agent=agent, team=team, start=start, end=end,
                                settings=settings)
    cards = [agent_scorecard(context, member) for member in sorted(context.members)]
    chosen = [card for card in cards if agent is None or card["agent"] == agent]
    return {"from": context.start, "to": context.end, "agents": chosen,
            "team": team_summary(context, cards)}
