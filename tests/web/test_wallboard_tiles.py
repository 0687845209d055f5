"""The wallboard's KPI tiles come from the exact engine: a record counts in them at once,
before the daily rollup (which the dashboards read) is rebuilt, with the numbers of
`servicepulse kpi --from day --to day+1`."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import orjson
from sqlalchemy import Engine

from servicepulse.ingest.importer import Importer
from servicepulse.ingest.sources import SourceRow
from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.kept_backends import close_backends
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.rollup import refresh_rollups
from servicepulse.web.access import Access
from servicepulse.web.kpi import (
    WALLBOARD_KPIS,
    dashboard_kpi_function,
    engine_kpi_function,
)
from servicepulse.web.runners import RunContext, WallboardRunner
from tests.web.conftest import load_centre

DAY = date(2026, 11, 20)  # the centre fixture has nothing on this day nor the one before


def _call(record_id: str, channel: str, created: str, **times: str) -> dict[str, Any]:
    return {"type": "interaction", "id": record_id, "channel": channel,
            "created_at": f"2026-11-20T{created}Z",
            **{name: f"2026-11-20T{at}Z" for name, at in times.items()}}


def _import(engine: Engine, records: list[dict[str, Any]]) -> None:
    """Imported without the after-import work: the rollup is not rebuilt."""
    rows = [SourceRow("api", index, record, orjson.dumps(record).decode())
            for index, record in enumerate(records)]
    summary = Importer(engine).import_rows(rows, after_import=False)
    assert summary.quarantined == 0, summary.rejected


def _tiles(context: RunContext) -> dict[str, Any]:
    cells = WallboardRunner(context, day=DAY).run_kpis()["cells"]
    return {entry["name"]: entry["value"] for entry in cells}


def test_a_new_record_counts_in_the_tiles_before_the_rollup_is_rebuilt(store: Engine) -> None:
    load_centre(store)
    _import(store, [
        _call("t1", "phone", "10:00:00", answered_at="10:00:10"),  # answered within 20 s
        _call("t2", "phone", "11:00:00", answered_at="11:00:50"),  # answered late
        _call("t3", "chat", "12:00:00", abandoned_at="12:01:00"),  # abandoned after 60 s
    ])
    with store.begin() as connection:
        refresh_rollups(connection)
    context = RunContext(engine=store, kpi=dashboard_kpi_function(), access=Access(),
                         exact_kpi=engine_kpi_function())
    request = KpiQuery.model_validate({"from": DAY, "to": DAY + timedelta(days=1),
                                       "kpis": list(WALLBOARD_KPIS)})
    try:
        # service level: 1 answered within its threshold / (2 answered + 1 abandoned);
        # abandon rate 1 of 3 offered; first response within target: 10 s is within phone's
        # 20 s, 50 s is not (the abandoned chat has no first response): 1 of 2
        third = round(100 / 3, 4)
        assert _tiles(context) == {"service_level": third, "frt_within_target": 50.0,
                                   "abandon_rate": third, "csat": None, "contacts": 3.0}

        _import(store, [_call("t4", "email", "13:00:00", first_response_at="14:00:00")])
        # the email's first response (3600 s) is within email's 24 h: 2 of 3; the voice KPIs stay
        tiles = _tiles(context)
        assert tiles == {"service_level": third, "frt_within_target": round(200 / 3, 4),
                         "abandon_rate": third, "csat": None, "contacts": 4.0}
        # the dashboards' rollup read has not seen it yet (nothing rebuilt it) ...
        dashboard = context.query(request).figures()
        assert dashboard["contacts"].value == 3
        # ... and the tiles are what `servicepulse kpi` says
        exact = run_kpi_query(store, request)
        assert {name: figure.value for name, figure in exact.figures().items()} == tiles
    finally:
        close_backends(store)
