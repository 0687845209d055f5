"""The bench's kept DuckDB connection compiles each distinct expression once (`CompiledSql`)."""

from __future__ import annotations

from typing import Any

import ibis

from servicepulse.bench.kpi import CompiledSql


class CountingCompile:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, expr: Any, /, **options: Any) -> str:
        self.calls.append(options)
        return f"SQL #{len(self.calls)}"


def _expression(threshold: int) -> Any:
    table = ibis.table({"a": "int64", "b": "string"}, name="t")
    return table.filter(table.a > threshold).select("b")


def test_an_expression_built_twice_compiles_once() -> None:
    compile_ = CountingCompile()
    cached = CompiledSql(compile_)
    assert cached(_expression(1)) == "SQL #1"
    assert cached(_expression(1)) == "SQL #1"  # built anew, equal in structure
    assert cached(_expression(2)) == "SQL #2"  # another literal: another query
    assert (cached.hits, cached.misses, len(compile_.calls)) == (1, 2, 2)


def test_limits_and_parameters_are_never_cached() -> None:
    compile_ = CountingCompile()
    cached = CompiledSql(compile_)
    assert cached(_expression(1), limit=10) == "SQL #1"
    assert cached(_expression(1), limit=10) == "SQL #2"
    assert compile_.calls == [{"limit": 10, "params": None, "pretty": False}] * 2
    assert (cached.hits, cached.misses) == (0, 0)


def test_the_oldest_sql_is_forgotten_beyond_the_bound() -> None:
    compile_ = CountingCompile()
    cached = CompiledSql(compile_, max_entries=2)
    for threshold in (1, 2, 3):
        cached(_expression(threshold))
    assert cached(_expression(3)) == "SQL #3"  # kept
    assert cached(_expression(1)) == "SQL #4"  # forgotten: compiled again
    assert len(compile_.calls) == 4
