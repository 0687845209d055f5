"""`servicepulse bench kpi` end to end on tiny data (timings are not asserted, only what the
run measured and that the engine agrees with the hand-written query)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from servicepulse.bench import kpi as bench_kpi


@pytest.fixture
def sections(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    written: dict[str, str] = {}
    monkeypatch.setattr(bench_kpi, "write_section",
                        lambda name, text: written.__setitem__(name, text))
    return written


def test_the_series_compares_the_engine_with_the_hand_written_query(
        tmp_path: Path, sections: dict[str, str]) -> None:
    text = bench_kpi.run_kpi_bench([2_000], None, [], runs=1, postgres_url=None,
                                   workdir=tmp_path, echo=lambda line: None)
    assert sections["kpi"] == text
    assert re.search(r"^\| 2,000 \| [0-9.]+ \|", text, re.MULTILINE)
    # every agent-day's contacts, FCR and FRT median equal the hand-written query's
    agreement = re.search(r"at 2,000: (\d+) agent-days compared, largest difference "
                          r"([0-9.]+)", text)
    assert agreement is not None
    assert int(agreement.group(1)) > 1_000
    assert agreement.group(2) == "0.0000"
    assert "| sqlite |" not in text


def test_a_store_size_outside_the_series_is_loaded_into_the_stores_only(
        tmp_path: Path, sections: dict[str, str]) -> None:
    text = bench_kpi.run_kpi_bench([], None, [2_000], runs=1, postgres_url=None,
                                   workdir=tmp_path, echo=lambda line: None)
    assert "engine on DuckDB (s)" not in text
    assert re.search(r"^\| sqlite \| 2,000 \| [0-9.]+ \| [0-9.]+ \|$", text, re.MULTILINE)
    assert "Rollup at 2,000 interactions (SQLite)" in text
    assert "| by team x day, last 30 days |" in text
