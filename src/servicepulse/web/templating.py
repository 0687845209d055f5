"""Jinja2 templates and the small helpers they use (sparklines are inline SVG, drawn here).

Values reach people through the filters of `servicepulse.kpi.display`, the one formatter the
CLI and the scorecards share, so a duration reads "11.4 h" on every page and in every table:
`{{ seconds | duration }}`, `{{ value | kpi("frt") }}`, `{{ value | unit("percent") }}`,
`{{ change | kpi_change("csat") }}`.

The base template ends every page that shows figures with `figures_as_of_line`: "Figures as
of 14:03:27 (Europe/Berlin)", the moment they were computed (servicepulse.web.cache).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from servicepulse.kpi.display import (
    format_duration,
    format_kpi,
    format_kpi_change,
    format_unit,
    frt_targets_text,
    kpi_note,
)
from servicepulse.kpi.settings import KpiSettings, kpi_settings
from servicepulse.web.cache import as_of_time, figures_as_of

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


def _settings(request: Request | None) -> KpiSettings:
    """The app's KPI settings (the defaults outside the app)."""
    services = getattr(getattr(getattr(request, "app", None), "state", None), "services", None)
    settings = getattr(services, "kpi_settings", None)
    return settings if isinstance(settings, KpiSettings) else kpi_settings()


def first_response_targets(request: Request | None) -> str:
    """'phone 20 s, chat 60 s, email 24 h, social 1 h': the organisation's first-response
    targets (the app's settings; the defaults outside the app)."""
    return frt_targets_text(_settings(request).frt_targets)


def figures_as_of_line(request: Request | None, computed_now: bool = False) -> Markup:
    """'Figures as of 14:03:27 (Europe/Berlin)' in the organisation's time zone: when the
    oldest figures this request was served were computed (a cached view: its computation,
    not this request). A page whose figures are computed for each request (`computed_now`)
    says now; a page that was served no figures says nothing."""
    computed_at = figures_as_of()
    if computed_at is None:
        if not computed_now:
            return Markup("")
        computed_at = time.time()
    timezone = _settings(request).timezone
    at = as_of_time(computed_at, timezone)
    return Markup('<p class="as-of" data-timezone="{tz}">Figures as of <time datetime="{iso}">'
                  '{clock}</time> ({tz})</p>').format(tz=timezone, iso=at.isoformat(),
                                                     clock=at.strftime("%H:%M:%S"))


def two_lines(label: str, longest: int = 18) -> Markup:
    """A header label longer than `longest` characters broken at the space nearest its middle,
    so that wide tables of long KPI names stay narrow ('First response<br>within target')."""
    text = str(escape(label))
    if len(label) <= longest or " " not in label:
        return Markup(text)
    middle = len(text) / 2
    spaces = [i for i, char in enumerate(text) if char == " "]
    cut = min(spaces, key=lambda i: abs(i - middle))
    # the space stays before the break, so the text of the header still reads as one line
    return Markup(f"{text[:cut]} <br>{text[cut + 1:]}")


def median_of(values: Iterable[float | None]) -> float | None:
    """The median of the values that are not None (None when there are none)."""
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


templates.env.globals.update(sparkline=sparkline, query_string=query_string, kpi_note=kpi_note,
                             first_response_targets=first_response_targets,
                             figures_as_of_line=figures_as_of_line, median_of=median_of)
templates.env.filters.update(duration=duration, kpi=kpi, unit=unit, kpi_change=kpi_change,
                             two_lines=two_lines)
