"""`servicepulse scorecard` and `leaderboard` as tables a person reads: KPI names, values with
units, the target and why it is met or missed; the leaderboard one table per role."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from servicepulse.cli.main import app
from tests.scorecards.conftest import team_store  # noqa: F401  (the hand-computed team)

runner = CliRunner(env={"COLUMNS": "200"})
DAYS = ["--from", "2026-03-02", "--to", "2026-03-05"]


@pytest.fixture(autouse=True)
def _default_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVICEPULSE_CONFIG", raising=False)


def _flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def test_the_scorecard_table_words_every_kpi_as_the_json_does(
        team_store: Engine) -> None:  # noqa: F811
    url = str(team_store.url)
    document = json.loads(runner.invoke(app, ["--db", url, "scorecard", "--agent", "A2", *DAYS,
                                              "--format", "json"]).stdout)
    table = runner.invoke(app, ["--db", url, "scorecard", "--agent", "A2", *DAYS])
    assert table.exit_code == 0, table.output
    text = _flat(table.stdout)
    (card,) = document["agents"]
    assert f"A2 {card['name']} (frontline, team {card['team']}): balanced score 64.3" in text
    for entry in card["kpis"].values():
        # the KPI's name, its value with a unit, the target and the reason, never a code name
        for key in ("label", "value_text", "target_text", "reason"):
            assert _flat(entry[key]) in text, (key, entry[key])
        assert " " + entry["status"] in text
    first_words = {line.split()[0] for line in table.stdout.splitlines() if line.split()}
    assert not first_words & {"csat", "fcr", "aht", "frt"}  # rows start with the KPI's name


def test_the_leaderboard_ranks_within_each_role(team_store: Engine) -> None:  # noqa: F811
    url = str(team_store.url)
    document = json.loads(runner.invoke(app, ["--db", url, "leaderboard", *DAYS, "--format",
                                              "json"]).stdout)
    table = runner.invoke(app, ["--db", url, "leaderboard", *DAYS])
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    roles = sorted({row["role"].replace("_", " ") for row in document["ranked"]})
    titles = [line.strip() for line in lines if line.strip() in roles]
    assert sorted(titles) == roles  # one table a role, titled by it
    for row in document["ranked"]:
        line = next(line for line in lines if f"{row['agent']} {row['name']}" in line)
        assert _flat(line).startswith(("=" if row["tied"] else "") + str(row["rank"]) + " ")
