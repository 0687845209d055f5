"""CSV downloads: every table the service shows can be had as CSV (one row per table row)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi.responses import Response

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


def kpi_document_rows(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The `servicepulse kpi --format json` rows flattened: group columns, whether the
    period is partial, then per KPI value, n, interval and low-sample flag."""
    out = []
    for row in document.get("rows") or []:
        flat: dict[str, Any] = dict(row.get("group") or {})
        if "partial" in row:
            flat["partial"] = row["partial"]
        for name, result in (row.get("kpis") or {}).items():
            result = result or {}
            ci = result.get("ci")
            low, high = (ci.get("low"), ci.get("high")) if isinstance(ci, dict) else (
                tuple(ci) if isinstance(ci, list | tuple) and len(ci) == 2 else (None, None))
            flat.update({name: result.get("value"), f"{name}_n": result.get("n"),
                         f"{name}_ci_low": low, f"{name}_ci_high": high,
                         f"{name}_low_sample": result.get("low_sample")})
        out.append(flat)
    return out


def all_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns)
