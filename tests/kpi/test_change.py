"""`servicepulse.kpi.change`: a KPI's change split into each group's mix and rate effect.

The stores are built record by record so that every figure below is worked out by hand:
resolution rate (resolved / created) by channel, and AHT (mean handle time) by channel.
"""

from __future__ import annotations

import json
import math
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from scipy import stats
from sqlalchemy import Engine

from servicepulse.kpi.change import (
    ExplainError,
    apportion,
    explain_change,
    shift_share,
    store_runner,
)
from tests.kpi.helpers import load

BEFORE = (date(2026, 3, 2), date(2026, 3, 3))  # Monday
AFTER = (date(2026, 3, 9), date(2026, 3, 10))  # the Monday after


def contacts(day: str, channel: str, total: int, resolved: int, start: int = 0,
             handle: list[int] | None = None) -> list[dict[str, Any]]:
    """`total` interactions of `channel` created on `day`, the first `resolved` resolved."""
    rows = []
    for index in range(total):
        row: dict[str, Any] = {"type": "interaction", "id": f"{day}-{channel}-{start + index}",
                               "channel": "email" if handle else channel, "agent_id": "a1",
                               "created_at": f"{day}T{9 + index // 60:02d}:{index % 60:02d}:00Z"}
        if handle:
            row["channel"] = channel
            row["handle_s"] = handle[index]
        if index < resolved:
            row["resolved_at"] = f"{day}T20:00:00Z"
        rows.append(row)
    return rows


def store_with(engine: Engine, tmp_path: Path, *groups: list[dict[str, Any]]) -> Engine:
    path = tmp_path / "records.jsonl"
    records = [{"type": "team", "id": "t1", "name": "Care"},
               {"type": "agent", "id": "a1", "name": "Ann", "role": "frontline", "team_id": "t1"}]
    records += [row for group in groups for row in group]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    load(engine, path)
    return engine


def by_group(explanation: Any) -> dict[str | None, Any]:
    return {c.group: c for c in explanation.contributions}


def test_pure_channel_mix(store: Engine, tmp_path: Path) -> None:
    # Before: phone 8/10 = 80%, email 4/10 = 40%, shares 1/2 and 1/2 -> 60%.
    # After: phone 24/30 = 80%, email 4/10 = 40%, shares 3/4 and 1/4 -> 28/40 = 70%.
    # Rates unchanged: rate effects 0; mix phone = (3/4 − 1/2) × 80 = 20,
    # mix email = (1/4 − 1/2) × 40 = −10; together the change, +10 points.
    store_with(store, tmp_path,
               contacts("2026-03-02", "phone", 10, 8), contacts("2026-03-02", "email", 10, 4),
               contacts("2026-03-09", "phone", 30, 24), contacts("2026-03-09", "email", 10, 4))
    result = explain_change(store_runner(store), "resolution_rate", AFTER, BEFORE, ["channel"])
    assert (result.value, result.previous, result.change) == (70.0, 60.0, 10.0)
    groups = by_group(result)
    assert (groups["phone"].mix, groups["phone"].rate, groups["phone"].total) == (20.0, 0.0, 20.0)
    assert (groups["email"].mix, groups["email"].rate, groups["email"].total) == (-10.0, 0.0, -10.0)
    assert (groups["phone"].share, groups["phone"].previous_share) == (75.0, 50.0)
    assert [c.group for c in result.contributions] == ["phone", "email"]  # by |total|
    document = result.as_dict()
    assert set(document) >= {"kpi", "value", "previous", "change", "contributions"}
    assert set(document["contributions"][0]) >= {"dimension", "group", "mix", "rate", "total"}


def test_pure_rate(store: Engine, tmp_path: Path) -> None:
    # Shares 1/2 and 1/2 in both; phone 8/10 -> 9/10 (+10), email 4/10 -> 5/10 (+10):
    # rate effects (+10) × 1/2 = +5 each, mix effects 0; change 60% -> 70%.
    store_with(store, tmp_path,
               contacts("2026-03-02", "phone", 10, 8), contacts("2026-03-02", "email", 10, 4),
               contacts("2026-03-09", "phone", 10, 9), contacts("2026-03-09", "email", 10, 5))
    result = explain_change(store_runner(store), "resolution_rate", AFTER, BEFORE, ["channel"],
                            minimum_sample=1)
    groups = by_group(result)
    assert result.change == 10.0
    for channel in ("phone", "email"):
        assert (groups[channel].mix, groups[channel].rate, groups[channel].total) == (0, 5, 5)
    # the rate change's significance: the pooled two-proportion z test, by hand
    pooled = 17 / 20
    z = (0.9 - 0.8) / math.sqrt(pooled * (1 - pooled) * (1 / 10 + 1 / 10))
    assert groups["phone"].p_value == pytest.approx(2 * stats.norm.sf(z), rel=1e-9)
    assert groups["phone"].significant is False


def test_group_missing_in_one_period_and_exact_sum(sqlite_store: Engine, tmp_path: Path
                                                   ) -> None:
    # Before: phone 2/3, email 1/3 (n 6, 1/2 resolved). After: phone 1/3, email 2/3, chat 1/1.
    # chat is new: it takes its own rate in both periods, so it is all mix: w1 × r = 1/7 × 100.
    # The exact contributions are sevenths and ninths; rounded to 4 decimals they still add
    # up to the change as reported, 57.1429 − 50.
    store_with(sqlite_store, tmp_path,
               contacts("2026-03-02", "phone", 3, 2), contacts("2026-03-02", "email", 3, 1),
               contacts("2026-03-09", "phone", 3, 1), contacts("2026-03-09", "email", 3, 2),
               contacts("2026-03-09", "chat", 1, 1))
    result = explain_change(store_runner(sqlite_store), "resolution_rate", AFTER, BEFORE,
                            ["channel", "agent"])
    assert (result.value, result.previous, result.change) == (57.1429, 50.0, 7.1429)
    groups = {(c.dimension, c.group): c for c in result.contributions}
    chat = groups[("channel", "chat")]
    assert (chat.mix, chat.rate, chat.previous_share, chat.previous_value) == (14.2857, 0.0, 0.0,
                                                                             None)
    for dimension in ("channel", "agent"):
        parts = [c for c in result.contributions if c.dimension == dimension]
        assert round(sum(c.total for c in parts), 4) == result.change
        assert all(round(c.mix + c.rate, 4) == c.total for c in parts)
    # one agent: no mix, all rate
    agent = groups[("agent", "a1")]
    assert (agent.mix, agent.rate, agent.total) == (0.0, 7.1429, 7.1429)
    # the exact split, before rounding: phone's mix (3/7 − 1/2) × (200/3 + 100/3) / 2
    splits = {s.group: s for s in shift_share(
        {"phone": (3, Fraction(200, 3)), "email": (3, Fraction(100, 3))},
        {"phone": (3, Fraction(100, 3)), "email": (3, Fraction(200, 3)),
         "chat": (1, Fraction(100))})}
    assert splits["phone"].mix == Fraction(-25, 7)
    assert splits["phone"].rate == Fraction(-100, 3) * (Fraction(1, 2) + Fraction(3, 7)) / 2
    assert sum(s.total for s in splits.values()) == Fraction(400, 7) - 50


def test_mean_kpi_welch(sqlite_store: Engine, tmp_path: Path) -> None:
    # AHT by channel; email handle times 100, 200, 300 before, 200, 300, 400 after (chat
    # 600 and 800 in both, 2 of 5 then 2 of 5): mix 0; email's rate effect 100 × 3/5 = 60.
    store_with(sqlite_store, tmp_path,
               contacts("2026-03-02", "email", 3, 0, handle=[100, 200, 300]),
               contacts("2026-03-02", "chat", 2, 0, handle=[600, 800]),
               contacts("2026-03-09", "email", 3, 0, handle=[200, 300, 400]),
               contacts("2026-03-09", "chat", 2, 0, handle=[600, 800]))
    result = explain_change(store_runner(sqlite_store), "aht", AFTER, BEFORE, ["channel"],
                            minimum_sample=1)
    groups = by_group(result)
    assert (result.previous, result.value, result.change) == (400.0, 460.0, 60.0)
    assert (groups["email"].mix, groups["email"].rate) == (0.0, 60.0)
    assert (groups["chat"].total, groups["chat"].p_value) == (0.0, 1.0)
    welch = stats.ttest_ind([200, 300, 400], [100, 200, 300], equal_var=False)
    assert groups["email"].p_value == pytest.approx(welch.pvalue, rel=1e-4)


def test_not_a_rate_or_mean(sqlite_store: Engine) -> None:
    for kpi, words in (("frt", "frt is a median"), ("contacts", "contacts is a count or sum"),
                       ("occupancy", "occupancy is a ratio of sums")):
        with pytest.raises(ExplainError, match=words) as error:
            explain_change(store_runner(sqlite_store), kpi, AFTER, BEFORE, ["channel"])
        assert "Explain one of" in str(error.value) and "fcr" in str(error.value)
    with pytest.raises(ExplainError, match="churn_rate cannot be split by channel: its "
                                           "records carry segment"):
        explain_change(store_runner(sqlite_store), "churn_rate", AFTER, BEFORE, ["channel"])
    with pytest.raises(ExplainError, match="unknown KPI 'speed'"):
        explain_change(store_runner(sqlite_store), "speed", AFTER, BEFORE, ["channel"])


def test_no_data_is_a_clear_error(sqlite_store: Engine) -> None:
    with pytest.raises(ExplainError, match="no fcr between 2026-03-09 and 2026-03-10"):
        explain_change(store_runner(sqlite_store), "fcr", AFTER, BEFORE, ["channel"])


def test_apportion_keeps_zeros_and_hits_the_target() -> None:
    thirds = [Fraction(1, 3) * Fraction(1, 10**4)] * 3 + [Fraction(0)]
    assert apportion(thirds, 1) == [1, 0, 0, 0]
    assert apportion([Fraction(2, 3 * 10**4)] * 3, 2) == [0, 1, 1]  # 1 each, one taken back
    assert apportion([Fraction(0), Fraction(1, 10**4)], 2) == [0, 2]


def test_summary_sentence() -> None:
    from servicepulse.kpi.change import Contribution, Explanation, summary

    def part(group: str, mix: float, rate: float, significant: bool | None) -> Contribution:
        return Contribution("team", group, mix, rate, round(mix + rate, 4), 50.0, 50.0, 1.0,
                            1.0, 100, 100, None, significant)

    explanation = Explanation("aht", AFTER, BEFORE, ("team",), 358.4, 361.0, -2.6, 200, 200,
                              [part("T1", -2.0, -1.5, True), part("T2", 0.5, 0.4, None)])
    # 6.0 min to 6.0 min would hide the change: seconds then
    assert summary(explanation) == (
        "Average handle time fell from 361.0 s to 358.4 s (−2.6 s); largest contributions: "
        "team T1 (−3.5 s: mix −2.0 s, rate −1.5 s, significant); team T2 (+0.9 s: mix +0.5 s, "
        "rate +0.4 s).")
