"""FCR's second repeat window (over all of a customer's contacts) runs only when a contact
in the range has no category; the store answers that from a partial index."""

from __future__ import annotations

import json
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


def test_a_repeat_handled_by_another_agent_counts_for_the_filtered_agent(
        store: Engine, tmp_path: Path) -> None:
    # c1 calls a1 on 2 March (resolved) and calls again on 4 March, handled by a2: a1's
    # contact is not a first contact resolution, and is a repeat. Asked for a1 alone, the
    # windows read only a1's customers' contacts (kpi.sources._repeat_candidates), a2's
    # among them. c2's contact with a1 has no repeat; a contact without a customer, handled
    # by a1, counts as resolved with no repeat (and is not in the repeat rate, which reads
    # contacts with a customer). a1: FCR 2 of 3, repeat rate 1 of 2.
    path = tmp_path / "others.jsonl"
    rows = [
        ("i1", "a1", "c1", "2026-03-02T10:00:00Z"), ("i2", "a2", "c1", "2026-03-04T10:00:00Z"),
        ("i3", "a1", "c2", "2026-03-03T10:00:00Z"), ("i4", "a1", None, "2026-03-03T11:00:00Z"),
        ("i5", "a2", "c3", "2026-03-03T12:00:00Z"), ("i6", "a2", "c3", "2026-03-05T12:00:00Z"),
    ]
    path.write_text("".join(json.dumps({
        "type": "interaction", "id": id_, "channel": "phone", "direction": "inbound",
        "agent_id": agent, **({"customer_id": customer} if customer else {}),
        "category": "billing", "created_at": at, "answered_at": at,
        "resolved_at": at.replace(":00:00Z", ":05:00Z")}) + "\n"
        for id_, agent, customer, at in rows))
    load(store, path)
    found = kpis(store, **WEEK_QUERY, kpis=["fcr", "repeat_contact_rate"],
                 filters={"agent": ["a1"]})
    assert (found["fcr"]["value"], found["fcr"]["n"]) == (66.6667, 3)
    assert (found["repeat_contact_rate"]["value"], found["repeat_contact_rate"]["n"]) \
        == (50.0, 2)
    # a2: i2 (no later contact of c1), i5 (repeated by i6), i6: FCR 2 of 3
    found = kpis(store, **WEEK_QUERY, kpis=["fcr"], filters={"agent": ["a2"]})
    assert (found["fcr"]["value"], found["fcr"]["n"]) == (66.6667, 3)
