"""Why did a KPI change: its change between two periods split into each group's mix and rate
effect (midpoint shift-share), with the significance of each group's own change.

A rate or mean KPI over a population is the n-weighted mean of its groups' values:
V = Σ w_g r_g, with w_g = n_g / n (the group's share of the population) and r_g the group's
value. Between a previous period (0) and this one (1) the change splits exactly as

    mix_g  = (w1 − w0) × (r0 + r1) / 2   (the group grew or shrank in the population)
    rate_g = (r1 − r0) × (w0 + w1) / 2   (the group itself got better or worse)

since mix_g + rate_g = w1 r1 − w0 r0, whose sum over the groups is V1 − V0. A group missing
from one period (w = 0 there) takes the other period's r, so its whole contribution is mix.

The arithmetic is exact (fractions): a proportion's value is rebuilt from its whole counts
(successes = value × n / 100), a mean's from its reported value. The reported figures are
rounded to the engine's 4 decimals in a way that keeps the promise a reader checks by adding:
each dimension's totals add up to the reported change exactly, and each group's mix and rate
to its total (largest-remainder rounding of the exact mix and rate effects).

Significance of a group's rate change comes from what the engine reports (value, n, ci):
a two-proportion z test for rates, Welch's t test for means (the standard deviation read back
from the t interval), the NPS z test for NPS; only groups with at least the minimum sample on
both sides are tested, as the engine does for a KPI's own change.

The engine is asked through a `run` function (KpiQuery -> the `servicepulse kpi` document),
so the CLI runs it on the store, the web app on the caller's scope, the digest on a team.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

from pydantic import ValidationError

from servicepulse.errors import InvalidRequest
from servicepulse.kpi import statistics
from servicepulse.kpi.definitions import KPIS, KpiDefinition
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.results import KpiFigure, KpiResult
from servicepulse.kpi.sources import DIMENSIONS

# the engine's kinds whose value is the n-weighted mean of its groups' values
EXPLAINABLE_KINDS = {"proportion": "rate", "mean": "mean", "score": "mean score"}
DIGITS = 4  # the engine's decimals
_UNIT = Fraction(1, 10**DIGITS)

KpiRunner = Callable[[KpiQuery], KpiResult]


class ExplainError(InvalidRequest):
    """The question cannot be answered; the message says why and what to ask instead."""


@dataclass(frozen=True)
class GroupFigures:
    """One group's figures in one period, as the engine reports them."""

    n: int
    value: Fraction | None  # exact (see the module docstring); None when the group has none
    statistic: dict[str, float]  # what `statistics.compare` needs for this KPI's kind


@dataclass(frozen=True)
class Contribution:
    dimension: str
    group: str | None  # None: the records with no value for the dimension
    mix: float
    rate: float
    total: float
    share: float  # % of the population in this period (0-100)
    previous_share: float
    value: float | None  # the group's value in this period
    previous_value: float | None
    n: int
    previous_n: int
    p_value: float | None  # of the group's own change; None when not tested
    significant: bool | None

    def as_dict(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "group": self.group, "mix": self.mix,
                "rate": self.rate, "total": self.total, "share": self.share,
                "previous_share": self.previous_share, "value": self.value,
                "previous_value": self.previous_value, "n": self.n,
                "previous_n": self.previous_n, "p_value": self.p_value,
                "significant": self.significant}


@dataclass(frozen=True)
class Explanation:
    kpi: str
    period: tuple[date, date]  # [from, to) local days
    against: tuple[date, date]
    by: tuple[str, ...]
    value: float
    previous: float
    change: float
    n: int
    previous_n: int
    contributions: list[Contribution] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON document of `servicepulse explain --format json` and the API."""
        return {"kpi": self.kpi,
                "from": self.period[0].isoformat(), "to": self.period[1].isoformat(),
                "against_from": self.against[0].isoformat(),
                "against_to": self.against[1].isoformat(),
                "by": list(self.by), "value": self.value, "previous": self.previous,
                "change": self.change, "n": self.n, "previous_n": self.previous_n,
                "contributions": [c.as_dict() for c in self.contributions]}


# --- the split itself ----------------------------------------------------------------------

@dataclass(frozen=True)
class Split:
    """A group's exact weights, values and effects."""

    group: Any
    w0: Fraction
    w1: Fraction
    r0: Fraction
    r1: Fraction

    @property
    def mix(self) -> Fraction:
        return (self.w1 - self.w0) * (self.r0 + self.r1) / 2

    @property
    def rate(self) -> Fraction:
        return (self.r1 - self.r0) * (self.w0 + self.w1) / 2

    @property
    def total(self) -> Fraction:
        return self.mix + self.rate


def shift_share(previous: Mapping[Any, tuple[int, Fraction | None]],
                current: Mapping[Any, tuple[int, Fraction | None]]) -> list[Split]:
    """The midpoint shift-share split of each group (group -> (n, value) in each period).

    Weights are shares of the n of the groups with a value; a group with a value in one
    period only takes that value in the other. Σ total = Σ w1 r1 − Σ w0 r0 exactly.
    """
    def weights(groups: Mapping[Any, tuple[int, Fraction | None]]) -> dict[Any, Fraction]:
        counted = {g: n for g, (n, value) in groups.items() if value is not None and n > 0}
        population = sum(counted.values())
        return {g: Fraction(n, population) for g, n in counted.items()}

    w0, w1 = weights(previous), weights(current)
    splits = []
    for group in sorted(set(w0) | set(w1), key=_group_order):
        r0 = previous[group][1] if group in w0 else None
        r1 = current[group][1] if group in w1 else None
        before = r0 if r0 is not None else r1
        after = r1 if r1 is not None else r0
        assert before is not None and after is not None
        splits.append(Split(group, w0.get(group, Fraction(0)), w1.get(group, Fraction(0)),
                            before, after))
    return splits


def _group_order(group: Any) -> tuple[bool, str]:
    return group is None, "" if group is None else str(group)


def apportion(exact: Sequence[Fraction], target_units: int) -> list[int]:
    """Whole units (of 10^-4) for each exact amount, adding up to `target_units`: each amount
    rounded to the nearest unit, then the units still missing given to the amounts rounded
    down the most (or, when over, taken from those rounded up the most). An amount that is
    exactly 0 stays 0 (a pure-mix change shows no rate effect) unless every amount is 0."""
    rounded = [_units(amount) for amount in exact]
    left = target_units - sum(rounded)
    adjustable = [i for i, amount in enumerate(exact) if amount != 0] or list(range(len(exact)))
    if not adjustable:
        return rounded
    # exact − rounded: positive when rounded down
    order = sorted(adjustable, key=lambda i: exact[i] / _UNIT - rounded[i], reverse=left > 0)
    step = 1 if left > 0 else -1
    index = 0
    while left != 0:
        rounded[order[index % len(order)]] += step
        left -= step
        index += 1
    return rounded


def _units(value: Fraction) -> int:
    """The nearest whole number of 10^-4 (ties to even, as Python rounds)."""
    return round(value / _UNIT)


def _decimal_units(value: float) -> int:
    quantised = Decimal(repr(value)).quantize(Decimal(1).scaleb(-DIGITS), ROUND_HALF_EVEN)
    return int(quantised.scaleb(DIGITS))


def _float(units: int) -> float:
    return units / 10**DIGITS


# --- from the engine's documents ------------------------------------------------------------

def explainable(name: str) -> KpiDefinition:
    """The definition of a KPI `explain` can split, else an ExplainError saying which can."""
    definition = KPIS.get(name)
    if definition is None:
        raise ExplainError(f"unknown KPI {name!r}: known are {', '.join(KPIS)}")
    kind = definition.statistic.kind
    if kind not in EXPLAINABLE_KINDS:
        what = {"sum": "a count or sum", "ratio": "a ratio of sums",
                "median-distribution": "a median"}.get(kind, f"a {kind}")
        raise ExplainError(
            f"{name} is {what}, not a rate or a mean: its change does not split into groups' "
            f"shares and values. Explain one of {', '.join(explainable_kpis())}")
    return definition


def explainable_kpis() -> list[str]:
    return [name for name, d in KPIS.items()
            if d.statistic.kind in EXPLAINABLE_KINDS]


def _exact_value(kind: str, result: KpiFigure) -> tuple[Fraction | None, dict[str, float]]:
    """The group's exact value and the figures its significance test needs."""
    value, n = result.value, int(result.n or 0)
    if value is None or n <= 0:
        return None, {}
    if kind == "proportion":
        successes = float(value) * n / 100
        whole = round(successes)
        if abs(successes - whole) < 1e-3:  # counted: whole successes (always, bar formulas)
            return Fraction(100 * whole, n), {"successes": float(whole), "n": float(n)}
        return Fraction(repr(value)), {"successes": successes, "n": float(n)}
    if kind == "score":
        promoters = round(float(result.extra("promoters") or 0) * n / 100)
        detractors = round(float(result.extra("detractors") or 0) * n / 100)
        return (Fraction(100 * (promoters - detractors), n),
                {"promoters": float(promoters), "detractors": float(detractors), "n": float(n)})
    figures = {"n": float(n), "mean": float(value)}
    ci = result.interval
    if n >= 2 and ci is not None and ci[0] is not None and ci[1] is not None:
        # the t interval's half width is t(n−1) · std / √n; scipy imported only here, where
        # a mean's change needs it (issue 16: importing this module should not cost 0.15 s)
        from scipy import special

        t = float(special.stdtrit(n - 1, 0.5 + statistics.COMPARISON_CONFIDENCE / 2))
        figures["std"] = (float(ci[1]) - float(ci[0])) / 2 * math.sqrt(n) / t
    return Fraction(repr(value)), figures


def _groups(result: KpiResult, kpi: str, dimension: str, kind: str
            ) -> dict[Any, GroupFigures]:
    groups = {}
    for row in result.rows:
        figure = row.figure(kpi) or KpiFigure(None, 0)
        if figure.unavailable:
            raise ExplainError(f"{kpi} is unavailable: {figure.unavailable}")
        value, figures = _exact_value(kind, figure)
        groups[row.group.get(dimension)] = GroupFigures(int(figure.n or 0), value, figures)
    return groups


def _overall(result: KpiResult, kpi: str, days: tuple[date, date]
             ) -> tuple[float, int]:
    figure = result.figure(kpi) or KpiFigure(None, 0)
    if figure.unavailable:
        raise ExplainError(f"{kpi} is unavailable: {figure.unavailable}")
    if figure.value is None:
        raise ExplainError(f"no {kpi} between {days[0]} and {days[1]} (to exclusive): "
                           "nothing to compare; pick days with data")
    return float(figure.value), int(figure.n or 0)


def _test(kind: str, current: GroupFigures, previous: GroupFigures, minimum_sample: int
          ) -> tuple[float | None, bool | None]:
    if min(current.n, previous.n) < minimum_sample or not current.statistic \
            or not previous.statistic:
        return None, None
    try:
        comparison = statistics.compare(kind, current.statistic, previous.statistic)
    except ValueError:
        return None, None
    if comparison is None:
        return None, None
    return comparison.p_value, comparison.significant


def explain_change(run: KpiRunner, kpi: str, period: tuple[date, date],
                   against: tuple[date, date], by: Sequence[str],
                   filters: Mapping[str, list[str]] | None = None,
                   minimum_sample: int = 30) -> Explanation:
    """Split the change of `kpi` from `against` to `period` (each [from, to) local days)
    over each dimension of `by`. `run` answers a KpiQuery with the engine's result."""
    definition = explainable(kpi)
    kind = definition.statistic.kind
    by = list(dict.fromkeys(by))
    if not by:
        raise ExplainError("name at least one dimension to split by (e.g. --by channel)")
    for dimension in by:
        if dimension not in DIMENSIONS:
            raise ExplainError(f"cannot split by {dimension!r}: use {', '.join(DIMENSIONS)}")
        if dimension not in definition.dimensions:
            raise ExplainError(
                f"{kpi} cannot be split by {dimension}: its records carry "
                f"{', '.join(d for d in DIMENSIONS if d in definition.dimensions)}")
    for name, (first, end) in (("the period", period), ("the period against", against)):
        if end <= first:
            raise ExplainError(f"{name} ends ({end}) on or before it starts ({first}): "
                               "the end day is exclusive")

    def ask(days: tuple[date, date], group_by: list[str]) -> KpiResult:
        try:
            query = KpiQuery.model_validate({
                "by": group_by, "period": "all", "from": days[0], "to": days[1],
                "kpis": [kpi], "filters": dict(filters or {}), "compare": False})
        except ValidationError as error:  # a filter the query refuses: the caller's to fix
            raise ExplainError.of(error) from None
        return run(query)

    value, n = _overall(ask(period, []), kpi, period)
    previous, previous_n = _overall(ask(against, []), kpi, against)
    change_units = _decimal_units(value) - _decimal_units(previous)
    contributions: list[Contribution] = []
    for dimension in by:
        now = _groups(ask(period, [dimension]), kpi, dimension, kind)
        before = _groups(ask(against, [dimension]), kpi, dimension, kind)
        splits = shift_share({g: (f.n, f.value) for g, f in before.items()},
                             {g: (f.n, f.value) for g, f in now.items()})
        # mix and rate of every group rounded together, so that they add up to the change
        parts = apportion([part for s in splits for part in (s.mix, s.rate)], change_units)
        empty = GroupFigures(0, None, {})
        for index, split in enumerate(splits):
            mix, rate = parts[2 * index], parts[2 * index + 1]
            total = mix + rate
            current, earlier = now.get(split.group, empty), before.get(split.group, empty)
            p_value, significant = _test(kind, current, earlier, minimum_sample)
            contributions.append(Contribution(
                dimension=dimension, group=None if split.group is None else str(split.group),
                mix=_float(mix), rate=_float(rate), total=_float(total),
                share=_float(_units(100 * split.w1)), previous_share=_float(_units(100 * split.w0)),
                value=None if current.value is None else _float(_units(current.value)),
                previous_value=None if earlier.value is None else _float(_units(earlier.value)),
                n=current.n, previous_n=earlier.n, p_value=p_value, significant=significant))
    contributions.sort(key=lambda c: (-abs(c.total), c.dimension, _group_order(c.group)))
    return Explanation(kpi, period, against, tuple(by), value, previous,
                       _float(change_units), n, previous_n, contributions)


def store_runner(engine: Any, settings: Any | None = None) -> KpiRunner:
    """`run` for `explain_change` on a store (SQLite or PostgreSQL) through the exact engine."""
    from servicepulse.kpi.engine import run_kpi_query

    def run(query: KpiQuery) -> KpiResult:
        return run_kpi_query(engine, query, settings)

    return run


# --- in words (the CLI table, the page, the digest) -----------------------------------------

def format_effect(kpi: str, amount: float | None) -> str:
    """A contribution in the KPI's unit, signed, precise enough to tell effects apart:
    '+2.41 pts' (rates and NPS), '−12.0 s' (durations), '+0.05' (scores)."""
    from servicepulse.kpi.display import MINUS, kpi_unit

    if amount is None:
        return "–"
    unit = kpi_unit(kpi)
    if unit == "seconds":
        text, suffix = f"{abs(amount):.1f}", " s"
    elif unit in ("percent", "points"):
        text, suffix = f"{abs(amount):.2f}", " pts"
    else:
        text, suffix = f"{abs(amount):.2f}", ""
    sign = "" if float(text) == 0 else (MINUS if amount < 0 else "+")
    return f"{sign}{text}{suffix}"


def _precise(kpi: str, value: float) -> str:
    from servicepulse.kpi.display import kpi_unit

    unit = kpi_unit(kpi)
    if unit == "seconds":
        return f"{value:.1f} s"
    return f"{value:.2f}%" if unit == "percent" else f"{value:.2f}"


def group_text(dimension: str, group: str | None) -> str:
    if group is None:
        return "(unassigned)" if dimension == "agent" else "(none)"
    return group


def summary(explanation: Explanation, top: int = 3) -> str:
    """One sentence: 'CSAT fell from 71.1% to 69.4% (−1.61 pts); most from team T01
    (−3.15 pts: mix −1.73, rate −1.42, significant), …'."""
    from servicepulse.kpi.display import format_kpi

    kpi = explanation.kpi
    label = KPIS[kpi].label if kpi in KPIS else kpi
    verb = "rose" if explanation.change > 0 else "fell" if explanation.change < 0 else "held"
    before, after = format_kpi(kpi, explanation.previous), format_kpi(kpi, explanation.value)
    if before == after:  # '6.0 min to 6.0 min' says nothing: the figures as precise as the change
        before, after = (_precise(kpi, v) for v in (explanation.previous, explanation.value))
    head = f"{label} {verb} from {before} to {after} ({format_effect(kpi, explanation.change)})"
    parts = []
    for contribution in explanation.contributions[:top]:
        if contribution.total == 0:
            continue
        verdict = ("" if contribution.significant is None
                   else ", significant" if contribution.significant else ", not significant")
        name = group_text(contribution.dimension, contribution.group)
        parts.append(f"{contribution.dimension} {name} "
                     f"({format_effect(kpi, contribution.total)}: mix "
                     f"{format_effect(kpi, contribution.mix)}, rate "
                     f"{format_effect(kpi, contribution.rate)}{verdict})")
    if not parts:
        return head + "."
    return f"{head}; largest contributions: {'; '.join(parts)}."
