"""The public reference figures of /work/shared/REFERENCES.md, computed through the engine.

The answers are written as canonical JSONL (one record a line) and imported like any file.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine

from servicepulse.kpi.settings import KpiSettings
from tests.kpi.helpers import kpis, load

MONTH = {"from": "2026-03-01", "to": "2026-04-01"}
START = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _write(path: Path, records: Iterator[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    return path


def _answers(kind: str, counts: dict[int, int]) -> Iterator[dict[str, Any]]:
    number = 0
    for score, count in counts.items():
        for _ in range(count):
            number += 1
            yield {"type": "survey", "id": f"{kind}{number}", "kind": kind, "score": score,
                   "submitted_at": (START + timedelta(minutes=number)).isoformat()}


def test_csat_delighted_example(store: Engine, tmp_path: Path) -> None:
    # Delighted's worked example: answers 5,4,3,2,1 counted 42, 32, 10, 9, 14 → 74/107 = 69.16%
    load(store, _write(tmp_path / "csat.jsonl", _answers("csat", {5: 42, 4: 32, 3: 10, 2: 9,
                                                                  1: 14})))
    csat = kpis(store, kpis=["csat"], **MONTH)["csat"]
    assert (round(csat["value"], 2), csat["n"], csat["low_sample"]) == (69.16, 107, False)
    # mean (42·5 + 32·4 + 10·3 + 9·2 + 14) / 107 = 400/107
    assert csat["mean"] == round(400 / 107, 4)


def test_nps_interval(store: Engine, tmp_path: Path) -> None:
    # REFERENCES.md: n = 400, p = 0.50, d = 0.20 → NPS 30 ± 7.65
    load(store, _write(tmp_path / "nps.jsonl", _answers("nps", {10: 120, 9: 80, 8: 60, 7: 60,
                                                                3: 80})))
    nps = kpis(store, kpis=["nps"], **MONTH)["nps"]
    assert (nps["value"], nps["n"]) == (30.0, 400)
    low, high = nps["ci"]
    assert (round(30 - low, 2), round(high - 30, 2)) == (7.65, 7.65)


def test_ces_share_and_mean(store: Engine, tmp_path: Path) -> None:
    # counts for 1..7 of 80, 210, 140, 110, 160, 180, 120 → mean 4.08, share 5-7 = 46%
    counts = dict(zip(range(1, 8), (80, 210, 140, 110, 160, 180, 120), strict=True))
    load(store, _write(tmp_path / "ces.jsonl", _answers("ces", counts)))
    ces = kpis(store, kpis=["ces"], **MONTH)["ces"]
    assert (round(ces["value"], 2), ces["share_5_7"], ces["n"]) == (4.08, 46.0, 1000)


def _service_level_calls() -> Iterator[dict[str, Any]]:
    # ICMI's example: 1000 answered (860 within the 20 s threshold), 60 abandoned: 20 within
    # the threshold (10 of them within 5 s), 40 after it.
    waits = [("answered", 10)] * 860 + [("answered", 40)] * 140 + [("abandoned", 3)] * 10 \
        + [("abandoned", 12)] * 10 + [("abandoned", 45)] * 40
    for number, (outcome, wait) in enumerate(waits):
        created = START + timedelta(minutes=number)
        yield {"type": "interaction", "id": f"call{number}", "channel": "phone",
               "created_at": created.isoformat(),
               f"{outcome}_at": (created + timedelta(seconds=wait)).isoformat()}


@pytest.mark.parametrize(("formula", "expected"), [
    ("abandoned_within_met", 83),  # (860 + 20) / 1060
    ("answered_only", 86),  # 860 / 1000
    ("all_abandoned", 81),  # 860 / 1060
    ("abandoned_within_excluded", 83),  # 860 / (1000 + 40)
    ("short_abandons_excluded", 82),  # 860 / (1000 + 50): DESIGN.md's default
])
def test_service_level_variants(sqlite_store: Engine, tmp_path: Path, formula: str,
                                expected: int) -> None:
    load(sqlite_store, _write(tmp_path / "calls.jsonl", _service_level_calls()))
    result = kpis(sqlite_store, KpiSettings(service_level_formula=formula),
                  kpis=["service_level"], **MONTH)
    assert round(result["service_level"]["value"]) == expected


def test_service_level_default_on_postgres_too(store: Engine, tmp_path: Path) -> None:
    load(store, _write(tmp_path / "calls.jsonl", _service_level_calls()))
    result = kpis(store, kpis=["service_level"], **MONTH)["service_level"]
    assert (result["value"], result["n"]) == (round(100 * 860 / 1050, 4), 1050)


def _cltv_records() -> Iterator[dict[str, Any]]:
    # 20 customers, all acquired before the trailing year; 12 churn during it (monthly churn
    # 12 / 20 / 12 = 0.05); revenue 20 × 1250 − a return of 1000 = 24000 → 100 a customer a
    # month. With margin 0.6: 100 × 0.6 × min(1 / 0.05, 60) = 1200.
    for number in range(20):
        customer: dict[str, Any] = {"type": "customer", "id": f"c{number}",
                                    "acquired_at": "2024-01-01T00:00:00Z"}
        if number < 12:
            customer["churned_at"] = f"2025-{number % 9 + 4:02d}-15T00:00:00Z"
        yield customer
        yield {"type": "order", "id": f"o{number}", "customer_id": f"c{number}",
               "at": "2025-04-10T00:00:00Z", "amount": 1250, "kind": "purchase"}
    yield {"type": "order", "id": "r1", "customer_id": "c19", "at": "2026-02-01T00:00:00Z",
           "amount": 1000, "kind": "return"}
    # outside the trailing 12 months before 2026-04-01: not counted
    yield {"type": "order", "id": "old", "customer_id": "c19", "at": "2025-03-01T00:00:00Z",
           "amount": 5000, "kind": "purchase"}


def test_cltv(store: Engine, tmp_path: Path) -> None:
    load(store, _write(tmp_path / "cltv.jsonl", _cltv_records()))
    result = kpis(store, KpiSettings(gross_margin=0.6), kpis=["cltv"], **MONTH)["cltv"]
    assert (result["value"], result["n"]) == (1200.0, 20)
