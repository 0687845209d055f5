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
from functools import lru_cache
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
from ibis.common.deferred import Deferred

from servicepulse.kpi.settings import KpiSettings

StatisticKind = Literal["proportion", "mean", "score", "median-distribution", "sum", "ratio"]
Getter = Callable[[str], float | None]
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


def _number(value: float | None) -> float:
    return 0.0 if value is None or value != value else value  # None or NaN


def _percent_interval(interval: tuple[float, float] | None) -> list[float] | None:
    if interval is None:
        return None
    return [round(interval[0] * 100, 4), round(interval[1] * 100, 4)]


def _significant(comparison: Any) -> bool | None:
    return None if comparison is None else bool(comparison.significant)


@lru_cache(maxsize=1)
def _stats() -> Any:
    from servicepulse.kpi import statistics

    return statistics


# The statistics functions call scipy's distributions (tens of microseconds a call); a
# scorecard by agent x day asks for hundreds of thousands of intervals, mostly for the same
# small counts, so the discrete ones are memoised and the t interval is scaled from n alone.


@lru_cache(maxsize=1 << 16)
def wilson(successes: int, n: int) -> tuple[float, float] | None:
    result: tuple[float, float] | None = _stats().wilson_interval(successes, n)
    return result


@lru_cache(maxsize=1 << 14)
def _t_half_width(n: int) -> float | None:
    unit = _stats().mean_interval(0.0, 1.0, n)  # mean 0, std 1: (−t·1/√n, +t·1/√n)
    return None if unit is None else float(unit[1])


def mean_interval(mean: float, std: float | None, n: int) -> tuple[float, float] | None:
    half = _t_half_width(n) if std is not None else None
    return None if half is None or std is None else (mean - half * std, mean + half * std)


@lru_cache(maxsize=1 << 16)
def nps_interval(promoters: int, detractors: int, n: int) -> tuple[float, float] | None:
    result: tuple[float, float] | None = _stats().nps_interval(promoters, detractors, n)
    return result


@lru_cache(maxsize=1 << 16)
def compare_proportions(s1: int, n1: int, s2: int, n2: int) -> Any:
    return _stats().compare_proportions(s1, n1, s2, n2)


def mean_std_from_sums(n: int, total: float, total_of_squares: float
                       ) -> tuple[float | None, float | None]:
    # Each group's moments are asked for up to three times (its value, as the next period's
    # "previous", and both sides of the comparison), each an exact Fraction computation.
    # A zero sum goes uncached: 0.0 and -0.0 are one cache key but print differently.
    if total == 0:
        result: tuple[float | None, float | None] = _stats().mean_std_from_sums(
            n, total, total_of_squares)
        return result
    return _cached_mean_std(n, total, total_of_squares)


@lru_cache(maxsize=1 << 16)
def _cached_mean_std(n: int, total: float, total_of_squares: float
                     ) -> tuple[float | None, float | None]:
    result: tuple[float | None, float | None] = _stats().mean_std_from_sums(
        n, total, total_of_squares)
    return result


@lru_cache(maxsize=1 << 14)
def quantile_rank_interval(n: int, q: float) -> tuple[int, int] | None:
    result: tuple[int, int] | None = _stats().quantile_rank_interval(n, q)
    return result


@dataclass(frozen=True)
class Quantiles:
    """A request to the engine for order statistics of `value` over `population`."""

    source: str
    population: Deferred | None
    value: Deferred


@dataclass(frozen=True)
class Statistic:
    source: str
    kind: StatisticKind = field(init=False)

    def measures(self, prefix: str) -> MeasureBuilders:
        raise NotImplementedError

    def quantiles(self, prefix: str) -> dict[str, Quantiles]:
        return {}

    def finalize(self, prefix: str, get: Getter, order: dict[str, dict[str, Any]],
                 settings: KpiSettings) -> dict[str, Any]:
        raise NotImplementedError

    def compare(self, prefix: str, current: Getter, previous: Getter) -> bool | None:
        """Whether the change against the previous period is significant at 95%."""
        return None

    def value_and_n(self, prefix: str, get: Getter, order: dict[str, dict[str, Any]],
                    settings: KpiSettings) -> tuple[Any, int]:
        """Only the value and n (the previous period needs no interval)."""
        result = self.finalize(prefix, get, order, settings)
        return result["value"], result["n"]


@dataclass(frozen=True)
class Proportion(Statistic):
    """Share (0-100 %) of the population rows meeting `success`; Wilson interval."""

    population: Deferred | None = None
    success: Deferred | None = None
    kind: StatisticKind = field(default="proportion", init=False)

    def measures(self, prefix: str) -> MeasureBuilders:
        return {f"{prefix}__n": (self.source, _count_where(self.population)),
                f"{prefix}__s": (self.source, _count_where(self.population, self.success))}

    def finalize(self, prefix: str, get: Getter, order: dict[str, dict[str, Any]],
                 settings: KpiSettings) -> dict[str, Any]:
        n = int(_number(get(f"{prefix}__n")))
        successes = int(_number(get(f"{prefix}__s")))
        return proportion_result(successes, n)

    def value_and_n(self, prefix: str, get: Getter, order: dict[str, dict[str, Any]],
                    settings: KpiSettings) -> tuple[Any, int]:
        n = int(_number(get(f"{prefix}__n")))
        if n == 0:
            return None, 0
        return round(100 * int(_number(get(f"{prefix}__s"))) / n, 4), n

    def compare(self, prefix: str, current: Getter, previous: Getter) -> bool | None:
        n1, n2 = int(_number(current(f"{prefix}__n"))), int(_number(previous(f"{prefix}__n")))
        if n1 == 0 or n2 == 0:
            return None
        return _significant(compare_proportions(
            int(_number(current(f"{prefix}__s"))), n1, int(_number(previous(f"{prefix}__s"))), n2))


def proportion_result(successes: int, n: int) -> dict[str, Any]:
    if n == 0:
        return {"value": None, "n": 0, "ci": None}
    return {"value": round(100 * successes / n, 4), "n": n,
            "ci": _percent_interval(wilson(successes, n))}


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

    def moments(self, prefix: str, get: Getter) -> tuple[int, float | None, float | None]:
        n = int(_number(get(f"{prefix}__n")))
        mean, std = mean_std_from_sums(
            n, _number(get(f"{prefix}__sum")), _number(get(f"{prefix}__sumsq")))
        return n, mean, std

    def finalize(self, prefix: str, get: Getter, order: dict[str, dict[str, Any]],
                 settings: KpiSettings) -> dict[str, Any]:
        n, mean, std = self.moments(prefix, get)
        if mean is None:
            return {"value": None, "n": 0, "ci": None}
        interval = mean_interval(mean, std, n)
        return {"value": round(mean, 4), "n": n,
                "ci": None if interval is None else [round(interval[0], 4),
                                                     round(interval[1], 4)]}

    def compare(self, prefix: str, current: Getter, previous: Getter) -> bool | None:
        n1, m1, s1 = self.moments(prefix, current)
        n2, m2, s2 = self.moments(prefix, previous)
        if m1 is None or m2 is None or s1 is None or s2 is None:
            return None
        return _significant(_stats().compare_means(m1, s1, n1, m2, s2, n2))


@dataclass(frozen=True)
class Distribution(Mean):
    """Median (the value), mean and p90 of a duration; order-statistic interval."""

    kind: StatisticKind = field(default="median-distribution", init=False)

    def quantiles(self, prefix: str) -> dict[str, Quantiles]:
        return {prefix: Quantiles(self.source, self.population, self.value)}

    def finalize(self, prefix: str, get: Getter, order: dict[str, dict[str, Any]],
                 settings: KpiSettings) -> dict[str, Any]:
        n = int(_number(get(f"{prefix}__n")))
        mean = _number(get(f"{prefix}__sum")) / n if n else None  # no spread needed here
        found = order.get(prefix, {})
        if n == 0 or mean is None:
            return {"value": None, "n": 0, "mean": None, "p90": None, "ci": None}
        return {"value": found.get("median"), "n": n, "mean": round(mean, 4),
                "p90": found.get("p90"), "ci": found.get("median_ci"),
                "p90_ci": found.get("p90_ci")}


@dataclass(frozen=True)
class Nps(Statistic):
    """% promoters − % detractors (−100…100), interval of DESIGN.md §3."""

    population: Deferred | None = None
    promoter: Deferred | None = None
    detractor: Deferred | None = None
    kind: StatisticKind = field(default="score", init=False)

    def measures(self, prefix: str) -> MeasureBuilders:
        return {f"{prefix}__n": (self.source, _count_where(self.population)),
                f"{prefix}__p": (self.source, _count_where(self.population, self.promoter)),
                f"{prefix}__d": (self.source, _count_where(self.population, self.detractor))}

    def finalize(self, prefix: str, get: Getter, order: dict[str, dict[str, Any]],
                 settings: KpiSettings) -> dict[str, Any]:
        n = int(_number(get(f"{prefix}__n")))
        if n == 0:
            return {"value": None, "n": 0, "ci": None}
        promoters, detractors = int(_number(get(f"{prefix}__p"))), int(_number(get(f"{prefix}__d")))
        interval = nps_interval(promoters, detractors, n)
        return {"value": round(100 * (promoters - detractors) / n, 4), "n": n,
                "ci": None if interval is None else [round(interval[0], 4),
                                                     round(interval[1], 4)],
                "promoters": round(100 * promoters / n, 4),
                "detractors": round(100 * detractors / n, 4)}

    def compare(self, prefix: str, current: Getter, previous: Getter) -> bool | None:
        counts = [int(_number(get(f"{prefix}__{part}"))) for get in (current, previous)
                  for part in ("p", "d", "n")]
        return _significant(_stats().compare_nps(*counts))


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

    def total(self, prefix: str, get: Getter) -> tuple[float, int]:
        n = int(_number(get(f"{prefix}__n")))
        if self.value is None:
            return float(n), n
        return _number(get(f"{prefix}__sum")), n

    def finalize(self, prefix: str, get: Getter, order: dict[str, dict[str, Any]],
                 settings: KpiSettings) -> dict[str, Any]:
        total, n = self.total(prefix, get)
        if self.n_is_value:
            n = int(total) if n else 0
            return {"value": n if n or get(f"{prefix}__n") is not None else None, "n": n}
        if n == 0:
            return {"value": None, "n": 0}
        if self.value is None or float(total).is_integer():
            return {"value": int(total), "n": n}
        return {"value": round(total, 4), "n": n}


Formula = Callable[[dict[str, tuple[float, int]], KpiSettings], tuple[float | None, int]]


@dataclass(frozen=True)
class Ratio(Statistic):
    """A value computed from named totals (possibly of different sources) by `formula`.

    `formula(totals, settings) -> (value, n)` gets each part's (sum, rows) and returns None
    for the value when it is undefined (a zero denominator).
    """

    source: str = "interactions"
    parts: dict[str, Total] = field(default_factory=dict)
    formula: Formula = field(default=lambda totals, settings: (None, 0))
    kind: StatisticKind = field(default="ratio", init=False)

    def measures(self, prefix: str) -> MeasureBuilders:
        measures: MeasureBuilders = {}
        for part_name, part in self.parts.items():
            measures.update(part.measures(f"{prefix}__{part_name}"))
        return measures

    def finalize(self, prefix: str, get: Getter, order: dict[str, dict[str, Any]],
                 settings: KpiSettings) -> dict[str, Any]:
        totals = {name: part.total(f"{prefix}__{name}", get) for name, part in self.parts.items()}
        value, n = self.formula(totals, settings)
        if value is None or n == 0:
            return {"value": None, "n": n}
        return {"value": round(value, 4), "n": n}

    @property
    def sources(self) -> set[str]:
        return {part.source for part in self.parts.values()}
