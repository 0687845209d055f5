"""Canonical records for the scorecard tests, expanded from small readable spec files."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from servicepulse.ingest.importer import import_rows
from servicepulse.ingest.sources import SourceRow

FIXTURES = Path(__file__).parent.parent / "fixtures" / "scorecards"
DAY_ONE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
DAYS = 3


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def team_records(spec_path: Path = FIXTURES / "team.json") -> list[dict[str, Any]]:
    spec = json.loads(spec_path.read_text())
    team = spec["team"]
    records: list[dict[str, Any]] = [{"type": "team", "id": team["id"], "name": team["name"],
                                      "lead_id": "L1"}]
    for agent in spec["agents"]:
        records.append({"type": "agent", "id": agent["id"], "name": f"Agent {agent['id']}",
                        "role": agent["role"], "team_id": team["id"]})
        records += _contacts(agent) + _surveys(agent) + _states(agent)
    return records


def _contacts(agent: dict[str, Any]) -> list[dict[str, Any]]:
    records = []
    count = agent.get("contacts", 0)
    pairs = agent.get("repeat_pairs", 0)
    for index in range(count):
        # spread over the days, one call every 5 minutes from 09:00
        created = DAY_ONE + timedelta(days=index % DAYS, minutes=5 * (index // DAYS))
        if index < 2 * pairs:  # the pair's second call, an hour after the first, same customer
            customer = f"C-{agent['id']}-pair{index // 2}"
            created = DAY_ONE + timedelta(minutes=5 * (index // 2)) + timedelta(
                hours=index % 2)
        else:
            customer = f"C-{agent['id']}-{index}"
        reopened = 2 * pairs <= index < 2 * pairs + agent.get("reopened", 0)
        records.append({
            "type": "interaction", "id": f"I-{agent['id']}-{index}", "channel": "phone",
            "created_at": iso(created), "answered_at": iso(created + timedelta(seconds=10)),
            "resolved_at": iso(created + timedelta(seconds=10 + agent["aht"])),
            "talk_s": agent["aht"], "hold_s": 0, "wrap_s": 0, "agent_id": agent["id"],
            "team_id": "T1", "customer_id": customer, "reopens": 1 if reopened else 0})
    return records


def _surveys(agent: dict[str, Any]) -> list[dict[str, Any]]:
    records = []
    answers = [5] * agent.get("csat_top", 0) + [2] * agent.get("csat_low", 0)
    for index, score in enumerate(answers):
        submitted = DAY_ONE + timedelta(days=index % DAYS, hours=8, minutes=index)
        records.append({
            "type": "survey", "id": f"S-{agent['id']}-{index}", "kind": "csat", "score": score,
            "submitted_at": iso(submitted), "agent_id": agent["id"],
            "interaction_id": f"I-{agent['id']}-{index % agent['contacts']}",
            "comment": (f"Slow and unhelpful ({agent['id']} #{index})" if score <= 2
                        else "Great help, thanks")})
    return records


def _states(agent: dict[str, Any]) -> list[dict[str, Any]]:
    records = []
    if "busy" not in agent:
        return records
    for day in range(DAYS):
        start = DAY_ONE + timedelta(days=day)
        middle = start + timedelta(minutes=agent["busy"])
        end = middle + timedelta(minutes=agent["available"])
        records.append({"type": "agent_state", "id": f"ST-{agent['id']}-{day}-h",
                        "agent_id": agent["id"], "state": "handling", "start": iso(start),
                        "end": iso(middle)})
        records.append({"type": "agent_state", "id": f"ST-{agent['id']}-{day}-a",
                        "agent_id": agent["id"], "state": "available", "start": iso(middle),
                        "end": iso(end)})
    return records


def load(engine: Engine, records: Iterable[dict[str, Any]]) -> None:
    rows = [SourceRow("test", index + 1, record, json.dumps(record))
            for index, record in enumerate(records)]
    summary = import_rows(engine, rows)
    assert summary.quarantined == 0, summary.as_json()


def mixed_records() -> list[dict[str, Any]]:
    """Team T2 beside the hand-computed team: M1, frontline, answers 40 phone calls (after
    10 s, talked 300 s) and 40 emails (first response after 12 h, handled 600 s); M2,
    technical support, 40 emails (first response after 2 h, resolved after 4 h, handled
    900 s). Everything resolved, nothing reopened, no surveys."""
    records: list[dict[str, Any]] = [
        {"type": "team", "id": "T2", "name": "Mixed"},
        {"type": "agent", "id": "M1", "name": "Mia Mixed", "role": "frontline",
         "team_id": "T2"},
        {"type": "agent", "id": "M2", "name": "Tom Tech", "role": "technical_support",
         "team_id": "T2"}]
    for index in range(40):
        created = DAY_ONE + timedelta(days=index % DAYS, minutes=5 * (index // DAYS))
        records.append({
            "type": "interaction", "id": f"I-M1-phone-{index}", "channel": "phone",
            "created_at": iso(created), "answered_at": iso(created + timedelta(seconds=10)),
            "resolved_at": iso(created + timedelta(seconds=310)), "talk_s": 300, "hold_s": 0,
            "wrap_s": 0, "agent_id": "M1", "team_id": "T2", "customer_id": f"C-M1-p{index}"})
        records.append({
            "type": "interaction", "id": f"I-M1-email-{index}", "channel": "email",
            "created_at": iso(created), "first_response_at": iso(created + timedelta(hours=12)),
            "resolved_at": iso(created + timedelta(hours=12, minutes=10)), "handle_s": 600,
            "agent_id": "M1", "team_id": "T2", "customer_id": f"C-M1-e{index}"})
        records.append({
            "type": "interaction", "id": f"I-M2-email-{index}", "channel": "email",
            "created_at": iso(created), "first_response_at": iso(created + timedelta(hours=2)),
            "resolved_at": iso(created + timedelta(hours=4)), "handle_s": 900,
            "agent_id": "M2", "team_id": "T2", "customer_id": f"C-M2-e{index}"})
    return records
