"""CSV downloads: every table the service shows can be had as CSV (one row per table row)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi.responses import Response

from servicepulse.kpi.results import KpiResult
from servicepulse.web.runners import KpiCell, TableOutput


def _cell_text(value: Any) -> Any:
    if isinstance(value, list | tuple | dict):
        return str(value)
    text = "" if value is None else value
    # Spreadsheet formula injection: a cell starting with = + - @ is shown as text.
    if isinstance(text, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def csv_response(rows: Iterable[Mapping[str, Any]], filename: str,
                 columns: Sequence[str] | None = None) -> Response:
    rows = list(rows)
    fields = list(columns or (rows[0].keys() if rows else []))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([_cell_text(row.get(field)) for field in fields])
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def cells_row(prefix: Mapping[str, Any], cells: Sequence[KpiCell]) -> dict[str, Any]:
    row = dict(prefix)
    for kpi in cells:
        row[kpi.name] = kpi.value
        row[f"{kpi.name}_n"] = kpi.n
        row[f"{kpi.name}_ci_low"] = kpi.ci[0] if kpi.ci else None
        row[f"{kpi.name}_ci_high"] = kpi.ci[1] if kpi.ci else None
        row[f"{kpi.name}_low_sample"] = kpi.low_sample
    return row


def table_rows(table: TableOutput, key_name: str) -> list[dict[str, Any]]:
    rows = [cells_row({key_name: row.key, "name": row.label}, row.cells) for row in table.rows]
    rows.append(cells_row({key_name: "(all)", "name": "total"}, table.total))
    return rows


def kpi_result_rows(result: KpiResult) -> list[dict[str, Any]]:
    """A KPI result's rows flattened: group columns, whether the period is partial, then per
    KPI value, n, interval and low-sample flag (empty where the figure has none)."""
    out = []
    for row in result.rows:
        flat: dict[str, Any] = dict(row.group)
        if row.partial is not None:
            flat["partial"] = row.partial
        for name, figure in row.figures.items():
            flat.update({name: figure.value, f"{name}_n": figure.n,
                         f"{name}_ci_low": figure.ci_low, f"{name}_ci_high": figure.ci_high,
                         f"{name}_low_sample": figure.low_sample
                         if figure.reports("low_sample") else None})
        out.append(flat)
    return out


def all_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns)
