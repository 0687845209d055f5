"""`servicepulse kpi` and `servicepulse export`: the command-line contract."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine
from typer.testing import CliRunner

from servicepulse.cli.main import app
from servicepulse.kpi.query import KpiQuery
from tests.kpi.helpers import WEEK, load

RUNNER = CliRunner()


@pytest.fixture
def week_db(sqlite_store: Engine) -> str:
    load(sqlite_store, WEEK)
    return sqlite_store.url.render_as_string(hide_password=False)


def test_json_document(week_db: str) -> None:
    result = RUNNER.invoke(app, ["--db", week_db, "kpi", "--by", "agent", "--from",
                                 "2026-03-02", "--to", "2026-03-09", "--kpi", "csat,frt",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    document = orjson.loads(result.output)
    assert (document["from"], document["to"], document["by"], document["period"]) \
        == ("2026-03-02", "2026-03-09", ["agent"], "all")
    first = document["rows"][0]
    assert first["group"] == {"agent": "a1"}
    assert set(first["kpis"]) == {"csat", "frt"}
    # a1: s1 (5) → 100%; i1 15 s and i4 70 s → median 42.5
    assert (first["kpis"]["csat"]["value"], first["kpis"]["frt"]["value"]) == (100.0, 42.5)


def test_csv_and_table(week_db: str) -> None:
    result = RUNNER.invoke(app, ["--db", week_db, "kpi", "--period", "week", "--from",
                                 "2026-03-02", "--to", "2026-03-09", "--kpi", "contacts",
                                 "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [(row["period"], row["kpi"], row["value"], row["n"]) for row in rows] \
        == [("2026-03-02", "contacts", "10", "10")]
    table = RUNNER.invoke(app, ["--db", week_db, "kpi", "--from", "2026-03-02", "--to",
                                "2026-03-09", "--kpi", "contacts,csat"])
    assert table.exit_code == 0, table.output
    assert "75.0%*" in table.output  # csat of 4 answers: low sample


@pytest.mark.parametrize(("arguments", "message"), [
    (["--by", "weather"], "cannot group by 'weather'"),
    (["--period", "year"], "period"),
    (["--kpi", "happiness"], "unknown KPI happiness"),
    (["--from", "2026-03-09", "--to", "2026-03-02"], "must be after"),
    (["--from", "03/02/2026"], "is not a date: use YYYY-MM-DD"),
    (["--engine", "duckdb"], "give --parquet DIR"),
])
def test_bad_arguments_say_what_to_do(week_db: str, arguments: list[str], message: str
                                      ) -> None:
    result = RUNNER.invoke(app, ["--db", week_db, "kpi", *arguments])
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())  # rich wraps it


def test_export_then_duckdb_engine(week_db: str, tmp_path: Path) -> None:
    exported = RUNNER.invoke(app, ["--db", week_db, "export", "--format", "parquet",
                                   str(tmp_path)])
    assert exported.exit_code == 0, exported.output
    assert f"{tmp_path / 'interactions.parquet'}: 13 rows" in exported.output
    result = RUNNER.invoke(app, ["kpi", "--engine", "duckdb", "--parquet", str(tmp_path),
                                 "--from", "2026-03-02", "--to", "2026-03-09", "--kpi",
                                 "contacts", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.output)["rows"][0]["kpis"]["contacts"]["value"] == 10


def test_query_accepts_from_alias_and_checks_filters() -> None:
    query = KpiQuery.model_validate({"from": "2026-03-02", "filters": {"team": ["t1"]}})
    assert query.from_ is not None and query.from_.isoformat() == "2026-03-02"
    with pytest.raises(ValidationError, match="cannot filter on 'mood'"):
        KpiQuery.model_validate({"filters": {"mood": ["happy"]}})
