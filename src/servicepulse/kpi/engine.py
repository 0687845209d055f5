"""The KPI engine: runs the definitions of `servicepulse.kpi.definitions` on a backend.

For each source the requested KPIs read, ONE grouped aggregate query returns their sufficient
statistics (counts, sums, sums of squares) per group and period; medians and p90s come from
a second, rank-based query that returns only the few order statistics needed (the quantile
itself and its order-statistic interval). Everything runs inside the database through Ibis:
SQLite and PostgreSQL (the store), DuckDB (a Parquet export) or Spark.

The result is the JSON document of the `servicepulse kpi` command (see docs/kpis.md).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import sqlalchemy
from ibis.backends import BaseBackend

from servicepulse.kpi import statistics
from servicepulse.kpi.definitions import KPIS, KpiDefinition
from servicepulse.kpi.kinds import Quantiles, Statistic, Total, quantile_rank_interval
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.settings import KpiSettings, kpi_settings
from servicepulse.kpi.sources import (
    BEFORE,
    NONE,
    SOURCES,
    Frame,
    Period,
    day_number,
    from_day_number,
    local_midnight,
    next_period_start,
    period_start,
    previous_period_start,
)

GroupKey = tuple[Any, ...]  # by-dimension values..., period key
Executor = Callable[[ir.Expr], pd.DataFrame]


@contextmanager
def store_backend(engine: sqlalchemy.Engine) -> Iterator[BaseBackend]:
    """An Ibis connection to the store's own database (SQLite file or PostgreSQL)."""
    url = engine.url
    backend: BaseBackend
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ValueError("the KPI engine needs a SQLite file, not an in-memory database")
        backend = ibis.sqlite.connect(url.database)
    elif url.get_backend_name() == "postgresql":
        backend = ibis.postgres.connect(
            host=url.host or "localhost", port=url.port or 5432, user=url.username,
            password=url.password, database=url.database)
    else:
        raise ValueError(f"no KPI backend for {url.get_backend_name()!r} databases")
    try:
        yield backend
    finally:
        backend.disconnect()


def run_kpi_query(engine: sqlalchemy.Engine, query: KpiQuery,
                  settings: Any | None = None) -> dict[str, Any]:
    """The `servicepulse kpi` JSON document for `query` over the store behind `engine`."""
    with store_backend(engine) as backend:
        return run_on_backend(backend, query, settings)


def run_on_backend(backend: BaseBackend, query: KpiQuery,
                   settings: Any | None = None) -> dict[str, Any]:
    """The same, on any Ibis backend holding the store's tables (DuckDB, Spark, ...)."""
    resolved = kpi_settings(settings)
    names = query.kpis if query.kpis is not None else list(KPIS)
    first, end = _date_range(backend, query, resolved)
    periods = periods_for(first, end, query.period, resolved)
    frame = Frame(backend, resolved, query.period, periods, kpis=set(names))
    runner = Runner(frame, query, [KPIS[name] for name in names])
    return {
        "from": first.isoformat(), "to": end.isoformat(), "by": list(query.by),
        "period": query.period, "filters": dict(query.filters),
        "timezone": resolved.timezone, "rows": runner.rows(),
    }


# --- dates and periods -----------------------------------------------------------------


def _date_range(backend: BaseBackend, query: KpiQuery, settings: KpiSettings
                ) -> tuple[date, date]:
    """[from, to) in local dates: as asked, else the days that hold data."""
    if query.from_ is not None and query.to is not None:
        return query.from_, query.to
    instants: list[float] = []
    for table, column in (("interactions", "created_at"), ("surveys", "submitted_at"),
                          ("agent_states", "start"), ("social_posts", "posted_at")):
        column_expression = backend.table(table)[column]
        low, high = (backend.execute(column_expression.min()),
                     backend.execute(column_expression.max()))
        instants += [value for value in (low, high)
                     if value is not None and not (isinstance(value, float) and math.isnan(value))]
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(settings.timezone)

    def local(instant: float) -> date:
        return datetime.fromtimestamp(instant, zone).date()

    today = datetime.now(zone).date()
    first = query.from_ or (local(min(instants)) if instants else today)
    end = query.to or ((local(max(instants)) + timedelta(days=1)) if instants
                       else first + timedelta(days=1))
    if end <= first:
        end = first + timedelta(days=1)
    return first, end


def periods_for(first: date, end: date, period: str, settings: KpiSettings) -> list[Period]:
    """The periods shown (clipped to [first, end)) and the one before the first, which
    they are compared with."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(settings.timezone)

    def make(key: date, start: date, stop: date, current: bool) -> Period:
        return Period(day_number(key), start, stop, local_midnight(start, zone),
                      local_midnight(stop, zone), current)

    if period == "all":
        length = end - first
        return [make(first - length, first - length, first, False),
                make(first, first, end, True)]
    start = period_start(first, period)
    previous = previous_period_start(start, period)
    periods = [make(previous, previous, start, False)]
    while start < end:
        following = next_period_start(start, period)
        periods.append(make(start, max(start, first), min(following, end), True))
        start = following
    return periods


# --- running the definitions --------------------------------------------------------------


class Runner:
    def __init__(self, frame: Frame, query: KpiQuery, definitions: list[KpiDefinition],
                 execute: Executor | None = None, compute: bool = True,
                 order_statistics: bool = True):
        self.frame = frame
        self._tables: dict[str, ir.Table] = {}
        self.execute: Executor = execute or (frame.backend.execute if frame.backend is not None
                                             else _no_backend)
        self.query = query
        self.definitions = definitions
        self.by = list(query.by)
        self.measures: dict[GroupKey, dict[str, float | None]] = defaultdict(dict)
        self.order: dict[GroupKey, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.unavailable: dict[str, str] = {}
        needed = set(self.by) | set(query.filters)
        runnable = []
        for definition in definitions:
            missing = sorted(needed - definition.dimensions)
            if definition.placeholder:
                self.unavailable[definition.name] = "not computed yet (a later release)"
            elif missing:
                self.unavailable[definition.name] = (
                    f"not defined by {', '.join(missing)} (its records have no such field)")
            else:
                runnable.append(definition)
        self.runnable = runnable
        if compute:
            self._compute(order_statistics)

    def _statistics(self) -> Iterator[tuple[str, Statistic]]:
        for definition in self.runnable:
            yield definition.name, definition.statistic
            for extra, statistic in definition.extras.items():
                yield f"{definition.name}__{extra}", statistic

    def _filtered(self, source: str) -> ir.Table:
        table = SOURCES[source].build(self.frame)
        for dimension, allowed in self.query.filters.items():
            table = table.filter(table[dimension].isin(list(allowed)))
        return table

    def quantile_requests(self) -> dict[str, Quantiles]:
        """Distributions whose median and p90 the requested KPIs report."""
        quantiles: dict[str, Quantiles] = {}
        for prefix, statistic in self._statistics():
            quantiles.update(statistic.quantiles(prefix))
        return quantiles

    def measure_names(self) -> list[str]:
        return [name for prefix, statistic in self._statistics()
                for name in statistic.measures(prefix)]

    def source_table(self, source: str) -> ir.Table:
        """The rows of a source after the query's filters (built once per run)."""
        if source not in self._tables:
            self._tables[source] = self._filtered(source)
        return self._tables[source]

    def _compute(self, order_statistics: bool = True) -> None:
        by_source: dict[str, dict[str, Any]] = defaultdict(dict)
        for prefix, statistic in self._statistics():
            for name, (source, build) in statistic.measures(prefix).items():
                by_source[source][name] = build
        keys = [*self.by, "period"]
        for source, builders in by_source.items():
            table = self.source_table(source)
            aggregate = table.group_by(keys).aggregate(
                **{name: build(table) for name, build in builders.items()})
            frame = self.execute(aggregate)
            if SOURCES[source].cumulative:
                frame = self._cumulative(frame, list(builders))
            names = list(builders)
            for key, values in zip(_group_keys(frame, self.by), _plain_columns(frame, names),
                                   strict=True):
                self.measures[key].update(zip(names, values, strict=True))
        if order_statistics:
            for prefix, request in self.quantile_requests().items():
                self._order_statistics(prefix, request, self.source_table(request.source))

    def _cumulative(self, frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        """Running sums over periods: the value at each period's end, for every period.

        Whole columns at once: every group gets a row for "before" and for each period (0
        where it has none), and a grouped cumsum adds them in period order, as a running
        total would.
        """
        if frame.empty:
            return frame
        keys = sorted(p.key for p in self.frame.periods)
        order = [BEFORE, *(key for key in keys if key != BEFORE)]
        frame = frame.copy()
        frame["period"] = frame["period"].astype("int64")
        frame[columns] = frame[columns].astype("float64").fillna(0.0)
        group_columns = self.by
        groups = (frame[group_columns].drop_duplicates() if group_columns
                  else pd.DataFrame(index=[0]))
        grid = groups.merge(pd.DataFrame({"period": order}), how="cross")
        kept = frame[frame["period"].isin(order)]
        summed = kept.groupby([*group_columns, "period"], dropna=False, sort=False,
                              as_index=False)[columns].sum()
        merged = grid.merge(summed, on=[*group_columns, "period"], how="left")
        merged[columns] = merged[columns].fillna(0.0)
        if group_columns:
            merged[columns] = merged.groupby(group_columns, dropna=False, sort=False
                                             )[columns].cumsum()
        else:
            merged[columns] = merged[columns].cumsum()
        result = merged[merged["period"] != BEFORE] if BEFORE not in keys else merged
        return result.reset_index(drop=True)

    def _order_statistics(self, prefix: str, request: Quantiles, table: ir.Table) -> None:
        """Median and p90 (linear interpolation between order statistics, as PostgreSQL's
        percentile_cont) with order-statistic intervals: ranks are worked out from each
        group's n, and only the rows at those ranks come back."""
        keys = [*self.by, "period"]
        wanted: dict[GroupKey, dict[str, Any]] = {}
        # The wanted ranks depend only on a group's n: the query keeps the rows whose
        # (n, rank) pair is wanted, through an IN list (indexed by every engine), rather than
        # joining a table of groups (SQLite would nest-loop that join).
        pairs: set[int] = set()
        for key, measures in self.measures.items():
            n = int(measures.get(f"{prefix}__n") or 0)
            if n == 0:
                continue
            plan = wanted[key] = _rank_plan(n)
            pairs |= {n * RANK_KEY + rank for rank in plan["ranks"]}
        if not wanted:
            return
        condition = request.value.resolve(table).notnull()
        if request.population is not None:
            condition = condition & request.population.resolve(table)
        rows = table.filter(condition).select(*keys, v=request.value.resolve(table)
                                              .cast("float64"))
        group = [rows[k] for k in keys]
        ranked = rows.mutate(rank=ibis.row_number().over(ibis.window(group_by=group,
                                                                     order_by=[rows.v])) + 1,
                             n=rows.v.count().over(ibis.window(group_by=group)))
        found = self.execute(
            ranked.filter((ranked.n.cast("int64") * RANK_KEY + ranked.rank.cast("int64"))
                          .isin(sorted(pairs)))
            .select(*keys, "rank", "v"))
        values: dict[GroupKey, dict[int, float]] = defaultdict(dict)
        for key, rank, value in zip(_group_keys(found, self.by),
                                    found["rank"].astype("int64").tolist(),
                                    found["v"].astype("float64").tolist(), strict=True):
            values[key][rank] = value
        for key, plan in wanted.items():
            at = values.get(key, {})
            self.order[key][prefix] = _quantile_results(plan, at)

    # --- assembling rows ------------------------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        current = {p.key for p in self.frame.periods if p.current}
        previous_of = _previous_keys(self.frame.periods)
        found = {key for key in self.measures if key[-1] in current}
        if not self.by:  # ungrouped: every period has its row, with or without data
            found |= {(key,) for key in current}
        group_keys = sorted(found, key=_sort_key)
        rows = []
        for key in group_keys:
            previous_key = (*key[:-1], previous_of[key[-1]])
            group: dict[str, Any] = {name: (None if value == NONE else value)
                                     for name, value in zip(self.by, key, strict=False)}
            if self.frame.period != "all":
                group["period"] = from_day_number(key[-1]).isoformat()
            rows.append({"group": group, "kpis": self._kpis(key, previous_key)})
        return rows

    def _getter(self, key: GroupKey) -> Any:
        measures = self.measures.get(key, {})
        return measures.get

    def _kpis(self, key: GroupKey, previous_key: GroupKey) -> dict[str, Any]:
        results: dict[str, Any] = {}
        settings = self.frame.settings
        current_get, previous_get = self._getter(key), self._getter(previous_key)
        for definition in self.definitions:
            if definition.name in self.unavailable:
                results[definition.name] = {"value": None, "n": 0,
                                            "unavailable": self.unavailable[definition.name]}
                continue
            name = definition.name
            result = definition.statistic.finalize(name, current_get, self.order.get(key, {}),
                                                   settings)
            before_value, before_n = definition.statistic.value_and_n(
                name, previous_get, self.order.get(previous_key, {}), settings)
            before = {"value": before_value, "n": before_n}
            result["low_sample"] = (result["value"] is not None
                                    and definition.statistic.kind != "sum"
                                    and statistics.is_low_sample(result["n"],
                                                                 settings.minimum_sample))
            for extra, statistic in definition.extras.items():
                result[extra] = _extra(statistic, f"{name}__{extra}", current_get,
                                       self.order.get(key, {}), settings)
            result["previous"] = {"value": before["value"], "n": before["n"]}
            result["change"] = (None if result["value"] is None or before["value"] is None
                                else round(result["value"] - before["value"], 4))
            # Only groups of at least the minimum sample on both sides are compared: below it
            # a verdict means little (and costs a test for every small agent-day).
            comparable = min(result["n"], before["n"]) >= settings.minimum_sample
            result["significant"] = definition.statistic.compare(
                name, current_get, previous_get) if comparable else None
            results[name] = result
        return results


def _no_backend(expression: ir.Expr) -> pd.DataFrame:
    raise RuntimeError("this run reads stored statistics and has no backend to query")


def _extra(statistic: Statistic, prefix: str, get: Any, order: dict[str, dict[str, Any]],
           settings: KpiSettings) -> Any:
    result = statistic.finalize(prefix, get, order, settings)
    if statistic.kind == "median-distribution":
        return {name: result.get(name) for name in ("value", "mean", "p90", "n")}
    if isinstance(statistic, Total) and statistic.value is None:
        return int(result["value"] or 0)
    return result["value"]


def _group_keys(frame: pd.DataFrame, by: list[str]) -> list[GroupKey]:
    """Each row's (by-values..., period) key, column by column rather than row by row."""
    columns = [frame[name].tolist() for name in by]
    periods = [int(period) for period in frame["period"].tolist()]
    return [(*values, period) for *values, period in zip(*columns, periods, strict=True)]


def _plain_columns(frame: pd.DataFrame, names: list[str]) -> list[tuple[float | None, ...]]:
    """Each row's measures as plain floats (None for NULL/NaN), as `_plain` gives them."""
    columns = [[_plain(value) for value in frame[name].tolist()] for name in names]
    if not columns:
        return [() for _ in range(len(frame))]
    return list(zip(*columns, strict=True))


def _plain(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _sort_key(key: GroupKey) -> tuple[Any, ...]:
    return tuple((value is None or value == NONE, str(value) if not isinstance(value, int)
                  else f"{value:+012d}") for value in key)


def _previous_keys(periods: list[Period]) -> dict[int, int]:
    ordered = sorted(periods, key=lambda p: p.start_utc)
    return {p.key: (ordered[i - 1].key if i > 0 else BEFORE) for i, p in enumerate(ordered)}


RANK_KEY = 10**9  # (n, rank) packed into one integer: n * RANK_KEY + rank


@lru_cache(maxsize=1 << 14)
def _rank_plan(n: int) -> dict[str, Any]:
    """1-based ranks of the order statistics giving the median and p90 (type 7: linear
    interpolation at h = (n − 1)q + 1) and their 95% order-statistic intervals."""
    plan: dict[str, Any] = {"n": n, "ranks": set()}
    for name, q in (("median", 0.5), ("p90", 0.9)):
        h = (n - 1) * q + 1
        low, high = math.floor(h), math.ceil(h)
        plan[name] = (h, low, high)
        plan["ranks"] |= {low, high}
        interval = quantile_rank_interval(n, q)
        plan[f"{name}_ci"] = interval
        if interval is not None:
            plan["ranks"] |= set(interval)
    return plan


def _quantile_results(plan: dict[str, Any], at: dict[int, float]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name in ("median", "p90"):
        h, low, high = plan[name]
        if low in at and high in at:
            results[name] = round(at[low] + (h - low) * (at[high] - at[low]), 4)
        interval = plan[f"{name}_ci"]
        if interval is not None and interval[0] in at and interval[1] in at:
            results[f"{name}_ci"] = [round(at[interval[0]], 4), round(at[interval[1]], 4)]
    return results
