"""The KPI bench's generated data reads like a store's Parquet export."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from servicepulse.bench.kpi import generate


def test_missing_times_are_null_not_nan(tmp_path: Path) -> None:
    generate(tmp_path, 2_000)
    interactions = pq.read_table(tmp_path / "interactions.parquet")
    for name in ("answered_at", "abandoned_at", "first_response_at", "resolved_at", "talk_s",
                 "handle_s"):
        column = interactions[name]
        assert column.null_count > 0, name
        assert not pc.any(pc.is_nan(column)).as_py(), name
    # abandoned calls are the voice contacts not answered: none of them has an answer time
    abandoned = pc.is_valid(interactions["abandoned_at"])
    assert not pc.any(pc.and_(abandoned, pc.is_valid(interactions["answered_at"]))).as_py()
