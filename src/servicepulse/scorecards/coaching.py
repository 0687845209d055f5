"""Coaching reports (per agent) and team-lead digests (per team), as HTML or PDF with charts.

Agent report: the scorecard; strengths and gaps against the team, only where the difference
is significant at 95%; for each gap, the channels and categories it comes from (the segments
where the agent trails the team most, weighted by contacts); examples (the lowest-rated
interactions with the customer's comment); a suggested focus; charts of attainment and trend.

Significance: proportions (CSAT, FCR, rates) use the two-proportion z test of
`servicepulse.kpi.statistics.compare_proportions` against the rest of the team (counts
recovered from the engine's value × n); other KPIs (means, medians, NPS) compare the agent's
and the team's values with standard errors read from the engine's 95% intervals.

QA reviews: the categories that pull the agent's internal quality score down (below the
team's mean on the category), each with the agent's lowest-scored reviews of it
(`servicepulse.scorecards.quality`).

Every figure comes from the KPI engine, except the examples, which are the survey answers
and QA reviews themselves.
"""

from __future__ import annotations

import base64
import io
import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import func, select

from servicepulse.errors import InvalidRequest
from servicepulse.kpi import statistics
from servicepulse.kpi.definitions import KPIS
from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.results import KpiFigure
from servicepulse.scorecards import explain
from servicepulse.scorecards.quality import pulling_down
from servicepulse.scorecards.scorecard import (
    LEAD_ROLES,
    Context,
    agent_scorecard,
    build_scorecards,
    figure_of,
    gather,
)
from servicepulse.store import tables

Z_95 = 1.959964
SEGMENT_MIN_N = 10
EXAMPLES = 5
PROPORTIONS = {"csat", "fcr", "resolution_rate", "escalation_rate", "repeat_contact_rate",
               "reopen_rate", "transfer_rate", "abandon_rate", "service_level"}


def _better(name: str) -> int:
    """+1 when higher is better, −1 when lower is, 0 when neither (AHT, bands, volume)."""
    direction = KPIS[name].direction if name in KPIS else "none"
    return {"higher": 1, "lower": -1}.get(direction, 0)


def _se(result: KpiFigure) -> float | None:
    low, high = result.ci_low, result.ci_high
    if low is None or high is None:
        return None
    return abs(high - low) / (2 * Z_95)


def compare_with_team(name: str, agent: KpiFigure, team: KpiFigure) -> dict[str, Any] | None:
    """The agent's difference from the team on one KPI and whether it is significant."""
    value, n = agent.value, agent.n
    team_value, team_n = team.value, team.n
    if value is None or team_value is None or n == 0:
        return None
    difference = value - team_value
    if name in PROPORTIONS:
        successes = value / 100 * n
        rest_successes, rest_n = team_value / 100 * team_n - successes, team_n - n
        if rest_n <= 0:
            return None
        rest_successes = min(max(rest_successes, 0.0), float(rest_n))
        result = statistics.compare_proportions(round(successes), n, round(rest_successes),
                                                rest_n)
        if result is None:
            return None
        significant = bool(result.significant)
        rest = 100 * rest_successes / rest_n
        versus = f"the rest of the team's {rest:.1f}%"
    else:
        errors = [_se(agent), _se(team)]
        if errors[0] is None or errors[1] is None:
            return None
        error = math.sqrt(errors[0] ** 2 + errors[1] ** 2)
        significant = abs(difference) > Z_95 * error if error > 0 else difference != 0
        versus = f"the team's {explain.value_text(name, team_value)}"
    return {"kpi": name, "label": KPIS[name].label, "value": value, "n": n,
            "value_text": explain.value_text(name, value),
            "team_value": team_value, "difference": round(difference, 4),
            "significant": significant, "versus": versus}


def _segments(engine: sqlalchemy.Engine, context: Context, agent: str, gaps: list[str],
              settings: Any) -> dict[str, list[dict[str, Any]]]:
    """Per gap KPI, the channels and categories where the agent trails the team most."""
    if not gaps:
        return {}
    start, end = date.fromisoformat(context.start), date.fromisoformat(context.end)
    members = sorted(context.members)
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in gaps}
    for dimension in ("channel", "category"):
        mine = run_kpi_query(engine, KpiQuery(by=[dimension], from_=start, to=end, kpis=gaps,
                                              filters={"agent": [agent]}), settings)
        team = run_kpi_query(engine, KpiQuery(by=[dimension], from_=start, to=end, kpis=gaps,
                                              filters={"agent": members}), settings)
        team_rows = team.by_group(dimension)
        for row in mine.rows:
            segment = row.group.get(dimension)
            for name in gaps:
                figure = row.figure(name)
                value, n = (figure.value, figure.n) if figure is not None else (None, 0)
                team_row = team_rows.get(segment)
                team_value = team_row.value(name) if team_row is not None else None
                if segment is None or value is None or team_value is None or n < SEGMENT_MIN_N:
                    continue
                shortfall = (team_value - value) * _better(name)
                if shortfall > 0:
                    found[name].append({"dimension": dimension, "segment": segment,
                                        "value": value, "team_value": team_value, "n": n,
                                        "value_text": explain.value_text(name, value),
                                        "team_text": explain.value_text(name, team_value),
                                        "weight": round(shortfall * n, 2)})
    return {name: sorted(rows, key=lambda r: -r["weight"])[:4] for name, rows in found.items()}


def lowest_rated(engine: sqlalchemy.Engine, agent: str, start: float, end: float,
                 limit: int = EXAMPLES) -> list[dict[str, Any]]:
    """The agent's lowest survey answers with a comment (the survey's agent, else its
    interaction's), lowest on the scale first."""
    s, i = tables.surveys, tables.interactions
    owner = func.coalesce(s.c.agent_id, i.c.agent_id)
    share = (s.c.score - s.c.scale_min) / (s.c.scale_max - s.c.scale_min)
    query = (select(s.c.id, s.c.kind, s.c.score, s.c.scale_max, s.c.submitted_at, s.c.comment,
                    s.c.interaction_id, i.c.channel, i.c.category, i.c.subject)
             .select_from(s.outerjoin(i, s.c.interaction_id == i.c.id))
             .where(owner == agent, s.c.comment.is_not(None), s.c.comment != "",
                    s.c.submitted_at >= start, s.c.submitted_at < end)
             .order_by(share, s.c.submitted_at).limit(limit))
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [{**row, "submitted_at": datetime.fromtimestamp(row["submitted_at"], UTC)
             .strftime("%Y-%m-%d")} for row in rows]


def _period_bounds(context: Context) -> tuple[float, float]:
    from zoneinfo import ZoneInfo

    from servicepulse.kpi.settings import kpi_settings

    zone = ZoneInfo(kpi_settings(context.settings).timezone)

    def epoch(day: str) -> float:
        value = date.fromisoformat(day)
        return datetime(value.year, value.month, value.day, tzinfo=zone).timestamp()

    return epoch(context.start), epoch(context.end)


def coaching_data(engine: sqlalchemy.Engine, agent: str, *, start: date | None = None,
                  end: date | None = None, settings: Any = None,
                  context: Context | None = None) -> dict[str, Any]:
    context = context or gather(engine, agent=agent, start=start, end=end, settings=settings)
    settings = context.settings
    card = agent_scorecard(context, agent)
    mine = context.per_agent.get(agent, {})
    strengths: list[dict[str, Any]] = []
    gaps: list[dict[str, Any]] = []
    lead = context.members[agent].role in LEAD_ROLES
    for name, entry in card["kpis"].items():
        if lead or name not in KPIS or entry["status"] == "not_enough_data" or not _better(name):
            continue
        if name == "frt":
            # judged per channel on the card: a median over phone seconds and email hours
            # together, the agent's against the team's, would compare channel mixes
            continue
        comparison = compare_with_team(name, figure_of(mine, name),
                                       figure_of(context.team_kpis, name))
        if comparison is None or not comparison["significant"]:
            continue
        better = comparison["difference"] * _better(name) > 0
        comparison["status"] = entry["status"]
        (strengths if better else gaps).append(comparison)
    sources = _segments(engine, context, agent, [g["kpi"] for g in gaps], settings)
    for gap in gaps:
        gap["sources"] = sources.get(gap["kpi"], [])
    start_epoch, end_epoch = _period_bounds(context)
    examples = lowest_rated(engine, agent, start_epoch, end_epoch)
    # QA categories where the agent trails the team, with the reviews behind them
    quality = [] if lead else pulling_down(
        engine, agent, sorted(context.members), date.fromisoformat(context.start),
        date.fromisoformat(context.end), start_epoch, end_epoch, settings)
    return {"kind": "agent", "card": card, "strengths": strengths, "gaps": gaps,
            "examples": examples, "quality": quality,
            "focus": suggested_focus(card, gaps, quality),
            "team": {"id": context.team, "name": context.team_name,
                     "kpis": {name: explain.value_text(
                         name, figure_of(context.team_kpis, name).value)
                              for name in card["kpis"] if name != "frt"}},
            "from": context.start, "to": context.end,
            "charts": {"attainment": attainment_chart(card),
                       "trend": trend_chart(card)}}


def suggested_focus(card: dict[str, Any], gaps: list[dict[str, Any]],
                    quality: list[dict[str, Any]] | None = None) -> list[str]:
    """Largest shortfall first: significant gaps, then targets missed. An IQS line names the
    QA category that pulls the agent down most (`quality`, from `pulling_down`)."""
    lines = []
    ordered = sorted(gaps, key=lambda g: card["kpis"][g["kpi"]].get("attainment") or 0)
    for gap in ordered[:2]:
        text = (f"{gap['label']}: {gap['value_text']} against {gap['versus']} "
                f"(n = {gap['n']})")
        if gap["kpi"] == "iqs" and quality:
            text += _category_focus(quality)  # what the reviewers marked down, not where
        elif gap["sources"]:
            worst = gap["sources"][0]
            text += (f"; mostly in {worst['dimension']} {worst['segment']} ({worst['value_text']}"
                     f" against the team's {worst['team_text']} on {worst['n']})")
        lines.append(text)
    named = {gap["kpi"] for gap in gaps}
    for name, entry in card["kpis"].items():
        if len(lines) >= 3:
            break
        if entry["status"] != "misses" or name in named:
            continue
        label = KPIS[name].label if name in KPIS else name
        if name == "aht" and entry.get("benchmark") is not None \
                and entry["value"] <= entry["benchmark"]:
            # misses only through the quality cap: speed is not the problem
            lines.append(f"{label} {explain.value_text(name, entry['value'])} earns no "
                         "credit while quality misses: fix quality before speed")
        else:
            lines.append(f"{label}: {entry.get('value_text') or entry['value']} misses its "
                         f"target {entry.get('target_text') or entry['target']}")
        if name == "iqs" and quality:
            lines[-1] += _category_focus(quality)
    if not lines:
        lines.append("Keep it up: no significant gap against the team and no target missed.")
    return lines


def _category_focus(quality: list[dict[str, Any]]) -> str:
    worst = quality[0]
    return (f"; mostly on {worst['label']} ({worst['value_text']} against the team's "
            f"{worst['team_text']} over {worst['n']} reviews)")


# --- charts ----------------------------------------------------------------------------------


def _png(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=130, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def attainment_chart(card: dict[str, Any]) -> str | None:
    rows = [(name, entry["attainment"]) for name, entry in card["kpis"].items()
            if entry["attainment"] is not None and entry["status"] != "not_enough_data"]
    if not rows:
        return None
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6.4, 0.5 + 0.45 * len(rows)))
    names = [KPIS[name].label if name in KPIS else name for name, _ in rows]
    values = [min(value, 1.5) * 100 for _, value in rows]
    colours = ["#2e7d32" if v >= 100 else "#f9a825" if v >= 90 else "#c62828" for v in values]
    axis.barh(names, values, color=colours)
    axis.axvline(100, color="#333", linewidth=1, linestyle="--")
    axis.set_xlabel("attainment of target (%)")
    axis.invert_yaxis()
    for y, value in enumerate(values):
        axis.text(value + 1, y, f"{value:.0f}%", va="center", fontsize=8)
    axis.set_xlim(0, max(160.0, max(values) + 15))
    axis.set_title("Attainment per KPI (100% = on target)", fontsize=10)
    return _png(figure)


def trend_chart(card: dict[str, Any]) -> str | None:
    series = {name: [p for p in points if p["value"] is not None]
              for name, points in card.get("trend", {}).get("kpis", {}).items()}
    series = {name: points for name, points in series.items() if len(points) >= 2}
    if not series:
        return None
    plt = _pyplot()
    count = len(series)
    figure, axes = plt.subplots(count, 1, figsize=(6.4, 1.6 * count), squeeze=False)
    for axis, (name, points) in zip(axes[:, 0], series.items(), strict=True):
        axis.plot([p["period"][5:] for p in points], [p["value"] for p in points],
                  marker="o", color="#1565c0")
        axis.set_ylabel(name, fontsize=8)
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.3)
    axes[0, 0].set_title(f"Trend by {card['trend']['period']}", fontsize=10)
    figure.tight_layout()
    return _png(figure)


def team_chart(cards: list[dict[str, Any]]) -> str | None:
    rows = [(card["agent"], card["balanced_score"]) for card in cards
            if card["balanced_score"] is not None]
    if not rows:
        return None
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6.4, 0.6 + 0.28 * len(rows)))
    axis.barh([agent for agent, _ in rows], [score for _, score in rows], color="#1565c0")
    axis.invert_yaxis()
    axis.set_xlim(0, 100)
    axis.set_xlabel("balanced score (0-100)")
    for y, (_, score) in enumerate(rows):
        axis.text(score + 1, y, f"{score:.1f}", va="center", fontsize=8)
    axis.set_title("Balanced score per agent", fontsize=10)
    return _png(figure)


# --- documents -------------------------------------------------------------------------------


def team_digest(engine: sqlalchemy.Engine, team: str, *, start: date | None = None,
                end: date | None = None, settings: Any = None,
                context: Context | None = None) -> dict[str, Any]:
    document = build_scorecards(engine, team=team, start=start, end=end, settings=settings,
                                context=context)
    return {"kind": "team", "document": document, "team": document["team"],
            "cards": document["agents"], "from": document["from"], "to": document["to"],
            "charts": {"scores": team_chart(document["agents"])}}


def _environment() -> Environment:
    environment = Environment(loader=PackageLoader("servicepulse.scorecards", "templates"),
                              autoescape=select_autoescape(["html"]))
    environment.filters["num"] = lambda value, digits=1: (
        "–" if value is None else f"{value:.{digits}f}" if isinstance(value, float)
        else str(value))
    environment.globals["label"] = lambda name: KPIS[name].label if name in KPIS else name
    return environment


def render_html(data: dict[str, Any]) -> str:
    template = "coaching.html" if data["kind"] == "agent" else "digest.html"
    return _environment().get_template(template).render(
        data=data, generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))


def write_report(engine: sqlalchemy.Engine, kind: str, identifier: str, out: Path, *,
                 start: date | None = None, end: date | None = None,
                 settings: Any = None, context: Context | None = None) -> None:
    """`context`: the engine's figures already gathered for the team (optional)."""
    if kind == "agent":
        data = coaching_data(engine, identifier, start=start, end=end, settings=settings,
                             context=context)
    elif kind == "team":
        data = team_digest(engine, identifier, start=start, end=end, settings=settings,
                           context=context)
    else:
        raise InvalidRequest(f"report kind {kind!r}: use agent or team")
    html = render_html(data)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".pdf":
        from weasyprint import HTML

        HTML(string=html).write_pdf(out)
    else:
        out.write_text(html, encoding="utf-8")
