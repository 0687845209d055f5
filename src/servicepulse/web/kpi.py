"""The web service's view of the KPI engine: queries, labels, units, targets and formatting.

The engine (`servicepulse.kpi`) computes; this module only asks it and presents the answer.
`KpiFunction` is what the app calls, so tests can hand in a stand-in: it takes the engine's
own `KpiQuery` (routes get one through `web.routes.params.KpiQueryParams`) and returns its
typed `KpiResult`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Engine

from servicepulse.kpi.display import format_duration as format_duration  # views import it here
from servicepulse.kpi.display import format_unit
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.query import PeriodName as Period  # the engine's: views import them here
from servicepulse.kpi.results import KpiResult, KpiRow
from servicepulse.kpi.sources import DIMENSIONS as DIMENSIONS

if TYPE_CHECKING:
    from servicepulse.kpi.definitions import DefaultTarget
    from servicepulse.kpi.settings import KpiSettings
    from servicepulse.kpi.targets import ResolvedTargets

__all__ = ["DIMENSIONS", "Period", "format_duration"]

KpiFunction = Callable[[Engine, KpiQuery], KpiResult]


def engine_kpi_function(settings: KpiSettings | None = None) -> KpiFunction:
    """The real engine (`servicepulse.kpi.engine`), on the app's kept connections: the same
    document as `run_kpi_query` (see `kpi.kept_backends`). `settings`: the app's (loaded once
    by the app factory); None: the documented defaults."""
    from servicepulse.kpi.kept_backends import backends_for

    def run(engine: Engine, query: KpiQuery) -> KpiResult:
        return backends_for(engine).run(query, settings)

    return run


def dashboard_kpi_function(settings: KpiSettings | None = None) -> KpiFunction:
    """For dashboards: the daily rollup answers what it can (its KPIs, grouped and filtered by
    agent, team, role or channel), the exact engine the rest (occupancy, segment filters, ...);
    rows of both are merged by group. Counts and proportions from the rollup are exact; its
    medians and p90s come from 25%-wide histogram buckets (see servicepulse.kpi.rollup). Days
    whose rollup the background worker is rebuilding are read as of their last rebuild.
    `settings`: as for `engine_kpi_function`."""
    from functools import partial

    from servicepulse.kpi.kept_backends import backends_for
    from servicepulse.kpi.rollup import ROLLUP_KPIS, can_answer, query_rollup
    from servicepulse.kpi.settings import kpi_settings

    resolved = kpi_settings(settings)

    def run(engine: Engine, query: KpiQuery) -> KpiResult:
        exact_engine = partial(backends_for(engine).run, settings=resolved)
        wanted = query.kpis if query.kpis is not None else None
        if wanted is None:
            return exact_engine(query)
        from_rollup = [name for name in wanted if name in ROLLUP_KPIS]
        rest = [name for name in wanted if name not in ROLLUP_KPIS]
        rollup_query = query.model_copy(update={"kpis": from_rollup})
        document = None
        if from_rollup and can_answer(rollup_query):
            # days being rebuilt are read as of their last rebuild (listed in stale_days)
            # rather than recomputing the whole window exactly at every import
            document = query_rollup(engine, rollup_query, resolved, allow_stale=True)
        if document is None:
            return exact_engine(query)
        document = _marked(engine, document)
        if not rest:
            return document
        exact = exact_engine(query.model_copy(update={"kpis": rest}))
        return merge_results(document, exact)

    return run


def _marked(engine: Engine, result: KpiResult) -> KpiResult:
    """A rollup result with the exact engine's partial marks (see kpi.engine.is_partial)."""
    from servicepulse.kpi.engine import mark_partial
    from servicepulse.kpi.window import data_span, today_in

    return mark_partial(result, data_span(engine, result.timezone), today_in(result.timezone))


def merge_results(first: KpiResult, second: KpiResult) -> KpiResult:
    """Rows of two KPI results over the same query, joined by group (KPIs side by side;
    a row is partial when it is in either); the header is the first's."""
    from dataclasses import replace

    rows: dict[str, KpiRow] = {}
    for result in (first, second):
        for row in result.rows:
            key = repr(sorted(row.group.items()))
            merged = rows.setdefault(key, KpiRow(row.group, {}))
            merged.figures.update(row.figures)
            if row.partial is not None:
                merged.partial = bool(merged.partial) or row.partial
    return replace(first, rows=sorted(rows.values(), key=lambda r: repr(sorted(
        (k, "" if v is None else str(v)) for k, v in r.group.items()))))


@dataclass(frozen=True)
class KpiInfo:
    name: str
    label: str
    unit: str  # the engine's: count, percent (0-100), seconds, score, points, currency, per_hour
    higher_is_better: bool | None  # None: no better direction (volume, AHT, bands)
    target: float | None = None  # in the KPI's unit
    target_kind: Literal["min", "max", "band"] | None = None
    target_high: float | None = None  # upper end of a band (occupancy 75-85%)


# first response is shown per channel on the overview (`FIRST_RESPONSE_CHANNELS`), never as
# one median over channels whose times differ by orders of magnitude (seconds to hours)
OVERVIEW_KPIS = ("contacts", "service_level", "abandon_rate", "csat", "nps", "fcr", "aht",
                 "occupancy")
FIRST_RESPONSE_CHANNELS = ("chat", "email", "social")  # phone: its service level
# frt_within_target: comparable across channels, with each channel's FRT beside it (an agent's
# FRT median would mix phone seconds with email hours)
AGENT_KPIS = ("contacts", "csat", "fcr", "aht", "frt_within_target", "resolution_rate",
              "occupancy")
CHANNEL_KPIS = ("contacts", "frt", "frt_within_target", "asa", "aht", "service_level",
                "abandon_rate", "csat", "fcr")
# first response as the share within each channel's own target: today's median over calls
# (seconds) and emails (hours) together read "0 s" on a phone-heavy day
WALLBOARD_KPIS = ("service_level", "frt_within_target", "abandon_rate", "csat", "contacts")


def kpi_info(name: str, targets: ResolvedTargets | None = None) -> KpiInfo:
    """Label, unit and direction from the engine's definition; the target line from `targets`,
    the organisation's targets resolved from the settings the request's context holds
    (`RunContext.targets`: defaults, industry profile, the configuration's `[targets]`).
    Without targets: no target line. A KPI judged per channel (first response), against the
    team (AHT) or not at all has no line either."""
    from servicepulse.kpi.definitions import KPIS

    definition = KPIS.get(name)
    target = targets.get(name) if targets is not None else None
    kind, low, high = _target_line(target.judged_by if target is not None else None)
    if definition is None:
        return KpiInfo(name, name.replace("_", " ").capitalize(), "count", None, low, kind, high)
    direction = definition.direction
    higher = True if direction == "higher" else False if direction == "lower" else None
    return KpiInfo(name, definition.label, definition.unit, higher, low, kind, high)


def _target_line(target: DefaultTarget | None) -> tuple[
        Literal["min", "max", "band"] | None, float | None, float | None]:
    """(kind, target or the band's low end, the band's high end) of a resolved target."""
    if target is None:
        return None, None, None
    if target.direction == "higher" and target.target is not None:
        return "min", target.target, None
    if target.direction == "lower" and target.target is not None:
        return "max", target.target, None
    if target.direction == "band" and target.low is not None and target.high is not None:
        return "band", target.low, target.high
    return None, None, None


def display_value(name: str, value: float | None) -> float | None:
    """The value as shown (the engine's unit: rates are already percent)."""
    return None if value is None else float(value)


def format_value(name: str, value: float | None) -> str:
    """Human text of an engine value: '42.5%', '3m 20s', '1,234', '+38'."""
    return format_shown(name, display_value(name, value))


def format_shown(name: str, shown: float | None) -> str:
    """Human text of a value already in the unit shown (see `display_value`): the KPI layer's
    one formatter, servicepulse.kpi.display."""
    return format_unit(kpi_info(name).unit, shown)


def target_status(name: str, value: float | None,
                  targets: ResolvedTargets | None) -> str | None:
    """'met', 'missed' or None (no target or no value), for a value in the shown unit, against
    `targets` (see `kpi_info`)."""
    info = kpi_info(name, targets)
    if value is None or info.target is None:
        return None
    if info.target_kind == "min":
        return "met" if value >= info.target else "missed"
    if info.target_kind == "max":
        return "met" if value <= info.target else "missed"
    if info.target_kind == "band" and info.target_high is not None:
        return "met" if info.target <= value <= info.target_high else "missed"
    return None


def target_text(name: str, targets: ResolvedTargets | None) -> str | None:
    """'target ≥ 80%', 'target 75–85%', 'target ≤ 1.0 d' (see `kpi_info`)."""
    info = kpi_info(name, targets)
    if info.target is None:
        return None
    if info.target_kind == "band" and info.target_high is not None:
        unit = "%" if info.unit == "percent" else ""
        return f"target {info.target:g}–{info.target_high:g}{unit}"
    sign = "≥" if info.target_kind == "min" else "≤"
    return f"target {sign} {_target_shown(info.unit, info.target)}"


def _target_shown(unit: str, value: float) -> str:
    if unit == "seconds":
        return format_duration(value)
    if unit == "points":
        return f"{value:+g}"
    return f"{value:g}" + ("%" if unit == "percent" else "")
