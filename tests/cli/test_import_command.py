"""`servicepulse import / check / quarantine` as a user runs them: exit codes and summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from servicepulse.cli.main import app
from tests.conftest import FIXTURES

RECORDS = FIXTURES / "records"
runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> list[str]:
    return ["--db", f"sqlite:///{tmp_path / 'cli.db'}"]


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout


def test_partly_broken_file_imports_the_good_rows_and_exits_3(db: list[str]) -> None:
    # broken.jsonl: 20 lines, 12 valid (one of each kind but calendar, two interactions),
    # 8 bad at lines 4, 6, 8, 10, 12, 14, 16, 18 (see docs/records.md)
    code, out = _run(*db, "import", str(RECORDS / "broken.jsonl"), "--output", "json")
    assert code == 3
    summary = json.loads(out)
    assert summary["quarantined"] == 8
    assert sum(summary["inserted"].values()) == 12 and summary["inserted"]["interaction"] == 2
    code, out = _run(*db, "import", str(RECORDS / "broken.jsonl"), "--output", "json")
    again = json.loads(out)
    assert code == 3 and again["inserted"] == {} and again["updated"] == {}
    assert sum(again["unchanged"].values()) == 12

    code, out = _run(*db, "quarantine", "list", "--format", "json")
    listed = json.loads(out)
    assert [row["line"] for row in listed] == [4, 6, 8, 10, 12, 14, 16, 18]
    assert listed[4]["field"] == "score"

    code, out = _run(*db, "quarantine", "drop", str(listed[0]["id"]))
    assert code == 0 and "dropped 1" in out
    code, out = _run(*db, "quarantine", "retry")
    assert code == 3 and "retried 7: 0 imported, 7 still quarantined" in out


def test_valid_file_exits_0(db: list[str]) -> None:
    code, out = _run(*db, "import", str(RECORDS / "mixed.jsonl"), "--output", "json")
    assert code == 0
    assert sum(json.loads(out)["inserted"].values()) == 29


def test_the_old_format_json_still_works_with_a_note(db: list[str]) -> None:
    # `--format` names the source format; `--format json` for the summary is the old spelling
    result = runner.invoke(app, [*db, "import", str(RECORDS / "mixed.jsonl"), "--format",
                                 "json"])
    assert result.exit_code == 0
    assert sum(json.loads(result.stdout)["inserted"].values()) == 29
    assert result.stderr == ("note: `--format json` for the summary is deprecated and will be "
                             "removed: use `--output json` (--format names the source "
                             "format)\n")
    table = runner.invoke(app, [*db, "import", str(RECORDS / "mixed.jsonl"), "-f",
                                "canonical"])
    assert table.exit_code == 0 and table.stderr == ""
    assert "Import summary" in table.stdout and "29 rows" in table.stdout
    bad = runner.invoke(app, [*db, "import", str(RECORDS / "mixed.jsonl"), "--output", "xml"])
    assert bad.exit_code == 2 and "use table or json" in bad.output


def test_usage_errors_exit_2(db: list[str], tmp_path: Path) -> None:
    assert _run(*db, "import", str(tmp_path / "missing.jsonl"))[0] == 2
    (tmp_path / "notes.txt").write_text("hello")
    assert _run(*db, "import", str(tmp_path / "notes.txt"))[0] == 2
    assert _run(*db, "import", str(RECORDS / "mixed.jsonl"), "--format", "fax")[0] == 2


def test_check_reports_references_that_never_resolved(db: list[str], tmp_path: Path) -> None:
    orphan = tmp_path / "orphan.jsonl"
    orphan.write_text('{"type": "event", "id": "e1", "interaction_id": "nowhere", '
                      '"at": "2026-03-02T09:00:00Z", "kind": "created"}\n')
    _run(*db, "import", str(orphan))
    code, out = _run(*db, "check", "--format", "json")
    assert code == 1
    problems = json.loads(out)
    assert problems == [{"kind": "event", "field": "interaction_id", "refers_to": "interaction",
                         "count": 1, "examples": ["e1 -> nowhere"]}]
