"""The DuckDB engine's own plans give what the general ones give.

On DuckDB a distribution's values come back sorted with the main aggregate (not ranked by a
second windowed query), and FCR reads only the same-category repeat window when the Parquet
statistics show no interaction without a category.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from servicepulse.bench.kpi import generate
from servicepulse.kpi.backends import duckdb_backend, export_parquet
from servicepulse.kpi.engine import (
    Runner,
    _date_range,
    _sorted_quantiles,
    periods_for,
    run_on_backend,
)
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.settings import KpiSettings
from servicepulse.kpi.sources import Frame
from tests.kpi.helpers import KPI_FIXTURES, categorised_repeats, load

WEEK_QUERY = {"from": "2026-03-02", "to": "2026-03-09"}


def test_order_statistics_from_sorted_values_by_hand() -> None:
    # three groups: none, [7], [1, 2, 3, 4]
    found = _sorted_quantiles("x", np.array([0, 1, 4]), np.array([7.0, 1.0, 2.0, 3.0, 4.0]))
    assert math.isnan(found["x.median"][0]) and math.isnan(found["x.p90"][0])
    # n = 4: the median at h = 2.5 (2 + 0.5 × (3 − 2)), the p90 at h = 3.7 (3 + 0.7 × 1)
    assert found["x.median"][1:].tolist() == [7.0, 2.5]
    assert found["x.p90"][1:].tolist() == [7.0, 3.7]
    # too few values for an order-statistic interval
    assert np.isnan(found["x.median_ci_low"]).all()


def _fcr_on_duckdb(store: Engine, fixture: Path, directory: Path
                   ) -> tuple[bool, dict[str, tuple[float, int]]]:
    load(store, fixture)
    export_parquet(store, directory)
    backend = duckdb_backend(directory)
    results: dict[str, tuple[float, int]] = {}
    for asked in (["fcr"], ["repeat_contact_rate"], ["fcr", "repeat_contact_rate"]):
        document = run_on_backend(backend, KpiQuery.model_validate({**WEEK_QUERY,
                                                                    "kpis": asked}))
        for name, result in document["rows"][0]["kpis"].items():
            figures = (result["value"], result["n"])
            assert results.setdefault(name, figures) == figures, name
    query = KpiQuery.model_validate({**WEEK_QUERY, "kpis": ["fcr"]})
    first, end = _date_range(backend, query, KpiSettings())
    frame = Frame(backend, KpiSettings(), "all", periods_for(first, end, "all", KpiSettings()),
                  kpis={"fcr"})
    return frame.uncategorised, results


def test_fcr_with_uncategorised_contacts_on_duckdb(sqlite_store: Engine, tmp_path: Path
                                                   ) -> None:
    # the same figures as on the store (tests/kpi/test_engine.py): r1 and r3 are repeated by
    # a contact without a category → 4/6; any later contact: r1, r3, r5 → 3/6
    uncategorised, results = _fcr_on_duckdb(
        sqlite_store, KPI_FIXTURES / "uncategorised_repeats.jsonl", tmp_path / "parquet")
    assert uncategorised
    assert results == {"fcr": (66.6667, 6), "repeat_contact_rate": (50.0, 6)}


def test_fcr_when_every_contact_has_a_category_on_duckdb(sqlite_store: Engine,
                                                         tmp_path: Path) -> None:
    # r2 (u1) and r3 (u2) given a category unlike the contact before or after them: no
    # contact is followed by one in its category → 6/6; any later contact still counts for
    # the repeat rate: r1, r3, r5 → 3/6
    uncategorised, results = _fcr_on_duckdb(sqlite_store, categorised_repeats(tmp_path),
                                            tmp_path / "parquet")
    assert not uncategorised
    assert results == {"fcr": (100.0, 6), "repeat_contact_rate": (50.0, 6)}


@pytest.mark.parametrize("query", [
    {"by": ["channel"], "period": "month", "from": "2025-01-01", "to": "2025-07-01"},
    {"by": ["agent"], "period": "week", "from": "2025-03-01", "to": "2025-04-01",
     "kpis": ["frt", "ttr", "fcr"]},
])
def test_sorted_values_give_the_ranked_query_s_order_statistics(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, query: dict[str, object]) -> None:
    generate(tmp_path, 20_000)
    backend = duckdb_backend(tmp_path)
    asked = KpiQuery.model_validate(query)
    collected = run_on_backend(backend, asked)
    monkeypatch.setattr(Runner, "_collects_values", lambda self: False)
    ranked = run_on_backend(backend, asked)
    assert collected == ranked
    # the groups are large enough for order-statistic intervals
    assert any(row["kpis"]["frt"]["ci"] is not None for row in collected["rows"])
