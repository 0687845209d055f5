"""`servicepulse verify [--repair]` as a user runs it, on SQLite and the real PostgreSQL:
exit 0 on a clean import; one corruption of each kind made directly in the store is
reported (exit 1) with its kind, day, group and values; --repair fixes it (exit 0), a second
verify exits 0, and the KPI document equals the clean store's. Values are worked out from
tests/fixtures/store/verify.jsonl (see tests/kpi/test_rollup_verify.py and
tests/insights/test_sentiment_verify.py for the arithmetic).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, delete, insert, select, update
from typer.testing import CliRunner

from servicepulse.cli.main import app
from servicepulse.insights.tables import text_sentiment
from servicepulse.kpi.tables import kpi_daily_histogram_packed, kpi_daily_rollup, kpi_rollup_dirty
from servicepulse.store import tables
from tests.conftest import FIXTURES

VERIFY = FIXTURES / "store" / "verify.jsonl"
runner = CliRunner()


def _run(engine: Engine, *args: str) -> tuple[int, str]:
    url = engine.url.render_as_string(hide_password=False)
    result = runner.invoke(app, ["--db", url, *args])
    return result.exit_code, result.stdout


def test_verify_reports_each_kind_and_repairs_it(store: Engine) -> None:
    assert _run(store, "import", str(VERIFY))[0] == 0
    code, clean_kpis = _run(store, "kpi", "--format", "json")
    assert code == 0
    code, out = _run(store, "verify", "--format", "json")
    assert code == 0 and json.loads(out)["consistent"] is True

    r, h, ts = kpi_daily_rollup, kpi_daily_histogram_packed, text_sentiment
    with store.connect() as connection:
        e1 = dict(connection.execute(select(ts).where(ts.c.source_id == "e1")).mappings().one())
    with store.begin() as connection:
        connection.execute(update(r).where(r.c.day == "2026-03-03", r.c.agent == "a2")
                           .values(contacts__n=4))
        connection.execute(delete(h).where(h.c.day == "2026-03-02", h.c.channel == "chat",
                                           h.c.measure == "frt__business_hours"))
        connection.execute(update(tables.interactions).where(tables.interactions.c.id == "i2")
                           .values(first_response_business_s=1.0))
        connection.execute(delete(ts).where(ts.c.source_id == "e3"))
        connection.execute(insert(ts).values({**e1, "source_id": "e2"}))

    code, out = _run(store, "verify", "--format", "json")
    assert code == 1
    document = json.loads(out)
    assert document["consistent"] is False
    assert [(kind["kind"], kind["differences"], kind["pending"])
            for kind in document["kinds"]] == [("business hours", 1, 0), ("rollup", 2, 0),
                                                ("sentiment", 2, 0)]
    found = [(item["kind"], item["day"], item["group"], item["detail"], item["stored"],
              item["recomputed"]) for item in document["differences"]]
    assert sorted(found, key=str) == sorted([
        ("business hours", "2026-03-02", "i2", "first_response_business_s", 1.0, 7200.0),
        ("rollup", "2026-03-02", "agent=a1, team=t1, role=frontline, channel=chat",
         "kpi_daily_histogram_packed: frt__business_hours row missing", None, {"16": 1}),
        ("rollup", "2026-03-03", "agent=a2, team=t2, role=frontline, channel=phone",
         "kpi_daily_rollup: contacts__n", 4.0, 1.0),
        ("sentiment", "2026-03-02", "event:e2", "row the records do not give",
         {"label": "positive", "score": 0.6588}, None),
        ("sentiment", "2026-03-02", "event:e3", "row missing", None,
         {"label": "negative", "score": -0.7506}),
    ], key=str)

    code, out = _run(store, "verify", "--repair")
    assert code == 0, out
    assert "consistent with the records after the repair" in out
    assert _run(store, "verify")[0] == 0
    code, repaired_kpis = _run(store, "kpi", "--format", "json")
    assert code == 0 and json.loads(repaired_kpis) == json.loads(clean_kpis)


def test_a_stale_day_is_reported_as_pending_and_rebuilt(sqlite_store: Engine) -> None:
    assert _run(sqlite_store, "import", str(VERIFY))[0] == 0
    with sqlite_store.begin() as connection:
        connection.execute(insert(kpi_rollup_dirty).values(day="2026-03-02"))
    code, out = _run(sqlite_store, "verify")
    assert code == 1
    assert "pending rebuild" in out and "2026-03-02" in out
    code, out = _run(sqlite_store, "verify", "--format", "json")
    document = json.loads(out)
    rollup = document["kinds"][1]
    assert (rollup["kind"], rollup["differences"], rollup["pending"]) == ("rollup", 0, 1)
    assert [item["day"] for item in document["differences"] if item["pending"]] == [
        "2026-03-02"]
    assert _run(sqlite_store, "verify", "--repair")[0] == 0
    with sqlite_store.connect() as connection:
        assert connection.execute(select(kpi_rollup_dirty)).all() == []


@pytest.mark.parametrize("args", [["--format", "xml"], ["--limit", "0"]])
def test_usage_errors_exit_2(sqlite_store: Engine, args: list[str]) -> None:
    assert _run(sqlite_store, "verify", *args)[0] == 2
