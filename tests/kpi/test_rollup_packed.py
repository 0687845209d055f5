"""The rollup's packed histograms: one blob of bucket counts per cell and measure, read by
dashboards (medians and p90s), written by every refresh and by migration 0011."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, insert, select, text

from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.rollup import (
    AGENT_GRAIN,
    TEAM_GRAIN,
    TEAM_MONTH_GRAIN,
    Grain,
    pack_histograms,
    pack_sums,
    query_rollup,
    sum_packed,
    unpack_histogram,
    unpack_sums,
)
from servicepulse.kpi.settings import KpiSettings
from servicepulse.kpi.tables import (
    ROLLUP_MEASURES,
    kpi_daily_histogram_team_packed,
    kpi_daily_rollup_team,
    kpi_daily_sums_team_packed,
)
from servicepulse.store.database import _alembic_config, open_store
from tests.kpi.helpers import WEEK, load, rows_by_group


def _int32(*counts: int) -> bytes:
    return b"".join(count.to_bytes(4, "little", signed=True) for count in counts)


def test_pack_histograms_sums_a_cells_buckets_up_to_its_last() -> None:
    rows = [("a", "frt", 3, 5), ("b", "frt", 0, 2), ("a", "frt", 0, 1), ("a", "frt", 3, 2),
            ("b", "frt", -1, 1)]  # bucket_of never gives below 0: counted in bucket 0
    assert pack_histograms(rows) == [(("a", "frt"), _int32(1, 0, 0, 7)),
                                     (("b", "frt"), _int32(3))]
    assert pack_histograms([]) == []
    assert unpack_histogram(_int32(1, 0, 0, 7)) == {0: 1, 3: 7}


def test_sum_packed_adds_rows_of_any_length_per_group() -> None:
    groups, summed = sum_packed(np.array([5, 2, 5]), [_int32(1, 2), _int32(0, 0, 4),
                                                      _int32(3)])
    assert groups.tolist() == [2, 5]
    assert summed.tolist() == [[0, 0, 4], [4, 2, 0]]


def _float64(**sums: float) -> bytes:
    """Packed sums: every rollup measure in order, 0 unless given."""
    return b"".join(np.float64(sums.get(name, 0.0)).astype("<f8").tobytes()
                    for name in ROLLUP_MEASURES)


def test_pack_sums_keeps_every_measure_in_order() -> None:
    values = [float(index) + 0.5 for index in range(len(ROLLUP_MEASURES))]
    (key, sums), = pack_sums([("UTC", "2026-03-02", "t1", *values)], 3)
    assert key == ("UTC", "2026-03-02", "t1")
    assert sums == _float64(**{name: value for name, value in zip(ROLLUP_MEASURES, values,
                                                                  strict=True)})
    assert unpack_sums(sums) == dict(zip(ROLLUP_MEASURES, values, strict=True))
    assert pack_sums([], 3) == []


def _cell(channel: str, measure: str, counts: bytes) -> dict[str, Any]:
    return {"timezone": "UTC", "day": "2026-03-02", "team": "t1", "role": "frontline",
            "channel": channel, "measure": measure, "counts": counts}


def test_medians_and_p90s_from_hand_made_cells(store: Engine) -> None:
    with store.begin() as connection:
        connection.execute(insert(kpi_daily_rollup_team), [
            {"timezone": "UTC", "day": "2026-03-02", "team": "t1", "role": "frontline",
             "channel": channel, "contacts__n": 4, "frt__n": 4, "ttr__n": resolved}
            for channel, resolved in (("phone", 0), ("chat", 1))])
        connection.execute(insert(kpi_daily_sums_team_packed), [
            {"timezone": "UTC", "day": "2026-03-02", "team": "t1", "role": "frontline",
             "channel": channel, "sums": _float64(contacts__n=4, frt__n=4, ttr__n=resolved)}
            for channel, resolved in (("phone", 0), ("chat", 1))])
        connection.execute(insert(kpi_daily_histogram_team_packed), [
            _cell("phone", "frt", _int32(4)),  # 4 first responses in [0, 1) s
            _cell("chat", "frt", _int32(0, 4)),  # 4 in [1, 1.25) s
            # one resolution in bucket 20, [1.25^19, 1.25^20) = [69.3889390, 86.7361738) s
            _cell("chat", "ttr", _int32(*[0] * 20, 1))])
    base = {"from": "2026-03-02", "to": "2026-03-03", "period": "all", "kpis": ["frt", "ttr"]}
    overall = query_rollup(store, KpiQuery.model_validate(base), KpiSettings())
    assert overall is not None and overall["source"] == "rollup"
    frt = overall["rows"][0]["kpis"]["frt"]
    # 8 values summed over both cells: median rank (8 − 1)·0.5 + 1 = 4.5 in bucket 0 (4
    # values): 0 + 1·(4.5 − 0 − 0.5)/4 = 1.0; p90 rank 7.3 in bucket 1: 1 + 0.25·(7.3 − 4 −
    # 0.5)/4 = 1.175
    assert (frt["value"], frt["p90"]) == (1.0, 1.175)
    ttr = overall["rows"][0]["kpis"]["ttr"]
    # one value: rank 1 for both, the middle of its bucket: 69.3889390 + 17.3472348·0.5
    assert (ttr["value"], ttr["p90"]) == (78.0626, 78.0626)
    by_channel = rows_by_group(query_rollup(
        store, KpiQuery.model_validate({**base, "by": ["channel"]}), KpiSettings()) or {})
    # phone: 4 values in [0, 1): median rank 2.5 → (2.5 − 0.5)/4 = 0.5, p90 rank 3.7 → 0.8
    assert (by_channel[("phone",)]["frt"]["value"], by_channel[("phone",)]["frt"]["p90"]) \
        == (0.5, 0.8)
    # chat: 4 values in [1, 1.25): 1 + 0.25·2/4 = 1.125 and 1 + 0.25·3.2/4 = 1.2; no ttr
    # on the phone
    assert (by_channel[("chat",)]["frt"]["value"], by_channel[("chat",)]["frt"]["p90"]) \
        == (1.125, 1.2)
    assert by_channel[("chat",)]["ttr"]["value"] == 78.0626
    assert by_channel[("phone",)]["ttr"]["value"] is None


def _bucket_rows_packed(connection: Any, grain: Grain) -> list[Any]:
    h = grain.histogram
    keys = ["timezone", grain.span, "measure", *grain.dimensions]
    return sorted(pack_histograms(connection.execute(
        select(*(h.c[name] for name in [*keys, "bucket", "count"])))))


def _packed(connection: Any, grain: Grain) -> list[Any]:
    p = grain.packed
    keys = ["timezone", grain.span, "measure", *grain.dimensions]
    return sorted((tuple(row[:-1]), bytes(row[-1])) for row in connection.execute(
        select(*(p.c[name] for name in [*keys, "counts"]))))


def test_refresh_keeps_the_packed_histograms_equal_to_the_bucket_rows(
        store: Engine, tmp_path: Path) -> None:
    load(store, WEEK)  # the import hook refreshes every grain
    with store.connect() as connection:
        for grain in (AGENT_GRAIN, TEAM_GRAIN, TEAM_MONTH_GRAIN):
            packed = _packed(connection, grain)
            assert packed and packed == _bucket_rows_packed(connection, grain), grain.name
    # a later contact rebuilds earlier days: the packed rows follow
    late = tmp_path / "late.jsonl"
    late.write_text('{"type": "interaction", "id": "i13", "channel": "phone", '
                    '"customer_id": "c1", "agent_id": "a1", "category": "billing", '
                    '"created_at": "2026-03-08T09:00:00Z", '
                    '"first_response_at": "2026-03-08T09:00:30Z"}\n')
    load(store, late)
    with store.connect() as connection:
        for grain in (AGENT_GRAIN, TEAM_GRAIN, TEAM_MONTH_GRAIN):
            assert _packed(connection, grain) == _bucket_rows_packed(connection, grain)


def _sums_rows_packed(connection: Any, grain: Grain) -> list[Any]:
    r = grain.rollup
    keys = ["timezone", grain.span, *grain.dimensions]
    return sorted(pack_sums(connection.execute(
        select(*(r.c[name] for name in [*keys, *ROLLUP_MEASURES]))), len(keys)))


def _sums_packed(connection: Any, grain: Grain) -> list[Any]:
    p = grain.sums_packed
    keys = ["timezone", grain.span, *grain.dimensions]
    return sorted((tuple(row[:-1]), bytes(row[-1])) for row in connection.execute(
        select(*(p.c[name] for name in [*keys, "sums"]))))


def test_refresh_keeps_the_packed_sums_equal_to_the_sums_rows(
        store: Engine, tmp_path: Path) -> None:
    load(store, WEEK)
    with store.connect() as connection:
        for grain in (AGENT_GRAIN, TEAM_GRAIN, TEAM_MONTH_GRAIN):
            packed = _sums_packed(connection, grain)
            assert packed and packed == _sums_rows_packed(connection, grain), grain.name
        contacts = sum(unpack_sums(sums)["contacts__n"]
                       for _, sums in _sums_packed(connection, TEAM_MONTH_GRAIN))
    assert contacts == 13  # the WEEK fixture's 13 interactions, summed from the month blobs
    late = tmp_path / "late.jsonl"
    late.write_text('{"type": "interaction", "id": "i13", "channel": "phone", '
                    '"customer_id": "c1", "agent_id": "a1", "category": "billing", '
                    '"created_at": "2026-03-08T09:00:00Z", '
                    '"first_response_at": "2026-03-08T09:00:30Z"}\n')
    load(store, late)
    with store.connect() as connection:
        for grain in (AGENT_GRAIN, TEAM_GRAIN, TEAM_MONTH_GRAIN):
            assert _sums_packed(connection, grain) == _sums_rows_packed(connection, grain)


def _old_store(tmp_path: Path, revision: str, insert: str, rows: list[dict[str, Any]]
               ) -> str:
    """A SQLite store at `revision` holding `rows` (inserted by `insert`); its URL."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    command.upgrade(_alembic_config(engine), revision)
    with engine.begin() as connection:
        connection.execute(text(insert), rows)
    engine.dispose()
    return url


def test_migration_0012_packs_the_existing_sums_rows(tmp_path: Path) -> None:
    url = _old_store(
        tmp_path, "0011",
        "INSERT INTO kpi_monthly_rollup_team (timezone, month, team, role, channel, "
        "contacts__n, frt__sum, ces__share_5_7__s) VALUES ('UTC', :month, 't1', "
        "'frontline', :channel, :contacts, :frt, 1)",
        [{"month": "2026-03-01", "channel": "phone", "contacts": 3, "frt": 12.5},
         {"month": "2026-04-01", "channel": "chat", "contacts": 1, "frt": 0.25}])
    engine = open_store(url)
    with engine.connect() as connection:
        assert _sums_packed(connection, TEAM_MONTH_GRAIN) == [
            (("UTC", "2026-03-01", "t1", "frontline", "phone"),
             _float64(contacts__n=3, frt__sum=12.5, ces__share_5_7__s=1)),
            (("UTC", "2026-04-01", "t1", "frontline", "chat"),
             _float64(contacts__n=1, frt__sum=0.25, ces__share_5_7__s=1))]
        assert _sums_packed(connection, TEAM_GRAIN) == []
    command.downgrade(_alembic_config(engine), "0011")
    with engine.connect() as connection:
        names: set[str] = set(connection.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'table'")).scalars())
    assert "kpi_monthly_rollup_team" in names and "kpi_daily_histogram_packed" in names
    assert not {name for name in names if "_sums_" in name}
    engine.dispose()


def test_migration_0011_packs_the_existing_bucket_rows(tmp_path: Path) -> None:
    url = _old_store(
        tmp_path, "0010",
        "INSERT INTO kpi_daily_histogram_team (timezone, day, team, role, channel, measure, "
        "bucket, count) VALUES ('UTC', :day, 't1', 'frontline', 'phone', :measure, :bucket, "
        ":count)",
        [{"day": "2026-03-02", "measure": "frt", "bucket": 2, "count": 3},
         {"day": "2026-03-02", "measure": "frt", "bucket": 0, "count": 1},
         {"day": "2026-03-02", "measure": "ttr", "bucket": 1, "count": 9},
         {"day": "2026-04-30", "measure": "frt", "bucket": 1, "count": 2}])
    engine = open_store(url)  # to the newest revisions
    with engine.connect() as connection:
        assert _packed(connection, TEAM_GRAIN) == [
            (("UTC", "2026-03-02", "frt", "t1", "frontline", "phone"), _int32(1, 0, 3)),
            (("UTC", "2026-03-02", "ttr", "t1", "frontline", "phone"), _int32(0, 9)),
            (("UTC", "2026-04-30", "frt", "t1", "frontline", "phone"), _int32(0, 2))]
        assert _packed(connection, AGENT_GRAIN) == []
    command.downgrade(_alembic_config(engine), "0010")
    with engine.connect() as connection:
        names: set[str] = set(connection.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'table'")).scalars())
    assert "kpi_daily_histogram_team" in names
    assert not {name for name in names if name.endswith("_packed")}
    engine.dispose()


@pytest.mark.parametrize("grain", [AGENT_GRAIN, TEAM_GRAIN, TEAM_MONTH_GRAIN],
                         ids=lambda grain: grain.name)
def test_the_packed_read_uses_the_key(sqlite_store: Engine, grain: Grain) -> None:
    p = grain.packed
    statement = select(p.c.counts).where(p.c.timezone == "UTC", p.c[grain.span] >= "2026-03-01",
                                         p.c[grain.span] < "2026-04-01",
                                         p.c.measure.in_(["frt", "ttr"]))
    with sqlite_store.connect() as connection:
        compiled = statement.compile(connection, compile_kwargs={"literal_binds": True})
        plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {compiled}"))
    assert f"SEARCH {p.name} USING PRIMARY KEY" in plan, plan


@pytest.mark.parametrize("grain", [AGENT_GRAIN, TEAM_GRAIN, TEAM_MONTH_GRAIN],
                         ids=lambda grain: grain.name)
def test_the_packed_sums_read_uses_the_key(sqlite_store: Engine, grain: Grain) -> None:
    p = grain.sums_packed
    statement = select(p.c.sums).where(p.c.timezone == "UTC", p.c[grain.span] >= "2026-03-01",
                                       p.c[grain.span] < "2026-04-01")
    with sqlite_store.connect() as connection:
        compiled = statement.compile(connection, compile_kwargs={"literal_binds": True})
        plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {compiled}"))
    assert f"SEARCH {p.name} USING PRIMARY KEY" in plan, plan
