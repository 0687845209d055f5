"""A large import refreshes PostgreSQL's planner statistics of the tables it wrote: without
them the KPI queries' plans go wrong until autovacuum runs (a demo scorecard took 360 s)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from servicepulse.ingest import importer
from tests.kpi.helpers import WEEK, load


def _analysed(engine: Engine) -> dict[str, bool]:
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables "
            "WHERE relname IN ('interactions', 'surveys', 'orders')")).all()
    return {str(name): bool(done) for name, done in rows}


@pytest.mark.postgres
def test_a_large_import_analyses_the_tables_it_wrote(postgres_store: Engine,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "ANALYZE_AFTER_ROWS", 10)  # the week holds more rows
    load(postgres_store, WEEK)
    # the week's file holds interactions and surveys, no orders
    assert _analysed(postgres_store) == {"interactions": True, "surveys": True,
                                         "orders": False}


@pytest.mark.postgres
def test_a_small_import_leaves_them_to_autovacuum(postgres_store: Engine) -> None:
    load(postgres_store, WEEK)  # far below ANALYZE_AFTER_ROWS
    assert _analysed(postgres_store) == {"interactions": False, "surveys": False,
                                         "orders": False}
