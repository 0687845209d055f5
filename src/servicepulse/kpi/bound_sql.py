"""Ibis queries on the store with their text values as bound parameters, never in the SQL.

Ibis compiles an expression to SQL text with every literal written into it: a KPI filter
value (`channel IN ('phone', 'it''s')`) becomes part of the statement, quoted by the
compiler. Quoting is not binding: a value the database cannot hold in a string literal (a
NUL byte on PostgreSQL) breaks the statement, and the statement's text changes with every
value. So on every backend the engine runs SQL on (SQLite, PostgreSQL, and DuckDB reading
PostgreSQL or a Parquet export) it runs its expressions through `BoundExecutor`: it
compiles an expression to Ibis' sqlglot tree, replaces the string literals by named
placeholders, and runs the SQL with the values bound by the driver (sqlite3 `:name`,
psycopg 3 `%(name)s`, which psycopg binds server-side, DuckDB `$name`). The
result is converted exactly as Ibis' own `execute` converts it (the backend's
`PandasData.convert_table` for the expression's schema), so the frames are identical.

Which literals are bound: every string literal standing where a bound value means the same
as the literal — an operand of a comparison, a member of an IN list, a bound of BETWEEN, a
LIKE pattern, an argument of COALESCE, a result of CASE/IF, a column of a select list —
which covers every place a user's value reaches a KPI query (filters are IN lists).
String literals that the SQL generator itself reads (a date format, a unit, a JSON path:
arguments of functions) stay literal; they are the engine's own constants, never a user's.
Numbers, booleans and NULLs stay literal: the engine makes them from validated numbers and
dates, and a number's SQL text holds nothing but the number (binding them would also cost
PostgreSQL its constant folding and make the engine's rank lists tens of thousands of
parameters).

PostgreSQL GROUP BY: Ibis groups by position (`GROUP BY 1, 2`), so a bound value in a
grouped expression does not break the grouping (PostgreSQL would not match `$1` with `$2`
written in GROUP BY).

Compiling is the costly part of a small query, so each executor keeps the SQL and values
of the expressions it ran (keyed by the expression: Ibis expressions compare by structure,
so the same query over the same tables and times reuses them); the engine's
`ExpressionCache` hands it the same expressions again on a kept connection.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ibis.expr.schema as sch
import ibis.expr.types as ir
import pandas as pd
import sqlglot as sg
import sqlglot.expressions as sge
from cachetools import LRUCache
from ibis.backends import BaseBackend

MAX_COMPILED = 128  # statements remembered per connection
PLACEHOLDER = "sp_value"  # placeholders' names: sp_value_0, sp_value_1, ...
STORE_BACKENDS = ("sqlite", "postgres")
# ... and DuckDB, where the engine runs (kpi.analytical: the store attached; a Parquet export)
BOUND_BACKENDS = (*STORE_BACKENDS, "duckdb")

# Parents under which a string literal is a value (bound) rather than syntax the SQL
# generator reads (function arguments: formats, units, paths stay literal).
_VALUE_PARENTS: tuple[type[sge.Expression], ...] = (
    sge.EQ, sge.NEQ, sge.GT, sge.GTE, sge.LT, sge.LTE, sge.NullSafeEQ, sge.NullSafeNEQ,
    sge.In, sge.Between, sge.Like, sge.ILike, sge.Coalesce, sge.If, sge.Case, sge.Alias,
    sge.Paren, sge.Tuple,
)
_ATTRIBUTE = "_servicepulse_bound_executor"


class UnboundValueError(ValueError):
    """A value the database cannot take as a parameter (a NUL character on PostgreSQL)."""


@dataclass(frozen=True)
class BoundStatement:
    """SQL text with named placeholders, the values bound to them, the result's schema."""

    sql: str
    values: dict[str, str]
    schema: sch.Schema


def is_bound_value(literal: sge.Literal) -> bool:
    """Whether a string literal of a compiled query is bound (see the module docstring)."""
    parent = literal.parent
    if not isinstance(parent, _VALUE_PARENTS):
        return False
    if isinstance(parent, sge.In):  # the list, not the tested expression (never a literal)
        return literal.arg_key == "expressions"
    if isinstance(parent, sge.Alias):  # a select-list column, not the alias's name
        return literal.arg_key == "this"
    return True


def bind_string_literals(query: sge.Expression, placeholder: str = "v"
                         ) -> tuple[sge.Expression, dict[str, str]]:
    """Replace the bound string literals of `query` (in place) by named placeholders
    `{placeholder}_{i}`; returns the query and {name: value}."""
    values: dict[str, str] = {}
    for literal in list(query.find_all(sge.Literal)):
        if literal.is_string and is_bound_value(literal):
            name = f"{placeholder}_{len(values)}"
            values[name] = literal.this
            literal.replace(sge.Placeholder(this=name))
    return query, values


def compile_bound(backend: BaseBackend, expr: ir.Expr, *, limit: Any = None,
                  params: Mapping[ir.Scalar, Any] | None = None) -> BoundStatement:
    """`expr` as SQL for `backend` (sqlite, postgres or duckdb) with its string values as
    named parameters, in the driver's own style (`:name` for sqlite3, `%(name)s` for
    psycopg, `$name` for DuckDB).

    The same expression gives the same text (the drivers' statement caches and psycopg's
    prepared statements key on it): placeholders are `sp_value_0`, `sp_value_1`, ..., or,
    in the unlikely query whose own text holds that name, names with a random part."""
    table = expr.as_table()
    for token in (PLACEHOLDER, f"sp{uuid.uuid4().hex[:12]}"):
        query = backend.compiler.to_sqlglot(table, limit=limit, params=params)
        query, values = bind_string_literals(query, token)
        sql = _sql(backend, query, token)
        if sql is not None:
            # A subtree the generator leaves out (a CTE built twice, written once) takes
            # its values with it; DuckDB refuses a value bound to no placeholder.
            used = set(re.findall(rf"{re.escape(token)}_\d+\b", sql))
            return BoundStatement(sql, {name: value for name, value in values.items()
                                        if name in used}, table.schema())
    raise RuntimeError("the compiled SQL does not hold the bound values' placeholders")


def _sql(backend: BaseBackend, query: sge.Expression, token: str) -> str | None:
    """The query's text with placeholders named `{token}_{i}` in the driver's style; None
    when the token appears in the text other than as a placeholder."""
    try:
        sql = query.sql(dialect=backend.dialect, copy=False,
                        unsupported_level=sg.ErrorLevel.RAISE)
    except sg.UnsupportedError as error:
        import ibis.common.exceptions as exc

        raise exc.UnsupportedOperationError(
            f"Operation not supported in {backend.name} backend: {error}") from error
    if backend.name == "postgres":
        # psycopg reads every % of the text as a placeholder's start (it does not parse
        # SQL): the text's own % (a modulo) are doubled, the placeholders' restored.
        sql = sql.replace("%", "%%").replace(f"%%({token}_", f"%({token}_")
        marker = f"%({token}_"
    elif backend.name == "duckdb":
        marker = f"${token}_"
    else:
        marker = f":{token}_"
    # the generator may write an expression twice: a placeholder may appear more than once
    if sql.count(marker) != sql.count(token):
        return None
    return sql


class BoundExecutor:
    """`backend.execute` with every string value bound (see the module docstring);
    remembers the statements of the last `max_entries` expressions it ran."""

    def __init__(self, backend: BaseBackend, max_entries: int = MAX_COMPILED) -> None:
        if backend.name not in BOUND_BACKENDS:
            raise ValueError(f"bound parameters are for the backends "
                             f"{', '.join(BOUND_BACKENDS)}, not {backend.name!r}")
        self.backend = backend
        self._statements: LRUCache[Any, BoundStatement] = LRUCache(max_entries)
        self.hits = 0
        self.misses = 0

    @property
    def max_entries(self) -> int:
        return int(self._statements.maxsize)

    def statement(self, expr: ir.Expr, *, limit: Any = None,
                  params: Mapping[ir.Scalar, Any] | None = None) -> BoundStatement:
        """The bound statement of `expr` (compiled once; kept unless limit/params given)."""
        if limit is not None or params:
            return compile_bound(self.backend, expr, limit=limit, params=params)
        key = expr.op()
        found = self._statements.get(key)  # a hit counts as a use
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        found = self._statements[key] = compile_bound(self.backend, expr)
        return found

    def __call__(self, expr: ir.Expr, /, *, params: Mapping[ir.Scalar, Any] | None = None,
                 limit: Any = None, **kwargs: Any) -> Any:
        """As Ibis' `execute` (a DataFrame, Series or scalar), with bound values."""
        backend: Any = self.backend
        backend._run_pre_execute_hooks(expr)  # in-memory tables, UDFs (as Ibis does)
        statement = self.statement(expr, limit=limit, params=params)
        backend._log(statement.sql)
        if backend.name == "duckdb":
            frame = self._duckdb(self._duckdb_arrow(statement), statement)
        else:
            run = self._postgres if backend.name == "postgres" else self._sqlite
            frame = run(statement)
        return expr.__pandas_result__(frame)

    def arrow(self, expr: ir.Expr, /, *, params: Mapping[ir.Scalar, Any] | None = None,
              limit: Any = None, **kwargs: Any) -> Any:
        """As Ibis' `to_pyarrow` on DuckDB (an Arrow table, array or scalar), bound."""
        from ibis.backends.duckdb.converter import DuckDBPyArrowData

        backend: Any = self.backend
        if backend.name != "duckdb":
            raise ValueError(f"Arrow results are bound on DuckDB only, not {backend.name!r}")
        backend._run_pre_execute_hooks(expr)
        statement = self.statement(expr, limit=limit, params=params)
        backend._log(statement.sql)
        return expr.__pyarrow_result__(self._duckdb_arrow(statement),
                                       data_mapper=DuckDBPyArrowData)

    def table_arrow(self, statement: BoundStatement) -> Any:
        """A table statement's result on DuckDB as Arrow, converted as `arrow` converts it
        (for a statement kept without its expression: `kpi.compiled_sql`)."""
        from ibis.backends.duckdb.converter import DuckDBPyArrowData

        self.backend._log(statement.sql)
        return DuckDBPyArrowData.convert_table(self._duckdb_arrow(statement),
                                               statement.schema)

    def table_frame(self, statement: BoundStatement) -> pd.DataFrame:
        """A table statement's result on the store (SQLite or PostgreSQL), converted as
        `__call__` converts a table expression's (for a statement kept without its
        expression: `kpi.compiled_sql`)."""
        from ibis.formats.pandas import PandasData

        backend: Any = self.backend
        if backend.name not in STORE_BACKENDS:
            raise ValueError(f"frames of kept statements are for the store's backends "
                             f"{', '.join(STORE_BACKENDS)}, not {backend.name!r}")
        backend._log(statement.sql)
        run = self._postgres if backend.name == "postgres" else self._sqlite
        converted: pd.DataFrame = PandasData.convert_table(run(statement), statement.schema)
        return converted

    def _duckdb_arrow(self, statement: BoundStatement) -> Any:
        con: Any = self.backend.con
        # a relation (not a cursor) lets DuckDB plan for the Arrow result, as Ibis does
        return con.sql(statement.sql, params=statement.values or None).to_arrow_table()

    @staticmethod
    def _duckdb(table: Any, statement: BoundStatement) -> pd.DataFrame:
        """An Arrow result as Ibis' DuckDB `execute` converts it (lists for nested columns
        and columns holding a NULL, as there)."""
        import pyarrow.types as pat
        from ibis.backends.duckdb.converter import DuckDBPandasData

        frame = pd.DataFrame({
            name: (column.to_pylist() if pat.is_nested(column.type)
                   or pat.is_dictionary(column.type) or column.null_count
                   else column.to_pandas())
            for name, column in zip(table.column_names, table.columns, strict=True)})
        converted: pd.DataFrame = DuckDBPandasData.convert_table(frame, statement.schema)
        return converted

    def _sqlite(self, statement: BoundStatement) -> pd.DataFrame:
        import contextlib

        from ibis.backends.sqlite.converter import SQLitePandasData

        con: Any = self.backend.con
        with contextlib.closing(con.execute(statement.sql, statement.values)) as cursor:
            frame = pd.DataFrame.from_records(cursor, columns=statement.schema.names,
                                              coerce_float=True)
        converted: pd.DataFrame = SQLitePandasData.convert_table(frame, statement.schema)
        return converted

    def _postgres(self, statement: BoundStatement) -> pd.DataFrame:
        from ibis.backends.postgres.converter import PostgresPandasData

        for value in statement.values.values():
            if "\x00" in value:
                raise UnboundValueError(
                    f"the value {value!r} holds a NUL character (U+0000), which PostgreSQL "
                    "text cannot hold, so no record can match it: remove it from the "
                    "query's filters")
        con: Any = self.backend.con
        with con.cursor() as cursor, con.transaction():
            rows = cursor.execute(statement.sql, statement.values).fetchall()
        frame = pd.DataFrame.from_records(rows, columns=statement.schema.names,
                                          coerce_float=True)
        converted: pd.DataFrame = PostgresPandasData.convert_table(frame, statement.schema)
        return converted


def bound_executor(backend: BaseBackend) -> BoundExecutor:
    """The backend's bound executor, made at the first call and kept with the backend; it
    also becomes the backend's `execute`, so that every query on it binds its values."""
    executor = getattr(backend, _ATTRIBUTE, None)
    if isinstance(executor, BoundExecutor):
        return executor
    executor = BoundExecutor(backend)
    setattr(backend, _ATTRIBUTE, executor)
    backend.execute = executor
    if backend.name == "duckdb":
        backend.to_pyarrow = executor.arrow
    return executor
