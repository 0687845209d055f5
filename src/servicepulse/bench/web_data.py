"""Synthetic canonical records for the web benchmark (and the web tests' larger checks).

Deterministic for a seed, fast (plain `random`), and shaped like a real centre: channel mix,
answer and abandon times, first responses, resolutions, surveys, and each agent's current state,
with the last day ending now so that the wallboard has a "today".
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

CHANNELS = (("phone", 0.35), ("chat", 0.25), ("email", 0.25), ("social", 0.08), ("sms", 0.04),
            ("web", 0.03))
CATEGORIES = ("billing", "delivery", "returns", "account", "technical", "other")
LANGUAGES = (("en", 0.8), ("fr", 0.1), ("de", 0.1))
STATES = ("available", "handling", "handling", "after_call_work", "break", "offline")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    roll, total = rng.random(), 0.0
    for value, weight in weighted:
        total += weight
        if roll < total:
            return value
    return weighted[-1][0]


def synthetic_records(interactions: int, days: int = 90, agents: int = 200, teams: int = 10,
                      seed: int = 11, end: float | None = None) -> Iterator[dict[str, Any]]:
    """Teams, agents, customers, then `interactions` interactions over `days` days up to `end`
    (now), with CSAT/NPS surveys for some and one open state per agent."""
    rng = random.Random(seed)
    end = time.time() if end is None else end
    start = end - days * 86400
    for t in range(teams):
        yield {"type": "team", "id": f"team-{t:02d}",
               "name": f"Team {chr(65 + t % 26)}{t // 26 or ''}"}
    for a in range(agents):
        yield {"type": "agent", "id": f"agent-{a:04d}", "name": f"Agent {a:04d}",
               "role": "frontline", "team_id": f"team-{a % teams:02d}"}
    customers = max(1, interactions // 5)
    for c in range(customers):
        yield {"type": "customer", "id": f"cust-{c:06d}", "name": f"Customer {c:06d}",
               "segment": "business" if c % 4 == 0 else "consumer"}
    survey = 0
    for i in range(interactions):
        created = start + (end - start) * (i + rng.random()) / interactions
        channel = _pick(rng, CHANNELS)
        agent = rng.randrange(agents)
        record: dict[str, Any] = {
            "type": "interaction", "id": f"int-{i:07d}", "channel": channel,
            "created_at": _iso(created), "customer_id": f"cust-{rng.randrange(customers):06d}",
            "agent_id": f"agent-{agent:04d}", "team_id": f"team-{agent % teams:02d}",
            "queue": f"{channel}-general", "category": rng.choice(CATEGORIES),
            "language": _pick(rng, LANGUAGES),
        }
        if rng.random() < 0.05:
            record["direction"] = "outbound"
        recent = created > end - 600  # the last ten minutes: some contacts still waiting
        if recent and rng.random() < 0.3:
            record.pop("agent_id")
            yield record
            continue
        if channel in ("phone", "chat"):
            if rng.random() < 0.93:
                answered = created + rng.expovariate(1 / 25)
                record["answered_at"] = _iso(answered)
                record["talk_s"] = round(rng.expovariate(1 / 300), 1)
                record["hold_s"] = round(rng.expovariate(1 / 30), 1)
                record["wrap_s"] = round(rng.expovariate(1 / 45), 1)
                done = answered + record["talk_s"] + record["hold_s"]
            else:
                record["abandoned_at"] = _iso(created + rng.uniform(2, 180))
                record.pop("agent_id")
                yield record
                continue
        else:
            mean = {"email": 4 * 3600, "social": 1800, "sms": 900, "web": 6 * 3600}[channel]
            done = created + rng.expovariate(1 / mean)
            record["first_response_at"] = _iso(done)
            record["handle_s"] = round(rng.expovariate(1 / 420), 1)
        if rng.random() < 0.85 and done + 60 < end:
            resolved = min(end - 1, done + rng.expovariate(1 / 7200))
            record["resolved_at"] = _iso(resolved)
            record["reopens"] = 1 if rng.random() < 0.05 else 0
        record["transfers"] = 1 if rng.random() < 0.07 else 0
        record["escalated"] = rng.random() < 0.04
        yield record
        if "resolved_at" in record and rng.random() < 0.2:
            survey += 1
            kind = "csat" if rng.random() < 0.75 else "nps"
            score = (rng.choices((1, 2, 3, 4, 5), (5, 5, 10, 35, 45))[0] if kind == "csat"
                     else rng.choices(range(11), (2, 1, 1, 2, 2, 4, 6, 10, 20, 25, 27))[0])
            yield {"type": "survey", "id": f"srv-{survey:07d}", "kind": kind, "score": score,
                   "submitted_at": record["resolved_at"], "interaction_id": record["id"]}
    for a in range(agents):
        yield {"type": "agent_state", "id": f"state-{a:04d}-now", "agent_id": f"agent-{a:04d}",
               "state": STATES[a % len(STATES)], "start": _iso(end - 300 - a)}
