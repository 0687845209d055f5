"""The simulated centre as it stands at a moment, and a feeder that releases the rest as time
passes.

A simulation produces whole days: every contact of today, including those that arrive this
evening, with its answer, resolution and survey. A file that ends "now" must hold only what
has happened by now, and a live demo must then deliver the rest when its time comes. Both
rest on one function, `record_as_of(item, moment)`: the record as a source system would have
shown it at `moment` (None while it does not exist yet). A call answered at 10:02 and
finished at 10:09 is, at 10:05, an answered interaction without its durations, its agent in
an open `handling` state; at 10:10 the interaction has its `talk_s` and the state its end.

Shifts are the schedule: they are known a day ahead (released 24 h before they start), so
the staffing plan of today sees today's shifts.

All times written by the simulator are ISO 8601 UTC text of one fixed form
(`2026-12-07T09:30:00Z`), so "at or before the moment" is a comparison of strings.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from servicepulse.simulate.config import SimulationConfig

Record = dict[str, Any]

log = logging.getLogger(__name__)

LOOKAHEAD_DAYS = 2  # days simulated beyond the moment shown (work received now, done later)
SHIFT_NOTICE_S = 86_400  # a shift is published this long before it starts

# The time that says when a record of each kind happened (its release time).
_TIME_FIELD = {
    "event": "at",
    "survey": "submitted_at",
    "order": "at",
    "social_post": "posted_at",
    "social_mention": "at",
    "qa_review": "at",
}
_STATIC = frozenset({"team", "calendar", "agent", "qa_form"})


def iso(moment: datetime | int | float) -> str:
    """A moment (aware datetime or epoch seconds) as the simulator writes times."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(int(moment), UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def _shift_by(text: str, seconds: int) -> str:
    return iso(_epoch(text) + seconds)


@dataclass
class Item:
    """One record and, for an interaction, its events (their times shape what it shows)."""

    record: Record
    events: list[Record] = field(default_factory=list)

    def change_times(self) -> list[str]:
        """The moments at which what this record shows changes, in order."""
        record = self.record
        kind = record["type"]
        if kind in _STATIC:
            return [""]  # always there
        if kind == "customer":
            return [t for t in (record.get("acquired_at"), record.get("churned_at")) if t]
        if kind == "agent_state":
            return [record["start"], record["end"]] if record.get("end") else [record["start"]]
        if kind == "shift":
            return [_shift_by(record["start"], -SHIFT_NOTICE_S)]
        if kind == "interaction":
            times = {record["created_at"], *(e["at"] for e in self.events)}
            done = _work_done(record)
            if done is not None:
                times.add(done)
            return sorted(times)
        return [record[_TIME_FIELD[kind]]]


def _work_done(record: Record) -> str | None:
    """When a call or chat's talk, hold and wrap-up are over (its durations are then known)."""
    if record.get("answered_at") is None or "talk_s" not in record:
        return None
    seconds = record["talk_s"] + record.get("hold_s", 0) + record.get("wrap_s", 0)
    return _shift_by(record["answered_at"], int(seconds))


def record_as_of(item: Item, moment: str) -> Record | None:
    """The record as it stood at `moment` (ISO text, see `iso`), or None before it exists."""
    record = item.record
    kind = record["type"]
    if kind in _STATIC:
        return record
    if kind == "customer":
        if record.get("acquired_at", "") > moment:
            return None
        if record.get("churned_at", "") > moment:
            return {k: v for k, v in record.items() if k != "churned_at"}
        return record
    if kind == "agent_state":
        if record["start"] > moment:
            return None
        if record.get("end") and record["end"] > moment:
            return {k: v for k, v in record.items() if k != "end"}  # still open
        return record
    if kind == "shift":
        return record if item.change_times()[0] <= moment else None
    if kind == "interaction":
        return _interaction_as_of(item, moment)
    return record if record[_TIME_FIELD[kind]] <= moment else None


def _interaction_as_of(item: Item, moment: str) -> Record | None:
    record = item.record
    if record["created_at"] > moment:
        return None
    seen = [e for e in item.events if e["at"] <= moment]
    if len(seen) == len(item.events):
        done = _work_done(record)
        if done is None or done <= moment:
            return record  # everything has happened
    out = dict(record)
    for name in ("answered_at", "first_response_at", "abandoned_at"):
        if name in out and out[name] > moment:
            del out[name]
    # Resolution as the events tell it so far (a reopen after the last resolve leaves it open).
    resolved: str | None = None
    reopens = transfers = 0
    escalated = False
    for event in sorted(seen, key=lambda e: (e["at"], e["id"])):
        kind = event["kind"]
        if kind == "resolved":
            resolved = event["at"]
        elif kind == "reopened":
            resolved, reopens = None, reopens + 1
        elif kind == "transferred":
            transfers += 1
        elif kind == "escalated":
            escalated = True
    for name, value in (("resolved_at", resolved), ("reopens", reopens),
                        ("transfers", transfers), ("escalated", escalated)):
        if value:
            out[name] = value
        else:
            out.pop(name, None)
    done = _work_done(record)
    if done is not None and done > moment:
        for name in ("talk_s", "hold_s", "wrap_s"):
            out.pop(name, None)
    if "handle_s" in out and "first_response_at" not in out:
        out.pop("handle_s")
    if "answered_at" not in out and "first_response_at" not in out:
        out.pop("agent_id", None)  # nobody has taken it yet
    if "abandoned_at" in out:
        out["status"] = "abandoned"
    else:
        out["status"] = "solved" if resolved else "open"
    return out


def items(records: Iterable[Record]) -> Iterator[Item]:
    """Records grouped as the simulator writes them: an interaction with the events that
    follow it (each event is also an item of its own, after its interaction)."""
    pending: Item | None = None
    held: list[Item] = []
    for record in records:
        if record["type"] == "event" and pending is not None \
                and record["interaction_id"] == pending.record["id"]:
            pending.events.append(record)
            held.append(Item(record))
            continue
        if pending is not None:
            yield pending
            yield from held
            pending, held = None, []
        if record["type"] == "interaction":
            pending = Item(record)
        else:
            yield Item(record)
    if pending is not None:
        yield pending
        yield from held


def records_as_of(records: Iterable[Record], moment: str) -> Iterator[Record]:
    """The records as they stood at `moment`, in the order given (those not yet there left
    out)."""
    for item in items(records):
        view = record_as_of(item, moment)
        if view is not None:
            yield view


# -- the live feed ---------------------------------------------------------------------------

@dataclass(order=True)
class _Due:
    at: str
    seq: int
    item: Item = field(compare=False)


class LiveFeed:
    """Releases a simulation's records as their time comes.

    `fed_until` is the moment up to which the store already holds the simulation (the moment
    the demo file was written as of). `due(until)` returns every record whose view changed
    after `fed_until` and by `until`, as it stands at `until`, and moves `fed_until` on. Days
    are simulated lazily, `lookahead_days` ahead of the moment asked for (an email received
    tonight and answered tomorrow is written with tomorrow's day)."""

    def __init__(self, config: SimulationConfig, fed_until: datetime,
                 lookahead_days: int = LOOKAHEAD_DAYS) -> None:
        from servicepulse.simulate.engine import Simulation

        self.config = config
        self.fed_until = iso(fed_until)
        self.lookahead_days = lookahead_days
        self._blocks = Simulation(config).blocks()
        self._simulated_day: date | None = None  # the last local day simulated so far
        self._finished = False
        self._heap: list[_Due] = []
        self._seq = 0

    @property
    def last_day(self) -> date:
        return self.config.start + timedelta(days=self.config.days - 1)

    @property
    def exhausted(self) -> bool:
        """Every simulated day is simulated and every record released."""
        return self._finished and not self._heap

    def _simulate_through(self, day: date) -> None:
        """Simulate (and schedule) every day up to `day` included."""
        while not self._finished and (self._simulated_day is None or self._simulated_day <= day):
            block_day, block = next(self._blocks, (None, None))
            if block is None or block_day is None:
                self._finished = True
                return
            self._simulated_day = self.config.start + timedelta(days=block_day)
            for item in items(block):
                self._schedule(item, self.fed_until)

    def _schedule(self, item: Item, after: str) -> None:
        upcoming = [t for t in item.change_times() if t > after]
        if upcoming:
            self._seq += 1
            heapq.heappush(self._heap, _Due(upcoming[0], self._seq, item))

    def due(self, until: datetime) -> list[Record]:
        """The records to import so that the store shows the simulation as of `until`."""
        moment = iso(until)
        self._simulate_through(until.date() + timedelta(days=self.lookahead_days))
        out: list[Record] = []
        heap = self._heap
        while heap and heap[0].at <= moment:
            item = heapq.heappop(heap).item
            view = record_as_of(item, moment)
            if view is not None:
                out.append(view)
            self._schedule(item, moment)
        if moment > self.fed_until:
            self.fed_until = moment
        return out


# -- the feeder: a live feed into the store, tick by tick ------------------------------------

def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class TickResult:
    """What one tick imported: records per kind, and up to when."""

    until: datetime
    by_kind: dict[str, int]
    quarantined: int


class Feeder:
    """Imports a `LiveFeed` into a store through the Importer (so rollups, sentiment and
    alert marks follow, as for any import), every `interval_s` seconds on a thread of its
    own. `report` receives one line a minute saying what was fed (and any problem)."""

    def __init__(self, feed: LiveFeed, engine: Any, interval_s: float = 5.0,
                 report: Callable[[str], None] | None = None,
                 clock: Callable[[], datetime] = _now, report_every_s: float = 60.0,
                 after_tick: Callable[[TickResult], None] | None = None) -> None:
        """`after_tick` runs on the feed's thread after each tick that imported something
        (the demo checks the alert rules the import queued)."""
        self.feed = feed
        self.after_tick = after_tick
        self.engine = engine
        self.interval_s = interval_s
        self.report = report or log.info
        self.clock = clock
        self.report_every_s = report_every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fed: dict[str, int] = {}
        self._unimported: list[Record] = []
        self._last_report = time.monotonic()

    def tick(self, until: datetime | None = None) -> TickResult:
        """Import what is due by `until` (default: now)."""
        from servicepulse.ingest.importer import Importer
        from servicepulse.ingest.sources import SourceRow

        moment = until or self.clock()
        # What a failed tick could not import goes first (a later version of the same record
        # in this tick then wins, as the later line of a file does).
        records = self._unimported + self.feed.due(moment)
        self._unimported = records
        by_kind: dict[str, int] = {}
        for record in records:
            by_kind[record["type"]] = by_kind.get(record["type"], 0) + 1
        quarantined = 0
        if records:
            rows = [SourceRow("demo-feed", None, record, orjson.dumps(record).decode())
                    for record in records]
            quarantined = Importer(self.engine).import_rows(rows).quarantined
        self._unimported = []
        return TickResult(moment, by_kind, quarantined)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="servicepulse-demo-feed",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                result = self.tick()
            except Exception as exc:  # a busy store (locked) or a bug: say so, keep going
                log.exception("demo feed tick failed")
                self.report(f"demo feed: a tick failed ({type(exc).__name__}: {exc}); "
                            "retrying")
                continue
            for kind, count in result.by_kind.items():
                self._fed[kind] = self._fed.get(kind, 0) + count
            if self.after_tick is not None and result.by_kind:
                try:
                    self.after_tick(result)
                except Exception as exc:
                    log.exception("demo feed: after-tick step failed")
                    self.report(f"demo feed: after the import, {type(exc).__name__}: {exc}")
            if result.quarantined:
                self.report(f"demo feed: {result.quarantined} records quarantined "
                            "(see `servicepulse quarantine list`)")
            if time.monotonic() - self._last_report >= self.report_every_s:
                self._last_report = time.monotonic()
                self.report(describe_fed(self._fed, result.until))
                self._fed = {}
            if self.feed.exhausted:
                self.report(f"demo feed: the simulated days end on {self.feed.last_day}; "
                            "run `servicepulse demo` again to simulate anew")
                return


def describe_fed(by_kind: dict[str, int], until: datetime) -> str:
    """One line: what the feed delivered (records: new ones and updates)."""
    names = (("interaction", "contacts"), ("event", "events"), ("agent_state", "agent states"),
             ("survey", "surveys"))
    parts = [f"{by_kind.get(kind, 0):,} {label}" for kind, label in names]
    others = sum(v for k, v in by_kind.items() if k not in dict(names))
    if others:
        parts.append(f"{others:,} other")
    return f"demo feed: {', '.join(parts)} (new or updated) up to {until:%H:%M:%S} UTC"
