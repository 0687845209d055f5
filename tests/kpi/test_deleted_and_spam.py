"""Deleted and spam contacts (docs/kpis.md): kept as records, counted in no KPI, on the exact
path and the rollup alike, and counted again when a later import revives them.

tests/fixtures/kpi/deleted_and_spam.jsonl, by hand: i1 is a contact (first response 600 s);
i2 is "Spam" and i3 "DELETED" (the rule ignores letter case). s1 (5) is i1's survey, s2 (1)
i2's, submitted on another day than i2 was created; s3 (4) names no interaction. i3 is a later
contact of i1's customer within the repeat window, but a deleted one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.rollup import query_rollup
from servicepulse.kpi.settings import KpiSettings
from servicepulse.store import tables
from tests.kpi.helpers import KPI_FIXTURES, load

RECORDS = KPI_FIXTURES / "deleted_and_spam.jsonl"
QUERY = {"from": "2026-03-02", "to": "2026-03-09",
         "kpis": ["contacts", "frt", "csat", "repeat_contact_rate", "resolution_rate", "ttr"]}


def both_paths(engine: Engine) -> dict[str, Any]:
    """The KPIs on the exact path, checked equal to the rollup's (no median: the rollup
    reads it from a histogram)."""
    query = KpiQuery.model_validate(QUERY)
    [exact] = run_kpi_query(engine, query, KpiSettings())["rows"]
    rolled = query_rollup(engine, query, KpiSettings())
    assert rolled is not None and rolled["source"] == "rollup"
    [row] = rolled["rows"]
    for name in QUERY["kpis"]:
        for field in ("n", "mean", "inbound", "outbound") + (
                () if name in ("frt", "ttr") else ("value",)):
            assert row["kpis"][name].get(field) == exact["kpis"][name].get(field), (name, field)
    return dict(exact["kpis"])


def test_deleted_and_spam_contacts_count_nowhere_until_revived(store: Engine,
                                                              tmp_path: Path) -> None:
    load(store, RECORDS)
    with store.connect() as connection:  # kept as records
        assert connection.execute(select(func.count()).select_from(tables.interactions)
                                  ).scalar_one() == 3
    got = both_paths(store)
    assert (got["contacts"]["value"], got["contacts"]["inbound"]) == (1, 1)
    assert (got["frt"]["n"], got["frt"]["mean"]) == (1, 600.0)
    # s1 (5) and s3 (4, no interaction): s2 is the spam contact's
    assert (got["csat"]["value"], got["csat"]["n"]) == (100.0, 2)
    # i3 (deleted) is no repeat of i1
    assert (got["repeat_contact_rate"]["value"], got["repeat_contact_rate"]["n"]) == (0.0, 1)
    # i3, the only resolved interaction, is deleted: nothing resolved, no resolution time
    assert (got["resolution_rate"]["value"], got["resolution_rate"]["n"]) == (0.0, 1)
    assert (got["ttr"]["value"], got["ttr"]["n"]) == (None, 0)

    # a later export says i2 is no spam after all: it counts again, its survey too (whose
    # day, 03-05, is not i2's: the rollup must rebuild it as well)
    revived = tmp_path / "revived.jsonl"
    revived.write_text('{"type": "interaction", "id": "i2", "channel": "email", '
                       '"customer_id": "c2", "agent_id": "a1", '
                       '"created_at": "2026-03-02T09:30:00Z", '
                       '"first_response_at": "2026-03-02T10:30:00Z", "status": "open"}\n')
    load(store, revived)
    got = both_paths(store)
    assert (got["contacts"]["value"], got["frt"]["n"], got["frt"]["mean"]) == (2, 2, 2100.0)
    assert (got["csat"]["value"], got["csat"]["n"]) == (66.6667, 3)
