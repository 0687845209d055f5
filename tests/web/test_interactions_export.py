"""One row per conversation (`servicepulse export --kind interactions`, the API, the page's
button): the rows recompute the KPI engine's figures, follow the drill-down's filters and
scope, and every column is documented.

tests/fixtures/kpi/export.jsonl, 2-9 March 2026 (UTC): nine contacts, one of them spam (e7,
which no KPI counts); c1's billing call e1 is followed within the repeat window by its billing
email e2 (not first-contact resolved); c2's chat e3 by the chat e4 (another category) and the
call e5; e4 was escalated; c1's web form e9 is about her account. Every survey names its
interaction and is answered in the week; e1 has a quality review (and a calibration one).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from statistics import mean
from typing import Any

import pyarrow.parquet as parquet
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from servicepulse.cli.main import app
from servicepulse.kpi.settings import KpiSettings
from servicepulse.web.access import Access
from servicepulse.web.kpi import engine_kpi_function
from servicepulse.web.runners.base import RunContext
from servicepulse.web.runners.export import COLUMN_NAMES, iter_rows
from servicepulse.web.runners.records import InteractionQuery
from tests.kpi.helpers import KPI_FIXTURES, WEEK, kpis, load
from tests.web.conftest import WEEK as CENTRE_WEEK
from tests.web.conftest import Tokens

FIXTURE = KPI_FIXTURES / "export.jsonl"
RANGE = {"from": "2026-03-02", "to": "2026-03-09"}
DOCS = Path(__file__).parents[2] / "docs" / "kpis.md"


def _rows(store: Engine, **query: Any) -> list[dict[str, Any]]:
    context = RunContext(engine=store, kpi=engine_kpi_function(), access=Access(),
                         settings=KpiSettings())
    return list(iter_rows(context, InteractionQuery.model_validate({**RANGE, **query})))


def _share(rows: list[dict[str, Any]], verdict: str) -> float | None:
    judged = [row[verdict] for row in rows if row["is_contact"] and row[verdict] is not None]
    return round(100 * sum(judged) / len(judged), 4) if judged else None


def _recomputed(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The KPIs as a spreadsheet would work them out from the exported rows."""
    contacts = [row for row in rows if row["is_contact"]]
    csat = [row for row in contacts if row["csat_score"] is not None]
    handled = [row["handle_time_s"] for row in contacts
               if row["handled"] and row["handle_time_s"] is not None]
    voice_offered = [row for row in contacts if row["direction"] == "inbound"
                     and row["channel"] in ("phone", "chat") and not row["short_abandon"]]
    return {
        "contacts": len(contacts),
        "fcr": _share(rows, "fcr"),
        "repeat_contact_rate": _share(rows, "repeat"),
        "resolution_rate": round(100 * sum(r["resolved"] for r in contacts) / len(contacts), 4),
        "csat": round(100 * sum(r["csat_score"] >= r["csat_scale_max"] - 1 for r in csat)
                      / len(csat), 4) if csat else None,
        "aht": round(mean(handled), 4),
        "abandon_rate": round(100 * sum(r["abandoned"] for r in voice_offered)
                              / len(voice_offered), 4),
        "frt_within_target": _share(rows, "frt_within_target"),
        # each reviewed contact here has one review (not calibration): the mean of the rows'
        "iqs": round(mean(reviewed), 4) if (reviewed := [
            r["iqs"] for r in contacts if r["qa_reviews"]]) else None,
    }


def test_the_rows_recompute_the_engines_figures(store: Engine) -> None:
    load(store, FIXTURE)
    rows = _rows(store)
    engine = kpis(store, KpiSettings(), **RANGE, kpis=list(_recomputed(rows)))
    assert _recomputed(rows) == {name: result["value"] for name, result in engine.items()}
    # and by hand: 8 contacts; FCR e1 no (repeat e2), e2 yes (c1's next, e9, is about her
    # account, not billing), e3 no (c2 called back, e5, uncategorised), e4 no (escalated): 1
    # of 4; CSAT 5, 2, 4 on 1-5: 2 of 3
    assert (_recomputed(rows)["contacts"], _recomputed(rows)["fcr"],
            _recomputed(rows)["csat"]) == (8, 25.0, 66.6667)
    by_id = {row["id"]: row for row in rows}
    assert len(rows) == 9 and by_id["e7"]["is_contact"] is False
    assert [by_id[i]["fcr"] for i in ("e1", "e2", "e3", "e4", "e5", "e8")] == \
        [False, True, False, False, None, None]
    assert by_id["e1"]["handle_time_s"] == 300.0 and by_id["e2"]["repeat"] is True
    assert (by_id["e1"]["frt_s"], by_id["e1"]["answered_within"], by_id["e3"]["answered_within"],
            by_id["e6"]["short_abandon"]) == (12.0, True, False, True)
    # e1's review: greeting 2 of 0-2 (weight 1), accuracy 4 of 1-5 (weight 3): 100 x (1 + 3 x
    # 0.75) / 4 = 81.25; the calibration review (all at the minimum) is left out
    assert (by_id["e1"]["iqs"], by_id["e1"]["qa_reviews"], by_id["e2"]["iqs"],
            by_id["e2"]["qa_reviews"]) == (81.25, 1, None, 0)
    assert (by_id["e4"]["nps_score"], by_id["e9"]["ces_score"], by_id["e1"]["segment"],
            by_id["e1"]["team_id"], by_id["e1"]["role"]) == (9.0, 6.0, "consumer", "t1",
                                                             "frontline")


def test_a_richer_week_recomputes_fcr_and_repeats(sqlite_store: Engine) -> None:
    # the KPI suite's week: categories, contacts without customer, outbound, a time zone
    load(sqlite_store, WEEK)
    rows = _rows(sqlite_store)
    engine = kpis(sqlite_store, KpiSettings(), **RANGE,
                  kpis=["contacts", "fcr", "repeat_contact_rate", "resolution_rate", "aht"])
    recomputed = _recomputed([row | {"csat_score": None} for row in rows])
    assert {name: recomputed[name] for name in engine} == \
        {name: result["value"] for name, result in engine.items()}


def test_filters_are_the_drill_downs(sqlite_store: Engine) -> None:
    load(sqlite_store, FIXTURE)
    assert [row["id"] for row in _rows(sqlite_store, filters={"agent": ["a1"]})] == \
        ["e1", "e3", "e7", "e8"]
    assert [row["id"] for row in _rows(sqlite_store, kpi="fcr")] == ["e1", "e3", "e2", "e4"]
    assert [row["id"] for row in _rows(sqlite_store, kpi="csat")] == ["e1", "e3", "e2"]


def test_every_column_is_documented() -> None:
    documented = set(re.findall(r"^\| `(\w+)` \|", DOCS.read_text(), flags=re.MULTILINE))
    assert set(COLUMN_NAMES) <= documented, set(COLUMN_NAMES) - documented


def test_the_command_writes_csv_and_parquet(sqlite_store: Engine, tmp_path: Path) -> None:
    load(sqlite_store, FIXTURE)
    url = str(sqlite_store.url)
    runner = CliRunner()
    out = tmp_path / "rows.csv"
    result = runner.invoke(app, ["--db", url, "export", "--kind", "interactions", "--format",
                                 "csv", str(out), "--from", "2026-03-02", "--to", "2026-03-09",
                                 "--filter", "channel=phone,chat"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{out}: 5 interactions"
    read = list(csv.DictReader(out.open()))
    assert list(read[0]) == list(COLUMN_NAMES)
    assert [(r["id"], r["fcr"], r["csat_score"]) for r in read] == [
        ("e1", "false", "5.0"), ("e3", "false", "4.0"), ("e4", "false", ""), ("e5", "", ""),
        ("e6", "", "")]
    table = tmp_path / "rows.parquet"
    result = runner.invoke(app, ["--db", url, "export", "--kind", "interactions", "--format",
                                 "parquet", str(table)])
    assert result.exit_code == 0, result.output
    written = parquet.read_table(table)
    assert written.column_names == list(COLUMN_NAMES) and written.num_rows == 9
    assert written.column("fcr").to_pylist()[:2] == [False, False]  # e1, e3 (oldest first)
    # the tables export is unchanged and refuses what only interactions take
    result = runner.invoke(app, ["--db", url, "export", "--format", "csv", str(tmp_path)])
    assert result.exit_code == 2 and "Parquet only" in result.output
    result = runner.invoke(app, ["--db", url, "export", "--kind", "interactions", "--format",
                                 "csv", "-", "--filter", "colour=red"])
    assert result.exit_code == 2 and "'colour' is not a dimension" in result.output


def test_the_api_streams_the_callers_rows(engine_client: TestClient, tokens: Tokens) -> None:
    def exported(role: str, **params: str) -> list[dict[str, str]]:
        response = engine_client.get("/api/v1/interactions/export",
                                     params={**CENTRE_WEEK, **params},
                                     headers=tokens.header(role))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        return list(csv.DictReader(io.StringIO(response.text)))

    # the agent (a1) exports her own contacts, as the drill-down lists them for her
    listed = engine_client.get("/api/v1/interactions", params=CENTRE_WEEK,
                               headers=tokens.header("agent")).json()
    assert sorted(r["id"] for r in exported("agent")) == sorted(r["id"] for r in listed["rows"])
    assert sorted(r["id"] for r in exported("lead")) == ["i01", "i02", "i05", "i06", "i09"]
    assert {r["channel"] for r in exported("manager", channel="email")} == {"email"}
    bad = engine_client.get("/api/v1/interactions/export", params={"kpi": "nope"},
                            headers=tokens.header("manager"))
    assert bad.status_code == 422 and "no interaction drill-down" in bad.text
    outside = engine_client.get("/api/v1/interactions/export", params={"agent": "b1"},
                                headers=tokens.header("lead"))
    assert outside.status_code == 403


@pytest.mark.parametrize("size", [1])
def test_rows_are_read_in_chunks(sqlite_store: Engine, monkeypatch: pytest.MonkeyPatch,
                                 size: int) -> None:
    # a chunk smaller than the rows: the same rows, oldest first
    import servicepulse.web.runners.export as export

    load(sqlite_store, FIXTURE)
    expected = _rows(sqlite_store)
    monkeypatch.setattr(export, "CHUNK_ROWS", size)
    assert _rows(sqlite_store) == expected
    text = "".join(export.csv_chunks(iter(expected)))
    assert text.count("\n") == len(expected) + 1
