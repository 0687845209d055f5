"""The registry and runner of derived-data checks, with stand-in checks (no area's data)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Engine

from servicepulse.store import derived
from servicepulse.store.derived import (
    NO_PROGRESS,
    CheckResult,
    Difference,
    register_check,
    run_checks,
)


class FakeCheck:
    """Finds `broken` until repaired; records what it was given."""

    def __init__(self, name: str, broken: list[Difference]) -> None:
        self.name = name
        self.broken = list(broken)
        self.earlier: list[dict[str, list[Difference]]] = []
        self.repaired_with: list[Difference] = []

    def check(self, engine: Engine, progress: derived.Progress,
              earlier: Mapping[str, Sequence[Difference]]) -> CheckResult:
        self.earlier.append({kind: list(found) for kind, found in earlier.items()})
        return CheckResult(checked=10, differences=list(self.broken))

    def repair(self, engine: Engine, differences: Sequence[Difference]) -> int:
        self.repaired_with = list(differences)
        self.broken = []
        return len(differences)


WRONG = Difference("first", "2026-03-02", "x", 1.0, 2.0, "a value")
STALE = Difference("second", "2026-03-03", "", None, None, "pending rebuild", pending=True)


def test_register_check_keeps_one_check_per_kind() -> None:
    saved = list(derived.DERIVED_CHECKS)
    try:
        derived.DERIVED_CHECKS.clear()
        one, other, again = FakeCheck("first", []), FakeCheck("second", []), FakeCheck("first", [])
        register_check(one)
        register_check(other)
        register_check(again)
        assert [again, other] == derived.DERIVED_CHECKS
    finally:
        derived.DERIVED_CHECKS[:] = saved


def test_a_check_is_given_what_earlier_checks_found(sqlite_store: Engine) -> None:
    first, second = FakeCheck("first", [WRONG]), FakeCheck("second", [STALE])
    report = run_checks(sqlite_store, [first, second], progress=NO_PROGRESS)
    assert first.earlier == [{}]
    assert second.earlier == [{"first": [WRONG]}]
    assert not report.consistent
    assert report.as_json() == {
        "consistent": False, "repair": False,
        "kinds": [{"kind": "first", "checked": 10, "differences": 1, "pending": 0},
                  {"kind": "second", "checked": 10, "differences": 0, "pending": 1}],
        "differences": [
            {"kind": "first", "day": "2026-03-02", "group": "x", "stored": 1.0,
             "recomputed": 2.0, "detail": "a value", "pending": False},
            {"kind": "second", "day": "2026-03-03", "group": "", "stored": None,
             "recomputed": None, "detail": "pending rebuild", "pending": True}]}


def test_repair_rewrites_each_kind_and_checks_it_again(sqlite_store: Engine) -> None:
    first, second, clean = (FakeCheck("first", [WRONG]), FakeCheck("second", [STALE]),
                            FakeCheck("third", []))
    report = run_checks(sqlite_store, [first, second, clean], repair=True)
    assert first.repaired_with == [WRONG] and second.repaired_with == [STALE]
    assert clean.repaired_with == []  # nothing found: not repaired, not checked again
    # checked again after its repair; the next kind was given what remained (nothing)
    assert first.earlier == [{}, {}]
    assert second.earlier == [{"first": []}, {"first": []}]
    assert clean.earlier == [{"first": [], "second": []}]
    assert report.consistent
    document = report.as_json()
    assert document["kinds"][0] == {"kind": "first", "checked": 10, "differences": 1,
                                    "pending": 0, "repaired": 1, "remaining_differences": 0,
                                    "remaining_pending": 0}
    assert [item["kind"] for item in document["differences"]] == ["first", "second"]
    assert document["remaining"] == []


def test_json_values_are_plain() -> None:
    item = Difference("k", None, "g", float("nan"), {3: 1, 4: 2}, "d")
    assert item.as_json()["stored"] == "nan"
    assert item.as_json()["recomputed"] == {"3": 1, "4": 2}
