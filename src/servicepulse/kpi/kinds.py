"""Kinds of statistic a KPI is: what the database sums for it, and how a value comes out.

Each kind asks the database only for sufficient statistics (counts, sums, sums of squares;
for distributions a few order statistics) and turns them into the KPI's result with
`servicepulse.kpi.statistics`. Expressions are Ibis deferred expressions (`_.column ...`)
over the rows of the kind's *source* (see `servicepulse.kpi.sources`), so one definition
compiles for SQLite, PostgreSQL, DuckDB and Spark alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import numpy as np
from ibis.common.deferred import Deferred

from servicepulse.kpi import statistics
from servicepulse.kpi.columns import (
    Measures,
    json_floats,
    json_ints,
    json_pairs,
    round_like_python,
)
from servicepulse.kpi.settings import KpiSettings

StatisticKind = Literal["proportion", "mean", "score", "median-distribution", "sum", "ratio"]
# name -> (source, function of the source table giving the aggregate)
MeasureBuilders = dict[str, tuple[str, Callable[[ir.Table], ir.Scalar]]]

TRUE: Deferred | None = None  # "every row of the source"


def _resolve(expression: Deferred | None, table: ir.Table) -> ir.BooleanValue | None:
    if expression is None:
        return None
    resolved = expression.resolve(table)
    return resolved


def _count_where(population: Deferred | None, *conditions: Deferred | None
                 ) -> Callable[[ir.Table], ir.Scalar]:
    def build(table: ir.Table) -> ir.Scalar:
        condition: Any = None
        for item in (population, *conditions):
            resolved = _resolve(item, table)
            if resolved is not None:
                condition = resolved if condition is None else condition & resolved
        if condition is None:
            return table.count()
        # CASE WHEN: a NULL condition (unknown) counts as "no"
        return ibis.ifelse(condition, 1, 0).sum()

    return build


def _sum_where(population: Deferred | None, value: Deferred, power: int = 1
               ) -> Callable[[ir.Table], ir.Scalar]:
    def build(table: ir.Table) -> ir.Scalar:
        resolved_value = value.resolve(table).cast("float64")
        if power == 2:
            resolved_value = resolved_value * resolved_value
        condition = _resolve(population, table)
        if condition is None:
            return resolved_value.sum()
        return ibis.ifelse(condition, resolved_value, None).sum()

    return build


def _count_values(population: Deferred | None, value: Deferred
                  ) -> Callable[[ir.Table], ir.Scalar]:
    def build(table: ir.Table) -> ir.Scalar:
        condition: Any = value.resolve(table).notnull()
        resolved = _resolve(population, table)
        if resolved is not None:
            condition = condition & resolved
        return ibis.ifelse(condition, 1, 0).sum()

    return build


def _percent(values: np.ndarray) -> np.ndarray:
    return values * 100


@lru_cache(maxsize=1 << 14)
def quantile_rank_interval(n: int, q: float) -> tuple[int, int] | None:
    result: tuple[int, int] | None = statistics.quantile_rank_interval(n, q)
    return result


@dataclass(frozen=True)
class Quantiles:
    """A request to the engine for order statistics of `value` over `population`."""

    source: str
    population: Deferred | None
    value: Deferred


@dataclass
class Figures:
    """A statistic's result for every group: `value` as reported (NaN for null), `n`, and
    the JSON fields of the result in order ("value" and "n" first).

    The figures are worked out as arrays; a field is a function making its JSON list from
    them, called only when the document's rows are built (`field`): the previous period
    and a KPI's extras report just some fields, and a caller that reads the arrays (a
    table, the benchmark's timing of the figures) never pays for the lists.
    """

    value: np.ndarray
    n: np.ndarray
    fields: dict[str, list[Any] | Callable[[], list[Any]]]

    def field(self, name: str) -> list[Any]:
        value = self.fields[name]
        if callable(value):
            value = self.fields[name] = value()
        return value


def _null_where_empty(values: np.ndarray, n: np.ndarray) -> np.ndarray:
    return np.where(n > 0, values, np.nan)


@dataclass(frozen=True)
class Statistic:
    source: str
    kind: StatisticKind = field(init=False)

    def measures(self, prefix: str) -> MeasureBuilders:
        raise NotImplementedError

    def quantiles(self, prefix: str) -> dict[str, Quantiles]:
        return {}

    def figures(self, prefix: str, measures: Measures, settings: KpiSettings) -> Figures:
        """The result of every group from its measures (`{prefix}__...` columns)."""
        raise NotImplementedError

    def p_values(self, prefix: str, current: Measures, previous: Measures
                 ) -> np.ndarray | None:
        """The p-value of the change against the previous period (NaN where untestable);
        None for kinds without a test."""
        return None


@dataclass(frozen=True)
class Proportion(Statistic):
    """Share (0-100 %) of the population rows meeting `success`; Wilson interval."""

    population: Deferred | None = None
    success: Deferred | None = None
    kind: StatisticKind = field(default="proportion", init=False)

    def measures(self, prefix: str) -> MeasureBuilders:
        return {f"{prefix}__n": (self.source, _count_where(self.population)),
                f"{prefix}__s": (self.source, _count_where(self.population, self.success))}

    def figures(self, prefix: str, measures: Measures, settings: KpiSettings) -> Figures:
        return proportion_figures(measures.count(f"{prefix}__s"), measures.count(f"{prefix}__n"))

    def p_values(self, prefix: str, current: Measures, previous: Measures
                 ) -> np.ndarray | None:
        return statistics.proportion_p_values(
            current.count(f"{prefix}__s"), current.count(f"{prefix}__n"),
            previous.count(f"{prefix}__s"), previous.count(f"{prefix}__n"))


def proportion_figures(successes: np.ndarray, n: np.ndarray,
                       value: np.ndarray | None = None) -> Figures:
    """Percentages with Wilson intervals (`value` overrides successes / n, e.g. for a
    fractional numerator)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = value if value is not None else 100 * successes / n
    reported = round_like_python(_null_where_empty(shares, n))
    low, high = statistics.wilson_intervals(successes, n)
    return Figures(reported, n, {"value": partial(json_floats, reported, None),
                                 "n": partial(json_ints, n),
                                 "ci": lambda: json_pairs(_percent(low), _percent(high))})


@dataclass(frozen=True)
class Mean(Statistic):
    """Mean of `value` over the population rows where it is known; t interval."""

    population: Deferred | None = None
    value: Deferred = field(default_factory=lambda: ibis._.value)
    kind: StatisticKind = field(default="mean", init=False)

    def measures(self, prefix: str) -> MeasureBuilders:
        return {f"{prefix}__n": (self.source, _count_values(self.population, self.value)),
                f"{prefix}__sum": (self.source, _sum_where(self.population, self.value)),
                f"{prefix}__sumsq": (self.source, _sum_where(self.population, self.value, 2))}

    def moments(self, prefix: str, measures: Measures
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(n, mean, std) of every group, worked out once per set of measures."""
        key = f"{prefix}.moments"
        if key not in measures.derived:
            n = measures.count(f"{prefix}__n")
            mean, std = statistics.mean_std_arrays(n, measures.number(f"{prefix}__sum"),
                                                   measures.number(f"{prefix}__sumsq"))
            measures.derived[key] = (n, mean, std)
        moments: tuple[np.ndarray, np.ndarray, np.ndarray] = measures.derived[key]
        return moments

    def figures(self, prefix: str, measures: Measures, settings: KpiSettings) -> Figures:
        n, mean, std = self.moments(prefix, measures)
        half_width = statistics.t_half_widths(std, n)
        reported = round_like_python(mean)
        return Figures(reported, n, {
            "value": partial(json_floats, reported, None), "n": partial(json_ints, n),
            "ci": lambda: json_pairs(mean - half_width, mean + half_width)})

    def p_values(self, prefix: str, current: Measures, previous: Measures
                 ) -> np.ndarray | None:
        n_1, mean_1, std_1 = self.moments(prefix, current)
        n_2, mean_2, std_2 = self.moments(prefix, previous)
        return statistics.mean_p_values(mean_1, std_1, n_1, mean_2, std_2, n_2)


# The order statistics of a Distribution, as the engine stores them beside the measures
# (`{prefix}.median`, ...): rounded values, NaN where too few rows.
ORDER_FIELDS = ("median", "p90", "median_ci_low", "median_ci_high", "p90_ci_low", "p90_ci_high")


@dataclass(frozen=True)
class Distribution(Mean):
    """Median (the value), mean and p90 of a duration; order-statistic interval."""

    kind: StatisticKind = field(default="median-distribution", init=False)

    def quantiles(self, prefix: str) -> dict[str, Quantiles]:
        return {prefix: Quantiles(self.source, self.population, self.value)}

    def figures(self, prefix: str, measures: Measures, settings: KpiSettings) -> Figures:
        n = measures.count(f"{prefix}__n")
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = _null_where_empty(measures.number(f"{prefix}__sum") / n, n)

        def order(name: str) -> np.ndarray:
            return _null_where_empty(measures.raw(f"{prefix}.{name}"), n)

        median = order("median")
        return Figures(median, n, {
            "value": partial(json_floats, median, None), "n": partial(json_ints, n),
            "mean": lambda: json_floats(mean),
            "p90": lambda: json_floats(order("p90"), None),
            "ci": lambda: json_pairs(order("median_ci_low"), order("median_ci_high"), None),
            "p90_ci": lambda: json_pairs(order("p90_ci_low"), order("p90_ci_high"), None)})


@dataclass(frozen=True)
class Nps(Statistic):
    """% promoters − % detractors (−100…100), interval of docs/kpis.md."""

    population: Deferred | None = None
    promoter: Deferred | None = None
    detractor: Deferred | None = None
    kind: StatisticKind = field(default="score", init=False)

    def measures(self, prefix: str) -> MeasureBuilders:
        return {f"{prefix}__n": (self.source, _count_where(self.population)),
                f"{prefix}__p": (self.source, _count_where(self.population, self.promoter)),
                f"{prefix}__d": (self.source, _count_where(self.population, self.detractor))}

    def figures(self, prefix: str, measures: Measures, settings: KpiSettings) -> Figures:
        n = measures.count(f"{prefix}__n")
        promoters, detractors = measures.count(f"{prefix}__p"), measures.count(f"{prefix}__d")
        with np.errstate(divide="ignore", invalid="ignore"):
            value = round_like_python(_null_where_empty(100 * (promoters - detractors) / n, n))
            promoter_share = _null_where_empty(100 * promoters / n, n)
            detractor_share = _null_where_empty(100 * detractors / n, n)
        low, high = statistics.nps_intervals(promoters, detractors, n)
        return Figures(value, n, {
            "value": partial(json_floats, value, None), "n": partial(json_ints, n),
            "ci": lambda: json_pairs(low, high),
            "promoters": lambda: json_floats(promoter_share),
            "detractors": lambda: json_floats(detractor_share)})

    def p_values(self, prefix: str, current: Measures, previous: Measures
                 ) -> np.ndarray | None:
        return statistics.nps_p_values(
            *(measures.count(f"{prefix}__{part}") for measures in (current, previous)
              for part in ("p", "d", "n")))


@dataclass(frozen=True)
class Total(Statistic):
    """A sum of `value` (a count of rows when no value) over the population."""

    population: Deferred | None = None
    value: Deferred | None = None
    # n is the value itself (a stock such as the backlog, not a sum over rows)
    n_is_value: bool = False
    kind: StatisticKind = field(default="sum", init=False)

    def measures(self, prefix: str) -> MeasureBuilders:
        measures: MeasureBuilders = {f"{prefix}__n": (self.source, _count_where(self.population))}
        if self.value is not None:
            measures[f"{prefix}__sum"] = (self.source, _sum_where(self.population, self.value))
        return measures

    def totals(self, prefix: str, measures: Measures) -> tuple[np.ndarray, np.ndarray]:
        """(sum, rows) of every group: the row count is the sum when there is no value."""
        n = measures.count(f"{prefix}__n")
        if self.value is None:
            return n.astype("float64"), n
        return measures.number(f"{prefix}__sum"), n

    def figures(self, prefix: str, measures: Measures, settings: KpiSettings) -> Figures:
        total, n = self.totals(prefix, measures)
        if self.n_is_value:
            stock = np.where(n > 0, total, 0).astype(np.int64)
            known = (stock != 0) | ~np.isnan(measures.raw(f"{prefix}__n"))
            value = np.where(known, stock, np.nan)
            return Figures(value, stock, {"value": partial(_integers_or_none, value),
                                          "n": partial(json_ints, stock)})
        value = _null_where_empty(total, n)
        if self.value is None:  # a count
            return Figures(value, n, {"value": partial(_integers_or_none, value),
                                      "n": partial(json_ints, n)})
        reported = round_like_python(value)
        return Figures(reported, n, {"value": partial(whole_or_rounded, value, reported),
                                     "n": partial(json_ints, n)})


def _integers_or_none(values: np.ndarray) -> list[Any]:
    listed: list[Any] = np.where(np.isnan(values), 0, values).astype(np.int64).tolist()
    for index in np.flatnonzero(np.isnan(values)):
        listed[index] = None
    return listed


def whole_or_rounded(values: np.ndarray, rounded: np.ndarray) -> list[Any]:
    """Whole sums as ints, others rounded (a sum of durations, of reach, ...)."""
    return [None if value != value else (int(value) if value.is_integer() else short)
            for value, short in zip(values.tolist(), rounded.tolist(), strict=True)]


# Formula of a Ratio: (totals, settings) -> (value, n), where totals[name] = (sum, rows) of
# every group as arrays and value is NaN where undefined (a zero denominator).
Formula = Callable[[dict[str, tuple[np.ndarray, np.ndarray]], KpiSettings],
                   tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Ratio(Statistic):
    """A value computed from named totals (possibly of different sources) by `formula`."""

    source: str = "interactions"
    parts: dict[str, Total] = field(default_factory=dict)
    formula: Formula = field(default=lambda totals, settings: (np.array([]), np.array([])))
    kind: StatisticKind = field(default="ratio", init=False)

    def measures(self, prefix: str) -> MeasureBuilders:
        measures: MeasureBuilders = {}
        for part_name, part in self.parts.items():
            measures.update(part.measures(f"{prefix}__{part_name}"))
        return measures

    def evaluate(self, prefix: str, measures: Measures, settings: KpiSettings
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(value, n) of every group: NaN where the formula's value is undefined."""
        totals = {name: part.totals(f"{prefix}__{name}", measures)
                  for name, part in self.parts.items()}
        with np.errstate(divide="ignore", invalid="ignore"):
            value, n = self.formula(totals, settings)
        return (np.broadcast_to(np.asarray(value, dtype="float64"), measures.size).copy(),
                np.broadcast_to(np.asarray(n), measures.size).astype(np.int64))

    def figures(self, prefix: str, measures: Measures, settings: KpiSettings) -> Figures:
        value, n = self.evaluate(prefix, measures, settings)
        reported = round_like_python(np.where(n == 0, np.nan, value))
        return Figures(reported, n, {"value": partial(json_floats, reported, None),
                                     "n": partial(json_ints, n)})

    @property
    def sources(self) -> set[str]:
        return {part.source for part in self.parts.values()}
