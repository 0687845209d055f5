"""The simulator's consistency: every record valid, states that cover shifts exactly, no
double handling, surveys only on real interactions, events that fold into the interaction's
fields, the two planted agents really are what docs/simulator.md says, and determinism.

Every check here is computed from the records alone (an independent fold, not the product's
projector or KPI engine).
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from typer.testing import CliRunner

from servicepulse.cli.main import app
from servicepulse.records.validate import parse_record
from servicepulse.simulate import (
    SimulationConfig,
    simulate_records,
    special_agents,
    write_jsonl,
)

SMALL = SimulationConfig(agents=12, days=3, seed=7)
# Crosses the US change back from daylight-saving time (Sunday 1 November 2026).
CLOCK_CHANGE = SimulationConfig(agents=12, days=6, seed=5, start=date(2026, 10, 28))
Record = dict[str, Any]


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@pytest.fixture(scope="module", params=[SMALL, CLOCK_CHANGE], ids=["small", "clock-change"])
def config(request: pytest.FixtureRequest) -> SimulationConfig:
    assert isinstance(request.param, SimulationConfig)
    return request.param


@pytest.fixture(scope="module")
def records(config: SimulationConfig) -> list[Record]:
    return list(simulate_records(config))


@pytest.fixture(scope="module")
def by_kind(records: list[Record]) -> dict[str, list[Record]]:
    out: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        out[record["type"]].append(record)
    return out


def test_every_record_is_valid_and_ids_are_unique(records: list[Record]) -> None:
    for record in records:
        parse_record(record)  # raises RecordError on the first invalid record
    keys = Counter((r["type"], r["id"]) for r in records)
    assert [key for key, n in keys.items() if n > 1] == []
    kinds = set(keys_kind for keys_kind, _id in keys)
    assert kinds == {
        "team",
        "calendar",
        "agent",
        "customer",
        "interaction",
        "event",
        "survey",
        "agent_state",
        "shift",
        "order",
        "social_post",
        "social_mention",
        "qa_form",
        "qa_review",
    }


def test_order_static_first_then_each_interaction_followed_by_its_events(
    records: list[Record],
) -> None:
    static = ("team", "calendar", "agent", "customer")
    first_dynamic = next(i for i, r in enumerate(records) if r["type"] not in static)
    assert all(r["type"] not in static for r in records[first_dynamic:])
    order = [r["type"] for r in records[:first_dynamic]]
    assert order == sorted(order, key=static.index)
    current = None
    for record in records[first_dynamic:]:
        if record["type"] == "interaction":
            current = record["id"]
        elif record["type"] in ("event", "survey") and "interaction_id" in record:
            assert record["interaction_id"] == current, record


def test_states_cover_every_shift_without_gaps_or_overlaps(
    by_kind: dict[str, list[Record]],
) -> None:
    states: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for s in by_kind["agent_state"]:
        states[s["agent_id"]].append((ts(s["start"]), ts(s["end"]), s["state"]))
    shifts: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for shift in by_kind["shift"]:
        shifts[shift["agent_id"]].append((ts(shift["start"]), ts(shift["end"])))
    assert set(states) == set(shifts)
    for agent_id, timeline in states.items():
        timeline.sort()
        for (start, end), day_states in _per_shift(shifts[agent_id], timeline).items():
            # Contiguous from the shift's start to its end: no gap, no overlap.
            assert day_states[0][0] == start and day_states[-1][1] == end, agent_id
            for before, after in itertools.pairwise(day_states):
                assert before[1] == after[0], (agent_id, before, after)
                assert before[0] < before[1]
        covered = sum(len(v) for v in _per_shift(shifts[agent_id], timeline).values())
        assert covered == len(timeline), f"{agent_id} has states outside its shifts"


def _per_shift(
    shifts: list[tuple[float, float]], timeline: list[tuple[float, float, str]]
) -> dict[tuple[float, float], list[tuple[float, float, str]]]:
    return {
        (start, end): [s for s in timeline if start <= s[0] and s[1] <= end]
        for start, end in shifts
    }


def _work_intervals(interaction: Record) -> tuple[tuple[float, float], tuple[float, float]]:
    """(handling, wrap) intervals of a handled interaction, from its own fields."""
    if interaction["channel"] in ("phone", "chat"):
        answered = ts(interaction["answered_at"])
        busy_end = answered + interaction["talk_s"] + interaction["hold_s"]
        return (answered, busy_end), (busy_end, busy_end + interaction["wrap_s"])
    replied = ts(interaction["first_response_at"])
    return (replied - interaction["handle_s"], replied), (replied, replied)


def test_no_agent_works_two_contacts_at_once_and_work_sits_in_the_right_state(
    by_kind: dict[str, list[Record]],
) -> None:
    states: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for s in by_kind["agent_state"]:
        states[s["agent_id"]].append((ts(s["start"]), ts(s["end"]), s["state"]))
    work: dict[str, list[tuple[float, float]]] = defaultdict(list)
    handled = 0
    for interaction in by_kind["interaction"]:
        if "agent_id" not in interaction:
            continue
        handled += 1
        handling, wrap = _work_intervals(interaction)
        agent = interaction["agent_id"]
        work[agent].append((handling[0], wrap[1]))
        assert _inside(states[agent], handling, "handling"), interaction["id"]
        if wrap[1] > wrap[0]:
            assert _inside(states[agent], wrap, "after_call_work"), interaction["id"]
    assert handled > 500
    for agent, intervals in work.items():
        intervals.sort()
        for before, after in itertools.pairwise(intervals):
            assert before[1] <= after[0], f"{agent} works two contacts at once"


def _inside(
    timeline: list[tuple[float, float, str]], interval: tuple[float, float], state: str
) -> bool:
    return any(s == state and a <= interval[0] and interval[1] <= b for a, b, s in timeline)


def test_surveys_only_on_handled_interactions_with_their_agent(
    by_kind: dict[str, list[Record]],
) -> None:
    interactions = {i["id"]: i for i in by_kind["interaction"]}
    assert len(by_kind["survey"]) > 50
    for survey in by_kind["survey"]:
        interaction = interactions[survey["interaction_id"]]
        assert "agent_id" in interaction and "abandoned_at" not in interaction
        assert survey["agent_id"] == interaction["agent_id"]
        assert survey.get("customer_id") == interaction.get("customer_id")
        assert ts(survey["submitted_at"]) > ts(interaction["created_at"])
    assert {s["kind"] for s in by_kind["survey"]} == {"csat", "nps", "ces"}


def _fold(events: list[Record]) -> dict[str, Any]:
    """What the events say about their interaction, applied in `at` order (DESIGN.md §2)."""
    out: dict[str, Any] = {"hold_s": 0.0, "transfers": 0, "reopens": 0, "escalated": False}
    resolved = None
    hold_started = None
    for event in sorted(events, key=lambda e: (ts(e["at"]), int(e["id"].rsplit("-", 1)[1]))):
        kind, at = event["kind"], event["at"]
        if kind == "created":
            out["created_at"] = at
        elif kind == "answered":
            out.setdefault("answered_at", at)
        elif kind == "agent_message" and event.get("public", True):
            out.setdefault("first_response_at", at)
        elif kind == "hold_start":
            hold_started = ts(at)
        elif kind == "hold_end":
            assert hold_started is not None
            out["hold_s"] += ts(at) - hold_started
        elif kind == "transferred":
            out["transfers"] += 1
        elif kind == "escalated":
            out["escalated"] = True
        elif kind == "resolved":
            resolved = at
        elif kind == "reopened":
            out["reopens"] += 1
            resolved = None
        elif kind == "abandoned":
            out["abandoned_at"] = at
    out["resolved_at"] = resolved
    return out


def test_events_fold_into_the_interaction_fields(by_kind: dict[str, list[Record]]) -> None:
    events: dict[str, list[Record]] = defaultdict(list)
    for event in by_kind["event"]:
        events[event["interaction_id"]].append(event)
    seen: Counter[str] = Counter()
    for interaction in by_kind["interaction"]:
        folded = _fold(events[interaction["id"]])
        assert folded["created_at"] == interaction["created_at"]
        for field in ("answered_at", "first_response_at", "abandoned_at", "resolved_at"):
            assert folded.get(field) == interaction.get(field), (interaction["id"], field)
        for field, default in (("transfers", 0), ("reopens", 0), ("escalated", False)):
            assert folded[field] == interaction.get(field, default), (interaction["id"], field)
            seen[field] += folded[field] != default
        if interaction["channel"] in ("phone", "chat") and "answered_at" in interaction:
            assert folded["hold_s"] == interaction["hold_s"]
            seen["hold"] += folded["hold_s"] > 0
        body = next(
            (e["body"] for e in events[interaction["id"]] if e["kind"] == "customer_message"), None
        )
        assert body or interaction["channel"] == "phone"  # a phone caller may hang up first
    # The run exercises every kind of outcome.
    assert min(seen.values()) > 0 and set(seen) == {"transfers", "reopens", "escalated", "hold"}


def test_outcomes_channels_and_text_are_varied(by_kind: dict[str, list[Record]]) -> None:
    interactions = by_kind["interaction"]
    channels = Counter(i["channel"] for i in interactions)
    assert set(channels) == {"phone", "chat", "email", "web", "sms", "social"}
    statuses = Counter(i["status"] for i in interactions)
    assert set(statuses) == {"solved", "open", "abandoned"}
    assert len({i["category"] for i in interactions}) == 6
    messages = {e["body"] for e in by_kind["event"] if e["kind"] == "customer_message"}
    assert len(messages) > 300
    assert any("ridiculous" in m or "unacceptable" in m for m in messages)  # negative
    assert any("Thanks so much" in m or "love your" in m for m in messages)  # positive
    assert any(m.startswith("Hola") or "pedido" in m for m in messages)  # the Spanish queue
    linked = [m for m in by_kind["social_mention"] if "interaction_id" in m]
    assert linked and all(m["interaction_id"] for m in linked)
    assert {o["kind"] for o in by_kind["order"]} >= {"purchase", "renewal", "return"}


def test_contacts_come_from_customers_active_at_the_time(by_kind: dict[str, list[Record]]) -> None:
    customers = {c["id"]: c for c in by_kind["customer"]}
    repeat_same_category = 0
    seen: dict[str, list[Record]] = defaultdict(list)
    for interaction in sorted(by_kind["interaction"], key=lambda i: i["created_at"]):
        if "customer_id" not in interaction:
            continue
        customer = customers[interaction["customer_id"]]
        created = ts(interaction["created_at"])
        assert ts(customer["acquired_at"]) <= created
        assert "churned_at" not in customer or created < ts(customer["churned_at"])
        earlier = seen[interaction["customer_id"]]
        repeat_same_category += any(
            e["category"] == interaction["category"] and created - ts(e["created_at"]) < 7 * 86_400
            for e in earlier
        )
        earlier.append(interaction)
    assert repeat_same_category > 30  # customers come back about the same thing


def _team_members(by_kind: dict[str, list[Record]], agent_id: str) -> list[str]:
    team = next(a["team_id"] for a in by_kind["agent"] if a["id"] == agent_id)
    return [a["id"] for a in by_kind["agent"] if a["team_id"] == team and a["role"] != "team_lead"]


def test_busy_not_effective_agent_has_top_volume_and_worst_csat_and_fcr(
    by_kind: dict[str, list[Record]], config: SimulationConfig
) -> None:
    agent = special_agents(config)["busy_not_effective"]
    members = _team_members(by_kind, agent)
    interactions = by_kind["interaction"]
    volume = Counter(i.get("agent_id") for i in interactions)
    assert max(members, key=lambda m: volume[m]) == agent
    # CSAT: share of answers in the top two points, per agent.
    answers: dict[str, list[float]] = defaultdict(list)
    for survey in by_kind["survey"]:
        if survey["kind"] == "csat":
            answers[survey["agent_id"]].append(survey["score"])
    csat = {
        m: sum(s >= 4 for s in answers[m]) / len(answers[m])
        for m in members
        if len(answers[m]) >= 5
    }
    assert min(csat, key=lambda m: csat[m]) == agent
    # FCR (DESIGN.md §3): resolved, no reopen/transfer/escalation, and no further inbound
    # contact by the same customer within 7 days (same category).
    later: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for i in interactions:
        if "customer_id" in i:
            later[i["customer_id"]].append((ts(i["created_at"]), i["category"]))
    fcr_hits: Counter[str] = Counter()
    fcr_total: Counter[str] = Counter()
    for i in interactions:
        if "resolved_at" not in i or i.get("agent_id") not in members:
            continue
        created = ts(i["created_at"])
        repeat = "customer_id" in i and any(
            created < t <= created + 7 * 86_400 and c == i["category"]
            for t, c in later[i["customer_id"]]
        )
        first_contact = not (repeat or i.get("reopens") or i.get("transfers") or i.get("escalated"))
        fcr_hits[i["agent_id"]] += first_contact
        fcr_total[i["agent_id"]] += 1
    fcr = {m: fcr_hits[m] / fcr_total[m] for m in fcr_total if fcr_total[m] >= 20}
    assert min(fcr, key=lambda m: fcr[m]) == agent
    # ... and a short handle time: rushing the calls.
    talk = defaultdict(list)
    for i in interactions:
        if i["channel"] == "phone" and "talk_s" in i:
            talk[i["agent_id"]].append(i["talk_s"])
    mean_talk = {m: sum(v) / len(v) for m, v in talk.items() if m in members}
    assert min(mean_talk, key=lambda m: mean_talk[m]) == agent


def test_overloaded_agent_occupancy_is_above_ninety_percent(
    by_kind: dict[str, list[Record]], config: SimulationConfig
) -> None:
    seconds: dict[str, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
    for s in by_kind["agent_state"]:
        seconds[s["agent_id"]][s["state"]] += ts(s["end"]) - ts(s["start"])

    def occupancy(agent: str) -> float:
        c = seconds[agent]
        work = c["handling"] + c["after_call_work"]
        return work / (work + c["available"])

    overloaded = special_agents(config)["overloaded"]
    assert occupancy(overloaded) > 0.90
    others = [occupancy(a) for a in seconds if a != overloaded]
    assert max(others) < occupancy(overloaded)
    assert 0.5 < sum(others) / len(others) < 0.9  # the rest of the centre is not drowning


def test_phone_and_chat_arrive_within_the_teams_opening_hours(records: list[Record]) -> None:
    per_day = _opening_hours_check(records)
    assert sum(per_day.values()) > 200


def test_phone_and_chat_arrive_only_in_opening_hours_and_not_on_holidays() -> None:
    # 2026-09-07 is Labor Day: the New York care team is closed, the London one is not.
    config = SimulationConfig(agents=40, days=2, seed=3, start=date(2026, 9, 7))
    per_day = _opening_hours_check(list(simulate_records(config)))
    assert per_day[("America/New_York", "2026-09-07")] == 0
    assert per_day[("America/New_York", "2026-09-08")] > 100
    assert per_day[("Europe/London", "2026-09-07")] > 100


def _opening_hours_check(records: list[Record]) -> Counter[tuple[str, str]]:
    """Asserts every phone/chat contact arrives in its team's local opening hours and not on
    a holiday; returns the count per (time zone, local date)."""
    teams = {r["id"]: r for r in records if r["type"] == "team"}
    calendars = {r["id"]: r for r in records if r["type"] == "calendar"}
    per_day: Counter[tuple[str, str]] = Counter()
    for r in records:
        if r["type"] != "interaction" or r["channel"] not in ("phone", "chat"):
            continue
        calendar = calendars[teams[r["team_id"]]["calendar_id"]]
        local = datetime.fromisoformat(r["created_at"]).astimezone(ZoneInfo(calendar["timezone"]))
        hours = calendar["hours"][
            ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]
        ]
        clock = local.strftime("%H:%M")
        assert any(start <= clock < end for start, end in hours), r
        assert local.date().isoformat() not in calendar["holidays"], r
        per_day[(calendar["timezone"], local.date().isoformat())] += 1
    return per_day


def test_same_seed_same_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    config = SimulationConfig(agents=12, days=2, seed=11)
    first, second, other = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    summary = write_jsonl(config, first, progress=False)
    write_jsonl(config, second, progress=False)
    write_jsonl(SimulationConfig(agents=12, days=2, seed=12), other, progress=False)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()
    lines = first.read_bytes().splitlines()
    assert len(lines) == summary.records == sum(summary.by_kind.values())
    assert [orjson.loads(line) for line in lines[:50]] == list(simulate_records(config))[:50]


def test_cli_writes_the_file_and_rejects_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "demo.jsonl"
    result = runner.invoke(
        app,
        [
            "simulate",
            "--agents",
            "12",
            "--days",
            "1",
            "--seed",
            "2",
            "--out",
            str(out),
            "--start",
            "2026-09-01",
        ],
    )
    assert result.exit_code == 0, result.output
    first = orjson.loads(out.read_bytes().splitlines()[0])
    assert first["type"] == "team"
    interactions = [
        orjson.loads(line)
        for line in out.read_bytes().splitlines()
        if b'"type":"interaction"' in line
    ]
    # Backlog queues open with what arrived since the team last worked: on Tuesday 1
    # September, Monday evening's emails from 17:00 in New York (21:00 UTC); the overloaded
    # Spanish queue with the 3 days before.
    general = sorted(i["created_at"] for i in interactions if i["queue"] != "spanish")
    assert "2026-08-31T21:00:00Z" <= general[0] < "2026-09-01"
    assert all(i["channel"] not in ("phone", "chat") for i in interactions
               if i["created_at"] < "2026-09-01")
    assert min(i["created_at"] for i in interactions) >= "2026-08-29"
    bad = runner.invoke(app, ["simulate", "--start", "01/09/2026", "--out", str(out)])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    too_few = runner.invoke(app, ["simulate", "--agents", "5", "--out", str(out)])
    assert too_few.exit_code == 2 and "at least 12" in too_few.output
