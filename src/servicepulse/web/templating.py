"""Jinja2 templates and the small helpers they use (sparklines are inline SVG, drawn here).

Values reach people through the filters of `servicepulse.kpi.display`, the one formatter the
CLI and the scorecards share, so a duration reads "11.4 h" on every page and in every table:
`{{ seconds | duration }}`, `{{ value | kpi("frt") }}`, `{{ value | unit("percent") }}`,
`{{ change | kpi_change("csat") }}`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from servicepulse.kpi.display import (
    format_duration,
    format_kpi,
    format_kpi_change,
    format_unit,
)

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def sparkline(values: list[float | None], width: int = 120, height: int = 28) -> Markup:
    """A line of the non-null values as an inline SVG (gaps are skipped)."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(points) < 2:
        return Markup(f'<svg class="spark" width="{width}" height="{height}" '
                      'aria-hidden="true"></svg>')
    low = min(v for _, v in points)
    high = max(v for _, v in points)
    span = (high - low) or 1.0
    step = (width - 4) / max(len(values) - 1, 1)
    coords = " ".join(f"{2 + i * step:.1f},{height - 3 - (v - low) / span * (height - 6):.1f}"
                      for i, v in points)
    last_x, last_v = points[-1]
    last_y = height - 3 - (last_v - low) / span * (height - 6)
    return Markup(
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="trend"><polyline fill="none" stroke="currentColor" '
        f'stroke-width="1.5" points="{coords}"/><circle cx="{2 + last_x * step:.1f}" '
        f'cy="{last_y:.1f}" r="2.2" fill="currentColor"/></svg>')


def query_string(base: dict[str, Any], **changes: Any) -> str:
    """`?a=1&b=2` from `base` with `changes` applied (None drops a key; lists repeat)."""
    merged = {**base, **changes}
    pairs: list[tuple[str, str]] = []
    for key, value in merged.items():
        if value is None or value == "":
            continue
        if isinstance(value, list | tuple):
            pairs += [(key, str(v)) for v in value]
        else:
            pairs.append((key, str(value)))
    return "?" + urlencode(pairs) if pairs else ""


def duration(seconds: float | None) -> str:
    return format_duration(seconds)


def kpi(value: float | None, name: str) -> str:
    """`{{ value | kpi("frt") }}`: the value in its KPI's unit."""
    return format_kpi(name, value)


def unit(value: float | None, unit_name: str) -> str:
    """`{{ value | unit("seconds") }}`: the value in an engine unit."""
    return format_unit(unit_name, value)


def kpi_change(change: float | None, name: str) -> str:
    """`{{ change | kpi_change("csat") }}`: a signed change (percentages in points)."""
    return format_kpi_change(name, change)


templates.env.globals.update(sparkline=sparkline, query_string=query_string)
templates.env.filters.update(duration=duration, kpi=kpi, unit=unit, kpi_change=kpi_change)
