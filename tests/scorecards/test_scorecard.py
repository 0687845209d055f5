"""Scorecards of the hand-computed team (tests/fixtures/scorecards/team.json).

Per agent (all calls inbound phone, answered in 10 s, so service level 100% → attainment
100/80 = 1.25 for first response):
  A1: 40 calls, 4 reopened → FCR 36/40 = 90%; CSAT 36/40 = 90%; AHT 300.
  A2: 80 calls, 20 repeat pairs (20 repeats) + 20 reopened → FCR 40/80 = 50%, repeat rate
      20/80 = 25%; CSAT 20/40 = 50%; AHT 150.
  A3: 44 calls, 8 reopened → FCR 36/44 = 81.8182%; CSAT 32/40 = 80%; AHT 320.
  A4: 36 calls, 8 reopened → FCR 28/36 = 77.7778%; CSAT 30/40 = 75%; AHT 340.
  A5: 42 calls, 6 reopened → FCR 36/42 = 85.7143%; CSAT 12/12 (12 answers: low sample).
Team AHT median (A1-A5) = 310.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from servicepulse.cli.main import app
from servicepulse.config import Settings
from servicepulse.scorecards.scorecard import Context, ScorecardError, build_scorecards
from tests.scorecards.builders import load, team_records


def _cards(document: dict) -> dict[str, dict]:
    return {card["agent"]: card for card in document["agents"]}


def test_attainment_and_balanced_scores_by_hand(store: Engine, settings: Settings) -> None:
    load(store, team_records())
    cards = _cards(build_scorecards(store, team="T1", settings=settings))
    a2 = cards["A2"]["kpis"]
    assert (a2["csat"]["value"], a2["csat"]["n"]) == (50.0, 40)
    assert a2["csat"]["attainment"] == 0.625  # 50 / 80
    assert a2["csat"]["status"] == "misses"
    assert a2["fcr"]["attainment"] == 0.7143  # 50 / 70
    # AHT 150 is under the median 310 (1.0), but capped by the worst quality attainment
    assert a2["aht"]["attainment"] == 0.625
    assert a2["frt"]["attainment"] == 1.25 and a2["frt"]["channels"]["phone"]["value"] == 100.0
    # each KPI earns min(attainment, 1.25) / 1.25 of its weight:
    # (0.625 + 0.7143 + 0.625 + 1.25) / (4 × 1.25) × 100 = 64.286
    assert cards["A2"]["balanced_score"] == 64.3
    # A1: CSAT 90/80 = 1.125, FCR 90/70 = 1.2857 → 1.25, AHT 300 ≤ 310 → 1, service level
    # 1.25: 4.625 / 5 = 92.5 (every KPI at or over target, and not clipped at 100)
    assert cards["A1"]["balanced_score"] == 92.5
    # A3: CSAT 1, FCR 81.8182/70 = 1.1688, AHT 310/320 = 0.96875 → 0.9688, 1.25:
    # 4.3876 / 5 = 87.75
    assert cards["A3"]["kpis"]["aht"]["attainment"] == 0.9688
    assert cards["A3"]["kpis"]["aht"]["status"] == "near"
    assert cards["A3"]["balanced_score"] == 87.8
    # A4: CSAT 75/80 = 0.9375 (near), FCR 77.7778/70 = 1.1111, AHT 310/340 = 0.9118, 1.25:
    # 4.2104 / 5 = 84.21
    assert cards["A4"]["kpis"]["csat"]["status"] == "near"
    assert cards["A4"]["balanced_score"] == 84.2
    # A5: CSAT from 12 answers is not judged; FCR 85.7143/70 = 1.2245, AHT 310 = the median
    # → 1, 1.25: 3.4745 / 3.75 = 92.65
    assert cards["A5"]["kpis"]["csat"]["status"] == "not_enough_data"
    assert cards["A5"]["balanced_score"] == 92.7
    # L1, the lead, is judged on the team: CSAT 130/172 = 75.5814% → 0.9448; FCR 176/242 =
    # 72.7273%; occupancy (162 + 3 × 144 + 108) / 900 min = 78% (in the band)
    lead = cards["L1"]["kpis"]
    assert lead["csat"]["value"] == 75.5814 and lead["csat"]["attainment"] == 0.9448
    assert lead["fcr"]["value"] == 72.7273
    assert lead["occupancy"]["value"] == 78.0 and lead["occupancy"]["status"] == "meets"
    # FCR 72.7273/70 = 1.039; first response 1.25; occupancy 1: 4.2338 / 5 = 84.68
    assert cards["L1"]["balanced_score"] == 84.7


def test_every_flag_with_its_evidence(team_store: Engine, team_context: Context) -> None:
    cards = _cards(build_scorecards(team_store, team="T1", context=team_context))
    flags = {agent: {f["flag"]: f["evidence"] for f in card["flags"]}
             for agent, card in cards.items()}
    # peers: the five frontline agents, all on the phone.
    # contacts 36, 40, 42, 44, 80 → 75th percentile 44, median 42 (A2's 80 ≥ 1.2 × 42); FCR
    # (n ≥ 30) 50, 77.78, 81.82, 85.71, 90 → 25th percentile 77.78, median 81.82; CSAT
    # (n ≥ 30: not A5) 50, 75, 80, 90 → 25th percentile 68.75, median 77.5. A2's intervals
    # (Wilson: FCR 50% of 80 up to 60.7%, CSAT 50% of 40 up to 65.0%) are wholly under the
    # medians, and both miss their targets.
    assert flags["A2"]["busy_not_effective"] == (
        "handled 80 contacts, top quarter of their peers (75th percentile 44, median 42); "
        "FCR 50.0% against a peer median of 81.8% (bottom quarter: ≤ 77.8%, n = 80); CSAT 50.0% "
        "against a peer median of 77.5% (bottom quarter: ≤ 68.8%, n = 40)")
    # AHT 150 < 0.7 × 310 (the phone median: all are on the phone) = 217; repeats 25% > 1.5 ×
    # 0% (the others have none)
    assert flags["A2"]["rushing"] == (
        "AHT 150 s is 48% of the team median for this channel mix 310 s (under 70%); repeat "
        "contacts 25.0% against a peer median of 0.0% (over 1.5×)")
    # A1: 54 of 60 minutes busy every day = 90%; A3: 36 of 60 = 60% (the same every day: an
    # interval of no width)
    assert flags["A1"] == {"burnout_risk": "occupancy above 85% on 3 of 3 days (mean on those "
                                           "days 90.0%, highest 90.0%); 90.0% over the period; "
                                           "95% interval of the daily mean 90.0%–90.0%"}
    assert flags["A3"] == {"underused": "occupancy below 75% on 3 of 3 days (mean on those "
                                        "days 60.0%, lowest 60.0%); 60.0% over the period; "
                                        "95% interval of the daily mean 60.0%–60.0%"}
    assert flags["A5"] == {"low_sample": "too few to judge: Customer satisfaction from 12 "
                                         "(minimum 30)"}
    assert flags["A4"] == {} and flags["L1"] == {}
    assert cards["A2"]["team"] == "T1"


def test_one_agent_keeps_the_team_context(team_store: Engine, team_context: Context) -> None:
    document = build_scorecards(team_store, agent="A2", context=team_context)
    assert [card["agent"] for card in document["agents"]] == ["A2"]
    assert {f["flag"] for f in document["agents"][0]["flags"]} == {"busy_not_effective",
                                                                  "rushing"}
    assert document["team"]["agents"] == 6 and document["team"]["team"] == "T1"


def test_targets_from_configuration_change_the_score(team_store: Engine,
                                                    team_context: Context) -> None:
    settings = Settings(targets={"team": {"T1": {"csat": 50}}})
    context = replace(team_context, settings=settings)
    card = build_scorecards(team_store, agent="A2", context=context)["agents"][0]
    assert card["kpis"]["csat"]["attainment"] == 1.0  # 50 / 50
    assert card["kpis"]["csat"]["set_by"] == "team T1"
    # AHT is capped by FCR now: (1 + 0.7143 + 0.7143 + 1.25) / 5 = 73.57
    assert card["balanced_score"] == 73.6


def test_unknown_agent_or_team(team_store: Engine, settings: Settings) -> None:
    with pytest.raises(ScorecardError, match="agent 'nobody' is not in the store"):
        build_scorecards(team_store, agent="nobody", settings=settings)
    with pytest.raises(ScorecardError, match="known teams: T1"):
        build_scorecards(team_store, team="T9", settings=settings)


def test_cli_json_contract(team_store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVICEPULSE_CONFIG", raising=False)
    result = CliRunner().invoke(app, ["--db", str(team_store.url), "scorecard", "--agent", "A2",
                                      "--from", "2026-03-02", "--to", "2026-03-05",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert set(document) >= {"agents", "team"}
    (card,) = document["agents"]
    assert {"agent", "role", "balanced_score", "flags", "kpis"} <= set(card)
    assert (card["agent"], card["role"], card["balanced_score"]) == ("A2", "frontline", 64.3)
    assert all(set(flag) == {"flag", "evidence"} for flag in card["flags"])
    for entry in card["kpis"].values():
        assert {"value", "n", "ci", "target", "attainment", "status"} <= set(entry)
    table = CliRunner().invoke(app, ["--db", str(team_store.url), "scorecard", "--team", "T1"])
    assert table.exit_code == 0 and "busy_not_effective" in table.output
    missing = CliRunner().invoke(app, ["--db", str(team_store.url), "scorecard"])
    assert missing.exit_code == 2
    # an agent or team not in the store is "not found" (exit 4), as everywhere
    unknown = CliRunner().invoke(app, ["--db", str(team_store.url), "scorecard", "--agent",
                                       "NOBODY"])
    assert unknown.exit_code == 4
    assert "agent 'NOBODY' is not in the store" in unknown.output
    report = CliRunner().invoke(app, ["--db", str(team_store.url), "report", "team", "T9",
                                      "--out", str(team_store.url.database) + ".html"])
    assert report.exit_code == 4 and "team 'T9' has no agents" in report.output


def test_targets_show_says_which_level(team_store: Engine, tmp_path, monkeypatch) -> None:
    config = tmp_path / "servicepulse.toml"
    config.write_text("[targets]\ncsat = 85\n[targets.team.T1]\nfcr = 75\n")
    monkeypatch.setenv("SERVICEPULSE_CONFIG", str(config))
    result = CliRunner().invoke(app, ["--db", str(team_store.url), "targets", "show",
                                      "--agent", "A1", "--format", "json"])
    assert result.exit_code == 0, result.output
    targets = json.loads(result.output)["targets"]
    assert (targets["csat"]["target"], targets["csat"]["set_by"]) == (85, "organisation")
    assert (targets["fcr"]["target"], targets["fcr"]["set_by"]) == (75, "team T1")
    assert targets["nps"]["set_by"] == "default"
