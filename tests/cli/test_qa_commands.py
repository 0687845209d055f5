"""`servicepulse qa assign|queue|calibration` on the web tests' small centre, as an operator
runs them: JSON and table output, and the mistakes they refuse (exit 2, saying what to do)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from servicepulse.cli.main import app
from servicepulse.ingest.importer import import_rows
from servicepulse.ingest.readers import read_paths
from servicepulse.web import users as users_module
from servicepulse.web.users import create_user
from tests.conftest import FIXTURES

runner = CliRunner()
PASSWORD = "correct horse battery"


@pytest.fixture
def centre(sqlite_store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    from argon2 import PasswordHasher

    monkeypatch.setattr(users_module, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    monkeypatch.chdir(tmp_path)
    reviews = tmp_path / "calibration.jsonl"
    # rita and sam on i01 and i05, calibration: IQS 100, 50 and 75, 50 (alpha 8/11)
    records: list[dict[str, Any]] = [{
        "type": "qa_form", "id": "tone", "name": "Tone",
        "categories": [{"name": "tone", "weight": 1, "scale_max": 4}]}]
    for n, (who, interaction, tone) in enumerate((("rita", "i01", 4), ("rita", "i05", 2),
                                                  ("sam", "i01", 3), ("sam", "i05", 2))):
        records.append({"type": "qa_review", "id": f"c{n}", "interaction_id": interaction,
                        "reviewer_id": who, "form_id": "tone", "scores": {"tone": tone},
                        "at": "2026-11-06T10:00:00Z", "calibration": True})
    reviews.write_text("".join(json.dumps(r) + "\n" for r in records))
    summary = import_rows(sqlite_store, read_paths([FIXTURES / "web" / "centre.jsonl", reviews]))
    assert summary.quarantined == 0, summary.rejected
    create_user(sqlite_store, "rita", PASSWORD, "reviewer", team_ids=["team-b"])
    create_user(sqlite_store, "lead", PASSWORD, "team_lead", team_ids=["team-a"])
    create_user(sqlite_store, "ann", PASSWORD, "agent", agent_id="a1")
    return sqlite_store


def run(engine: Engine, *args: str) -> Result:
    return runner.invoke(app, ["--db", engine.url.render_as_string(hide_password=False),
                               *args], env={"COLUMNS": "160"})


def said(result: Result) -> str:
    return " ".join(re.sub(r"[│╭╮╰╯─┃┏┓┗┛━┡┩╇┳┻┼└┘┴┬├┤]", " ", result.output).split())


def test_assign_and_queue(centre: Engine) -> None:
    result = run(centre, "qa", "assign", "--reviewer", "rita", "--week", "2026-11-04",
                 "--per-agent", "2", "--seed", "7", "--exclude-own-team", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["week"] == "2026-11-02"
    assert [(a["agent_id"], a["candidates"], a["assigned"]) for a in document["agents"]] == [
        ("a1", 3, 2), ("a2", 2, 2)]
    queue = json.loads(run(centre, "qa", "queue", "--reviewer", "rita", "--format",
                           "json").output)
    assert [a["interaction_id"] for a in queue] == [
        a["interaction_id"] for a in document["assignments"]]
    table = said(run(centre, "qa", "queue", "--reviewer", "rita"))
    assert "Review queue of rita" in table and "Bob Brown" in table and "open" in table
    # a terminal of 80 columns shows every column whole
    narrow = runner.invoke(app, ["--db", centre.url.render_as_string(hide_password=False),
                                 "qa", "queue", "--reviewer", "rita"], env={"COLUMNS": "80"})
    assert max(len(line) for line in narrow.output.splitlines()) <= 80
    assert re.search(r"^2026-11-02 +i0\d +Bob Brown +\w+ +2026-11-0\d \d\d:\d\d +- +open",
                     narrow.output, re.MULTILINE), narrow.output
    # the lead samples their team-a only; nothing of team-b appears
    lead = said(run(centre, "qa", "assign", "--reviewer", "lead", "--week", "2026-11-02",
                    "--per-agent", "5"))
    assert "a1 1 1 (all)" in lead and "b1" not in lead  # Ann's third conversation is left
    assert "1 conversation(s) assigned" in lead


@pytest.mark.parametrize(("args", "message"), [
    (["--reviewer", "ann"], "'ann' is an agent, and agents do not review"),
    (["--reviewer", "nobody"], "no user 'nobody'"),
    (["--reviewer", "lead", "--exclude-own-team"], "a team lead samples only their own teams"),
    (["--reviewer", "rita", "--week", "4 Nov"], "'4 Nov' is not a date: use YYYY-MM-DD"),
    (["--reviewer", "rita", "--form", "nope"], "no QA form 'nope'"),
    (["--reviewer", "rita", "--per-agent", "0"],
     "'--per-agent': Input should be greater than or equal to 1"),
])
def test_assign_refuses(centre: Engine, args: list[str], message: str) -> None:
    result = run(centre, "qa", "assign", *args)
    assert result.exit_code == 2, result.output
    assert message in said(result)


def test_calibration(centre: Engine) -> None:
    result = run(centre, "qa", "calibration", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    # values 100, 75, 50, 50: D_o = 312.5, D_e = 1145.83, alpha = 1 - 3/11
    assert report["alpha"] == pytest.approx(8 / 11)
    assert {r["reviewer_id"]: r["mean_deviation"] for r in report["reviewers"]} == {
        "rita": 6.25, "sam": -6.25}
    table = said(run(centre, "qa", "calibration", "--form", "tone"))
    assert "IQS 0.727 4" in table and "rita 2 2 +6.2" in table
    assert "i01 a1 100.0 75.0 87.5 25.0" in table
    empty = said(run(centre, "qa", "calibration", "--from", "2026-12-01"))
    assert "no calibration reviews (qa_review with calibration: true) (from 2026-12-01)" \
        in empty
    window = said(run(centre, "qa", "calibration", "--from", "2026-11-02", "--to",
                      "2026-11-09"))
    assert "Calibration (2026-11-02 to 2026-11-09, 2026-11-09 not included)" in window
    wrong = run(centre, "qa", "calibration", "--from", "2026-11-09", "--to", "2026-11-02")
    assert wrong.exit_code == 2 and "must be after --from" in said(wrong)
