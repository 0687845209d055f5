"""FCR's second repeat window (over all of a customer's contacts) runs only when a contact
in the range has no category; the store answers that from a partial index."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from servicepulse.kpi.analytical import store_backend
from servicepulse.kpi.engine import _date_range, periods_for
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.settings import KpiSettings
from servicepulse.kpi.sources import Frame
from tests.kpi.helpers import KPI_FIXTURES, categorised_repeats, kpis, load

WEEK_QUERY = {"from": "2026-03-02", "to": "2026-03-09"}


def _frame(store: Engine) -> tuple[bool, str]:
    """Whether the week holds uncategorised contacts, and the check's SQL."""
    with store_backend(store) as backend:
        query = KpiQuery.model_validate({**WEEK_QUERY, "kpis": ["fcr"]})
        first, end = _date_range(backend, query, KpiSettings())
        frame = Frame(backend, KpiSettings(), "all",
                      periods_for(first, end, "all", KpiSettings()), kpis={"fcr"})
        return frame.uncategorised, str(backend.compile(frame.uncategorised_check()))


@pytest.mark.parametrize("categorised", [False, True])
def test_fcr_on_the_store_with_and_without_uncategorised_contacts(
        store: Engine, tmp_path: Path, categorised: bool) -> None:
    fixture = (categorised_repeats(tmp_path) if categorised
               else KPI_FIXTURES / "uncategorised_repeats.jsonl")
    load(store, fixture)
    uncategorised, _sql = _frame(store)
    assert uncategorised is not categorised
    found = kpis(store, **WEEK_QUERY, kpis=["fcr", "repeat_contact_rate"])
    # uncategorised: r1 and r3 are repeated by a contact without a category → 4/6 first
    # contact resolutions; categorised: no contact is followed by one in its category → 6/6.
    # The repeat rate reads any later contact either way: r1, r3, r5 → 3/6.
    assert (found["fcr"]["value"], found["fcr"]["n"]) == ((100.0, 6) if categorised
                                                          else (66.6667, 6))
    assert (found["repeat_contact_rate"]["value"], found["repeat_contact_rate"]["n"]) \
        == (50.0, 6)


def test_the_check_reads_the_partial_index_on_sqlite(sqlite_store: Engine) -> None:
    load(sqlite_store, KPI_FIXTURES / "uncategorised_repeats.jsonl")
    _answer, sql = _frame(sqlite_store)
    with sqlite_store.connect() as connection:
        plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {sql}"))
    assert "ix_interactions_uncategorised" in plan, plan
