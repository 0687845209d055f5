"""The KPI engine's answer as typed objects: a result, its rows, and one figure per KPI.

`servicepulse kpi --format json` and `/api/v1/kpi` publish a JSON document (docs/kpis.md,
"The result"); inside the program the engine returns `KpiResult` instead, so a consumer
reads `row.figure("csat").value` rather than unpacking `document["rows"][0]["kpis"]` by
hand, and a type checker sees what it reads. JSON is made only at the edges (`to_json`) and
read back where a cache keeps it (`from_json`); both give the document exactly: the same
keys in the same order and the same values.

Figures are plain dataclasses with slots, not pydantic models: a scorecard by agent x day
holds tens of thousands of them and each is built by one positional call. The fields every
KPI has are typed attributes; the fields of one kind or one KPI (a distribution's mean and
p90, CSAT's mean score, FRT's per-channel breakdown, ...) stay in `extras` in the
document's order, and `keys` records the document's order of all of them (one tuple shared
by every figure of a KPI), so `to_json` gives back the same keys in the same order.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

Number = int | float

# The document's fields that are typed attributes of a figure (JSON name -> attribute).
STANDARD_FIELDS: Mapping[str, str] = MappingProxyType({
    "value": "value", "n": "n", "ci": "interval", "low_sample": "low_sample",
    "previous": "previous", "change": "change", "significant": "significant",
    "unavailable": "unavailable"})
PREVIOUS_KEYS = ("value", "n")
NO_EXTRAS: Mapping[str, Any] = MappingProxyType({})
# Key tuples read from JSON, kept once each (a document repeats a few layouts many times).
_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {}


def shared_keys(keys: tuple[str, ...]) -> tuple[str, ...]:
    """The one kept copy of a key tuple."""
    return _KEYS.setdefault(keys, keys)


# Key tuple (by identity: figures share one tuple a KPI, and hashing a tuple hashes all its
# strings every time) -> (the tuple, kept alive so its id stays its own; its slots).
_SLOTS: dict[int, tuple[tuple[str, ...], tuple[tuple[str, int], ...]]] = {}


def _slots(keys: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    """Each key with the position of its typed field in STANDARD_FIELDS (-1: an extra),
    worked out once per key tuple (a document has a few)."""
    found = _SLOTS.get(id(keys))
    if found is None or found[0] is not keys:
        order = list(STANDARD_FIELDS)
        found = _SLOTS[id(keys)] = (keys, tuple(
            (key, order.index(key) if key in STANDARD_FIELDS else -1) for key in keys))
    return found[1]


@contextmanager
def no_garbage_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small containers.

    A scorecard document holds about a million dicts and lists; allocating them triggers
    full collections that walk every one of them again (a third of the time), and none of
    them can form a cycle. (Here rather than in `kpi.columns`, which imports numpy: a
    result's JSON is made without it.)
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(slots=True)
class PreviousFigure:
    """The same KPI of the same group in the period before (JSON `previous`)."""

    value: Number | None
    n: int

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "n": self.n}

    def as_figure(self) -> KpiFigure:
        """The previous period as a figure of its own (value and n only)."""
        return KpiFigure(self.value, self.n, keys=PREVIOUS_KEYS)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PreviousFigure:
        return cls(data.get("value"), data.get("n") or 0)


@dataclass(slots=True)
class KpiFigure:
    """One KPI of one group: `value` (None when n = 0), `n`, the 95 % `interval` (JSON
    `ci`; None where the kind has none or too few values), `low_sample` (below the minimum
    sample), the `previous` period's figure, the `change` from it and whether it is
    `significant` (None: not tested); `unavailable` says why a KPI cannot be computed for
    this grouping (then value is None). `extras`: the kind's and the KPI's own fields in
    the document's order; `keys`: every JSON key of the figure in order."""

    value: Number | None
    n: int
    interval: tuple[float, float] | None = None
    low_sample: bool = False
    previous: PreviousFigure | None = None
    change: Number | None = None
    significant: bool | None = None
    unavailable: str | None = None
    extras: Mapping[str, Any] = field(default_factory=lambda: NO_EXTRAS)
    # None (a figure made in code): every field in the standard order, `unavailable` only
    # when set, the extras after `low_sample` (where a KPI's own fields go)
    keys: tuple[str, ...] | None = None

    def reports(self, name: str) -> bool:
        """Whether the figure's document has the field (an unavailable KPI reports no
        `low_sample`, a sum no `ci`)."""
        return name in (self.keys if self.keys is not None else self._standard_keys())

    def extra(self, name: str, default: Any = None) -> Any:
        """A kind's or KPI's own field (`mean`, `p90`, `within_target`, ...)."""
        return self.extras.get(name, default)

    @property
    def ci_low(self) -> float | None:
        return self.interval[0] if self.interval is not None else None

    @property
    def ci_high(self) -> float | None:
        return self.interval[1] if self.interval is not None else None

    @property
    def previous_value(self) -> Number | None:
        return self.previous.value if self.previous is not None else None

    def previous_figure(self) -> KpiFigure:
        """The previous period as a figure of its own: its value and n, no interval (the
        engine gives none for it); value None and n 0 when the figure has no previous
        period. What a consumer judging the period before reads in place of this one."""
        previous = self.previous
        return previous.as_figure() if previous is not None else KpiFigure(None, 0)

    def to_json(self) -> dict[str, Any]:
        """The figure as the document has it (same keys, same order)."""
        interval, previous, extras = self.interval, self.previous, self.extras
        # the typed fields in STANDARD_FIELDS' order: a key's slot picks its value
        values = (self.value, self.n,
                  [interval[0], interval[1]] if interval is not None else None,
                  self.low_sample,
                  {"value": previous.value, "n": previous.n} if previous is not None else None,
                  self.change, self.significant, self.unavailable)
        return {key: values[slot] if slot >= 0 else extras[key]
                for key, slot in _slots(self.keys if self.keys is not None
                                        else self._standard_keys())}

    def _standard_keys(self) -> tuple[str, ...]:
        unavailable = ("unavailable",) if self.unavailable is not None else ()
        return ("value", "n", "ci", "low_sample", *self.extras, "previous", "change",
                "significant", *unavailable)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KpiFigure:
        interval = data.get("ci")
        previous = data.get("previous")
        extras = {key: value for key, value in data.items() if key not in STANDARD_FIELDS}
        return cls(data.get("value"), data.get("n") or 0,
                   (interval[0], interval[1]) if interval is not None else None,
                   bool(data.get("low_sample")),
                   PreviousFigure.from_json(previous) if previous is not None else None,
                   data.get("change"), data.get("significant"), data.get("unavailable"),
                   extras or NO_EXTRAS, shared_keys(tuple(data)))


@dataclass(slots=True)
class KpiRow:
    """One group (and period): its dimension values (`group`: dimension -> value, `period`
    -> the period's first day as ISO text; None for a missing value), its figures by KPI
    name, and whether the period is covered only in part (`partial`; None: not marked)."""

    group: dict[str, Any]
    figures: dict[str, KpiFigure]
    partial: bool | None = None

    def figure(self, name: str) -> KpiFigure | None:
        """The KPI's figure, None when the row has no such KPI."""
        return self.figures.get(name)

    def value(self, name: str) -> Number | None:
        """The KPI's value (None when missing or undefined)."""
        found = self.figures.get(name)
        return found.value if found is not None else None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"group": dict(self.group),
                               "kpis": {name: figure.to_json()
                                        for name, figure in self.figures.items()}}
        if self.partial is not None:
            out["partial"] = self.partial
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KpiRow:
        return cls(dict(data.get("group") or {}),
                   {name: KpiFigure.from_json(figure)
                    for name, figure in (data.get("kpis") or {}).items()},
                   data.get("partial"))


@dataclass(slots=True)
class KpiResult:
    """A KPI query's answer: the range [from_, to) in local days, the grouping (`by`,
    `period`), the filters, the organisation's time zone and the rows. A rollup's answer
    says so (`source`) and lists the days read as of their last rebuild (`stale_days`)."""

    from_: date
    to: date
    by: list[str]
    period: str
    filters: dict[str, list[str]]
    timezone: str
    rows: list[KpiRow] = field(default_factory=list)
    source: str | None = None
    stale_days: list[date] | None = None

    def __iter__(self) -> Iterator[KpiRow]:
        return iter(self.rows)

    # The document's top-level keys, made from to_json() at each call: for tests and scripts
    # that check the JSON shape (`result["rows"][0]["kpis"]`). The program's own modules
    # read the typed fields; this is no way to read figures in a loop.
    def __getitem__(self, key: str) -> Any:
        return self.to_json()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_json().get(key, default)

    def __len__(self) -> int:
        return len(self.rows)

    def totals(self) -> KpiRow | None:
        """The one row of an ungrouped result over one period (None when it has none)."""
        if len(self.rows) > 1:
            raise ValueError(f"totals() of a result with {len(self.rows)} rows: it is "
                             f"grouped by {self.by} and {self.period}")
        return self.rows[0] if self.rows else None

    def figure(self, name: str) -> KpiFigure | None:
        """A KPI's figure in the one row of an ungrouped result (see `totals`)."""
        row = self.totals()
        return row.figure(name) if row is not None else None

    def figures(self) -> dict[str, KpiFigure]:
        """Every figure of the one row of an ungrouped result ({} when it has no row)."""
        row = self.totals()
        return dict(row.figures) if row is not None else {}

    def by_group(self, dimension: str) -> dict[Any, KpiRow]:
        """The rows by their value of one `by` dimension (the last row of a value wins)."""
        return {row.group.get(dimension): row for row in self.rows}

    def to_json(self) -> dict[str, Any]:
        """The document of `servicepulse kpi --format json` (docs/kpis.md)."""
        out: dict[str, Any] = {"from": self.from_.isoformat(), "to": self.to.isoformat(),
                               "by": list(self.by), "period": self.period,
                               "filters": {name: list(values)
                                           for name, values in self.filters.items()},
                               "timezone": self.timezone}
        if self.source is not None:
            out["source"] = self.source
        with no_garbage_collection():
            out["rows"] = [row.to_json() for row in self.rows]
        if self.stale_days is not None:
            out["stale_days"] = [day.isoformat() for day in self.stale_days]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KpiResult:
        stale = data.get("stale_days")
        return cls(date.fromisoformat(str(data["from"])), date.fromisoformat(str(data["to"])),
                   list(data.get("by") or []), str(data.get("period") or "all"),
                   {name: list(values) for name, values in (data.get("filters") or {}).items()},
                   str(data.get("timezone") or "UTC"),
                   [KpiRow.from_json(row) for row in data.get("rows") or []],
                   data.get("source"),
                   [date.fromisoformat(str(day)) for day in stale] if stale is not None
                   else None)
