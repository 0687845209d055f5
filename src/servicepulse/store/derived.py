"""Derived data, checked against the records it is computed from (`servicepulse verify`).

The store keeps data computed from the records on import: the KPI rollups, business-hours
durations, sentiment scores. A crash, a kill or a concurrent import can leave it wrong or
half-written; an import also leaves durable "to do" marks (days whose rollup is stale) that
a later step completes. Each area says how to recompute its data and compare it with what is
stored, as a `DerivedCheck`, in a module of its own area; the composition root (the CLI)
imports those modules and registers their checks here, so this layer knows no area by name.

A check returns `Difference`s: what is stored against what the records give, and `pending`
ones for the durable marks of work not done yet (reported as such, not as a silent
inconsistency). `run_checks` runs the registered checks in order: a check may read what an
earlier one checks (the rollup reads the business-hours durations), so it is given the
earlier checks' differences, and with `repair` each kind is repaired and checked again
before the next kind is checked.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Engine

# done, total, what is being done (e.g. "rollup 2026-01-01 .. 2026-03-03"); no output wanted:
# NO_PROGRESS
Progress = Callable[[int, int, str], None]


def NO_PROGRESS(done: int, total: int, step: str) -> None:
    """A progress callback that shows nothing (pipes, JSON output, tests)."""


@dataclass(frozen=True)
class Difference:
    """One stored value that the records do not give (or one pending mark).

    `day`: the local day (or the month's first day) the value belongs to, ISO; `group`: what
    it is about within its kind (a rollup cell's dimensions, an interaction, a text);
    `stored` / `recomputed`: the two values (None: absent on that side); `detail`: which
    value (a table and measure, a column). `pending`: a durable mark of work not yet done
    (a day marked stale), not a difference between values.
    """

    kind: str
    day: str | None
    group: str
    stored: Any
    recomputed: Any
    detail: str = ""
    pending: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "day": self.day, "group": self.group,
                "stored": _plain(self.stored), "recomputed": _plain(self.recomputed),
                "detail": self.detail, "pending": self.pending}


def _plain(value: Any) -> Any:
    """A value JSON can hold (NaN and infinities as text; mapping keys as text)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


@dataclass
class CheckResult:
    """What one check found: `checked` the number of stored values or rows it compared."""

    checked: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def pending(self) -> list[Difference]:
        return [item for item in self.differences if item.pending]

    @property
    def differing(self) -> list[Difference]:
        return [item for item in self.differences if not item.pending]


class DerivedCheck(Protocol):
    """One kind of derived data: recomputed from the records and compared with the store."""

    name: str  # the kind, as reports show it ("rollup", "business hours", "sentiment")

    def check(self, engine: Engine, progress: Progress,
              earlier: Mapping[str, Sequence[Difference]]) -> CheckResult:
        """Compare every stored value with its recomputation; `earlier`: the differences the
        checks registered before this one found (by kind), for a check that reads them."""
        ...

    def repair(self, engine: Engine, differences: Sequence[Difference]) -> int:
        """Rewrite what differs and complete the pending marks among `differences`; returns
        the number of stored items rewritten (rows, days, texts: the check says which)."""
        ...


DERIVED_CHECKS: list[DerivedCheck] = []


def register_check(check: DerivedCheck) -> DerivedCheck:
    """Add a check (once; a second check of the same kind replaces the first)."""
    for index, known in enumerate(DERIVED_CHECKS):
        if known.name == check.name:
            DERIVED_CHECKS[index] = check
            return check
    DERIVED_CHECKS.append(check)
    return check


@dataclass
class KindReport:
    """One kind's outcome: found before any repair, repaired, and what a check after the
    repair still found (None without a repair)."""

    kind: str
    found: CheckResult
    repaired: int | None = None
    after: CheckResult | None = None

    @property
    def final(self) -> CheckResult:
        return self.after if self.after is not None else self.found

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "checked": self.found.checked,
                                "differences": len(self.found.differing),
                                "pending": len(self.found.pending)}
        if self.after is not None:
            data |= {"repaired": self.repaired,
                     "remaining_differences": len(self.after.differing),
                     "remaining_pending": len(self.after.pending)}
        return data


@dataclass
class VerifyReport:
    kinds: list[KindReport] = field(default_factory=list)
    repair: bool = False

    @property
    def consistent(self) -> bool:
        """True when nothing differs and nothing is pending (after the repair, if any)."""
        return not any(report.final.differences for report in self.kinds)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "consistent": self.consistent, "repair": self.repair,
            "kinds": [report.as_json() for report in self.kinds],
            "differences": [item.as_json() for report in self.kinds
                            for item in report.found.differences]}
        if self.repair:
            data["remaining"] = [item.as_json() for report in self.kinds
                                 for item in report.final.differences]
        return data


def run_checks(engine: Engine, checks: Sequence[DerivedCheck] | None = None, *,
               repair: bool = False, progress: Progress = NO_PROGRESS) -> VerifyReport:
    """Run the checks (default: the registered ones) in order; with `repair`, rewrite what
    differs kind by kind and check that kind again (the next kind is checked against the
    repaired data)."""
    report = VerifyReport(repair=repair)
    earlier: dict[str, list[Difference]] = {}
    for check in (DERIVED_CHECKS if checks is None else checks):
        found = check.check(engine, progress, earlier)
        kind = KindReport(check.name, found)
        if repair:
            kind.repaired = check.repair(engine, found.differences) if found.differences \
                else 0
            kind.after = check.check(engine, progress, earlier) if found.differences \
                else found
        earlier[check.name] = list(kind.final.differing)
        report.kinds.append(kind)
    return report
