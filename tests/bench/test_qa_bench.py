"""`servicepulse bench qa` end to end on tiny data, on DuckDB, SQLite and PostgreSQL (timings
are not asserted: what was measured, that the reviews are the importer's, and that every
engine's IQS by agent equals pandas')."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from servicepulse.bench import qa as bench_qa
from tests.conftest import POSTGRES_ADMIN_URL


@pytest.mark.postgres
@pytest.mark.slow
def test_iqs_with_and_without_reviews_on_every_engine(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[tuple[str, str]] = []
    monkeypatch.setattr(bench_qa, "write_section", lambda *section: written.append(section))
    text = bench_qa.run_qa_bench([3_000], runs=1, postgres_url=POSTGRES_ADMIN_URL,
                                 workdir=tmp_path, echo=lambda line: None)
    assert written == [("qa", text)]
    for engine in ("DuckDB over Parquet", "SQLite store", "PostgreSQL store"):
        assert re.search(rf"^\| 3,000 \| 300 \| {engine} \|( [0-9.]+ \|){{4}} [+-]\d+% \| "
                         r"\d+% \|$", text, re.MULTILINE), engine
        agreement = re.search(rf"- {engine} at 3,000: the IQS of (\d+) agents equals "
                              r"pandas' to ([0-9.e+-]+)", text)
        assert agreement is not None, engine
        assert int(agreement.group(1)) > 100  # of 200 agents, most have a review
        assert float(agreement.group(2)) < 1e-3  # the engine reports 4 decimals


def test_the_reviews_carry_the_importers_iqs(tmp_path: Path) -> None:
    bench_qa.generate(tmp_path, 500)
    assert bench_qa.add_reviews(tmp_path, 500) == 50
    reviews = pq.read_table(tmp_path / "qa_reviews.parquet").to_pylist()
    scores = pq.read_table(tmp_path / "qa_review_scores.parquet").to_pylist()
    assert len(scores) == 50 * 5
    percent = {(row["review_id"], row["category"]): row["percent"] for row in scores}
    for review in reviews:
        given = orjson.loads(review["scores"])
        # accuracy (weight 3, 1-5) is critical; greeting, closing 0-2 (weight 1);
        # understanding, tone 0-4 (weight 2)
        if given["accuracy"] == 1:
            expected = 0.0
        else:
            expected = (given["greeting"] / 2 * 100 + given["closing"] / 2 * 100
                        + 2 * given["understanding"] / 4 * 100 + 2 * given["tone"] / 4 * 100
                        + 3 * (given["accuracy"] - 1) / 4 * 100) / 9
        assert review["iqs"] == pytest.approx(expected)
        assert percent[(review["id"], "accuracy")] == (given["accuracy"] - 1) / 4 * 100
        assert percent[(review["id"], "greeting")] == given["greeting"] / 2 * 100


def test_the_queries_take_turns() -> None:
    calls: list[str] = []
    medians = bench_qa.interleaved_medians(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=2)
    assert calls == ["a", "b"] * 3  # a warm-up round, then two measured rounds
    assert set(medians) == {"a", "b"}
