"""First response on a scorecard is judged per channel against each channel's target with the
agent's own channel mix, and every entry carries its name, its value and target in units and
the reason for its status (tests/scorecards/builders.py `mixed_records`, team T2).

M1 (frontline): 40 phone calls answered after 10 s → service level 100% → 100/80 = 1.25;
40 emails first answered after 12 h → 86,400 / 43,200 = 2.0; weighted by M1's mix
(40 + 40): (40 × 1.25 + 40 × 2.0) / 80 = 1.625. AHT 450 s (300 s phone, 600 s email) against
the team's median per channel (phone: M1 300 s; email: M1 600 s and M2 900 s → 750 s) in M1's
mix: (40 × 300 + 40 × 750) / 80 = 525 s. Balanced score: FCR 100/70 → 1.25 (capped), AHT 1,
first response 1.625 → 1.25: (1.25 + 1 + 1.25) / (3 × 1.25) = 93.3.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from servicepulse.config import Settings
from servicepulse.scorecards.scorecard import build_scorecards
from servicepulse.store.database import open_store
from tests.scorecards.builders import load, mixed_records, team_records


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict]]:
    engine: Engine = open_store(f"sqlite:///{tmp_path_factory.mktemp('mixed') / 'store.db'}")
    load(engine, team_records() + mixed_records())
    document = build_scorecards(engine, team="T2", settings=Settings())
    yield {card["agent"]: card for card in document["agents"]}
    engine.dispose()


def test_first_response_per_channel_with_the_agents_mix(mixed: dict[str, dict]) -> None:
    frt = mixed["M1"]["kpis"]["frt"]
    assert frt["channels"]["phone"]["kpi"] == "service_level"
    assert (frt["channels"]["phone"]["value"], frt["channels"]["phone"]["n"]) == (100.0, 40)
    assert frt["channels"]["phone"]["attainment"] == 1.25
    assert (frt["channels"]["email"]["value"], frt["channels"]["email"]["attainment"]) == (
        43_200.0, 2.0)
    assert frt["attainment"] == 1.625 and frt["status"] == "meets"
    # no single value across phone seconds and email hours, and nothing in raw seconds
    assert frt["value"] is None and frt["n"] == 80
    assert frt["value_text"] == "email: median 12.0 h; phone: service level 100.0%"
    assert frt["target_text"] == "email ≤ 1.0 d; phone service level ≥ 80.0%"
    assert frt["reason"] == (
        "each channel against its own target, weighted by this agent's mix (email 50% at "
        "200% of target, phone 50% at 125% of target): 162% of target → meets")
    assert frt["label"] == "FRT (first response, per channel)"
    assert frt["short_text"] == "FRT email 12.0 h, phone SL 100.0%"


def test_one_channel_reads_in_its_own_unit(team_store: Engine, settings: Settings) -> None:
    # A2 of the hand-computed team answers phones only: its first response is phone's
    # service level (100%, every call answered in 10 s), never a "FRT 0.0 s"
    card = build_scorecards(team_store, agent="A2", settings=settings)["agents"][0]
    frt = card["kpis"]["frt"]
    assert (frt["value"], frt["unit"], frt["attainment"]) == (100.0, "percent", 1.25)
    assert frt["value_text"] == "phone: service level 100.0%"
    assert frt["reason"] == "100.0% meets the target ≥ 80.0% → meets"


def test_aht_against_the_team_median_for_the_agents_channel_mix(
        mixed: dict[str, dict]) -> None:
    aht = mixed["M1"]["kpis"]["aht"]
    assert (aht["value"], aht["benchmark"], aht["attainment"], aht["status"]) == (
        450.0, 525.0, 1.0, "meets")
    assert aht["value_text"] == "7.5 min"
    assert aht["target_text"] == "team median for this channel mix: ≤ 8.8 min"
    assert aht["reason"] == ("7.5 min is at or under the team median for this channel mix "
                             "(8.8 min) → meets")
    assert mixed["M1"]["balanced_score"] == 93.3


def test_aht_that_misses_through_quality_says_so(team_store: Engine,
                                                 settings: Settings) -> None:
    # A2: AHT 150 s under the median 310 s, but CSAT 50/80 = 0.625 caps it: "misses", and why
    aht = build_scorecards(team_store, agent="A2", settings=settings)["agents"][0]["kpis"]["aht"]
    assert (aht["attainment"], aht["status"]) == (0.625, "misses")
    assert aht["reason"] == (
        "2.5 min is at or under the team median for this channel mix (5.2 min), but speed "
        "earns no more than the weakest quality KPI (CSAT at 62% of target) → misses")


def test_every_entry_says_what_it_is_in_units(mixed: dict[str, dict]) -> None:
    tech = mixed["M2"]["kpis"]
    assert tech["ttr"]["label"] == "TTR (time to resolution)"
    assert (tech["ttr"]["value_text"], tech["ttr"]["target_text"]) == ("4.0 h", "≤ 1.0 d")
    assert tech["ttr"]["reason"] == "4.0 h meets the target ≤ 1.0 d → meets"
    assert tech["ces"]["reason"] == "no data in the period"
    assert tech["escalation_rate"]["value_text"] == "0.0%"
    # (100/85 = 1.1765, TTR 6 → 1.25, escalation 0% → 1.25) / 3.75 = 98.0
    assert mixed["M2"]["balanced_score"] == 98.0
