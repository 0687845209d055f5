"""The simulation itself: a day-by-day discrete-event contact centre.

Per team and local day:
1. Shifts: each working agent of a queue gets an 8.5 h shift placed (greedily) to follow the
   queue's intraday demand curve, with two breaks, lunch, a weekly team meeting and occasional
   training. The rest of the shift is the agent's working windows.
2. Arrivals: phone and chat arrive per 15-minute slot as a Poisson process sized so that the
   staffed capacity runs at the target occupancy, shaped by the intraday curve and a weekday
   factor (Mondays are busy). Email, web, sms and social arrive around the clock and wait in a
   backlog that carries over between days. Repeat contacts scheduled by earlier days join in.
3. Queues: phone and chat are served first-come-first-served by the agent free earliest (the
   exact multi-server FCFS recursion, with a heap), callers abandon when their patience runs
   out, an agent never takes a call that would run into a break or past the shift end, and an
   agent flagged `priority` takes any call that arrives while they are free. The backlog is
   served the same way without abandons, with a short pick-up gap between items.
4. Outcomes: handle times by channel, category and agent speed; resolution, transfers,
   escalations, reopens and repeat contacts driven by agent skill and category; surveys whose
   scores follow the outcome and the wait.
5. States: each agent's timeline is rebuilt from the work they were given, so handling and
   after-call work sit exactly where the calls were, and breaks and idle time fill the rest of
   the shift.

All randomness comes from one numpy Generator seeded by the config, drawn in a fixed order, so a
seed gives a byte-identical file. Times are whole epoch seconds throughout.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from servicepulse.simulate.config import SimulationConfig
from servicepulse.simulate.org import (
    NEVER,
    SEGMENTS,
    Customers,
    GroupSpec,
    Organisation,
    build_customers,
    build_organisation,
    customer_records,
    holiday_dates,
)
from servicepulse.simulate.qa import QaReviews, qa_forms
from servicepulse.simulate.texts import (
    CATEGORIES,
    ISSUES,
    MENTIONS,
    SURVEY_COMMENTS,
    TONES,
    agent_replies,
    build_banks,
)

Record = dict[str, Any]

SLOT = 900  # arrival slots of 15 minutes
SLOTS = 96
SHIFT_LENGTH = 30_600  # 8.5 h
# Offsets inside a shift: two short breaks and lunch (all `break`), a weekly meeting, training.
_BREAKS = ((7_200, 8_100), (15_300, 17_100), (24_300, 25_200))
_MEETING = (3_600, 5_400)
_TRAINING = (18_000, 21_600)
WORK_SECONDS = SHIFT_LENGTH - 3_600

# Per category (order of texts.CATEGORIES): billing, delivery, returns, technical, account,
# cancellation.
_TALK_MEDIAN = np.array([300.0, 210.0, 240.0, 480.0, 240.0, 360.0])
_HOLD_SHARE = np.array([0.25, 0.20, 0.15, 0.45, 0.15, 0.30])
_HANDLE_MEDIAN = np.array([330.0, 240.0, 270.0, 480.0, 240.0, 300.0])
_DIFFICULTY = [0.03, 0.02, 0.0, 0.12, 0.0, 0.05]
_ESCALATION = [0.02, 0.03, 0.01, 0.15, 0.01, 0.04]
_ISSUE_COUNTS = np.array([len(ISSUES[c]) for c in CATEGORIES])
_CHANNEL_HANDLE = {"email": 1.0, "web": 1.0, "sms": 0.5, "social": 0.6}
_TALK_SIGMA, _HOLD_MEDIAN, _HOLD_SIGMA, _WRAP_SIGMA, _HANDLE_SIGMA = 0.5, 60.0, 0.6, 0.4, 0.55
_WRAP_MEDIAN = {"phone": 45.0, "chat": 30.0}
_CHAT_TALK = 1.3  # a chat lasts longer than a call about the same thing
# Mean seconds before a waiting customer gives up (exponential patience; call-centre studies
# find means of several minutes, chat customers wait longer while doing something else).
_PATIENCE = {"phone": 540.0, "chat": 900.0, "technical": 900.0}
_PICKUP_GAP = (5, 25)  # seconds between backlog items

# Intraday demand by local hour.
_HOURLY = {
    "phone": [
        0,
        0,
        0,
        0,
        0,
        0,
        0.2,
        0.5,
        0.8,
        1.0,
        1.15,
        1.1,
        0.9,
        0.95,
        1.05,
        1.0,
        0.9,
        0.75,
        0.6,
        0.45,
        0.35,
        0.25,
        0.15,
        0.05,
    ],
    "chat": [
        0.1,
        0.05,
        0.05,
        0.05,
        0.05,
        0.1,
        0.2,
        0.35,
        0.6,
        0.8,
        0.9,
        0.95,
        0.9,
        0.9,
        0.95,
        1.0,
        1.0,
        0.95,
        0.95,
        1.0,
        1.0,
        0.85,
        0.6,
        0.3,
    ],
    "email": [
        0.15,
        0.1,
        0.08,
        0.07,
        0.07,
        0.1,
        0.25,
        0.5,
        0.85,
        1.0,
        1.0,
        0.95,
        0.85,
        0.9,
        0.95,
        0.9,
        0.85,
        0.75,
        0.65,
        0.6,
        0.55,
        0.45,
        0.35,
        0.25,
    ],
    "social": [
        0.3,
        0.2,
        0.1,
        0.05,
        0.05,
        0.1,
        0.2,
        0.4,
        0.6,
        0.7,
        0.8,
        0.85,
        0.9,
        0.85,
        0.85,
        0.9,
        0.95,
        1.0,
        1.1,
        1.2,
        1.2,
        1.1,
        0.8,
        0.5,
    ],
}
_CURVES = {name: np.repeat(np.array(values, dtype=float), 4) for name, values in _HOURLY.items()}
# Weekday factors (Monday first): queues in real time, and backlog channels.
_WEEKDAY_SYNC = [1.08, 1.03, 1.0, 0.99, 0.96, 0.9, 0.85]
_BETA = 0.6  # square-root staffing safety factor
_WEEKDAY_ASYNC = [1.25, 1.1, 1.0, 0.98, 0.92, 0.7, 0.6]
_TONE_P = [0.25, 0.5, 0.25]
_PLATFORMS = ("twitter", "facebook", "instagram", "linkedin", "tiktok")


def _lognormal_mean(median: float, sigma: float) -> float:
    return median * math.exp(sigma * sigma / 2)


def make_clock(first: int, last: int) -> Callable[[int], str]:
    """Epoch seconds -> ISO 8601 UTC text, fast: one table for dates, one for times of day
    (a million contacts format about ten million times)."""
    first_day = first // 86_400
    epoch = date(1970, 1, 1)
    days = [
        (epoch + timedelta(days=first_day + i)).isoformat()
        for i in range(last // 86_400 - first_day + 1)
    ]
    times = [f"T{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60) for s in range(60)]

    def iso(
        t: int, _days: list[str] = days, _times: list[str] = times, _first: int = first_day
    ) -> str:
        return _days[t // 86_400 - _first] + _times[t % 86_400]

    return iso


class Contact:
    """One inbound contact on its way through a queue; results are filled in by the queue."""

    __slots__ = (
        "agent",
        "category",
        "channel",
        "created",
        "customer",
        "gap",
        "group",
        "handle",
        "handle_b",
        "hold",
        "hold_b",
        "issue",
        "message",
        "patience",
        "repeat",
        "start",
        "talk",
        "talk_b",
        "tone",
        "wrap",
        "wrap_b",
    )
    group: int
    channel: str
    created: int
    customer: int  # index into Customers, -1 when anonymous
    category: int  # index into CATEGORIES
    issue: int
    tone: int  # index into TONES
    message: int  # picks the message from its bank
    repeat: bool  # the customer is coming back about the same thing
    # Agent-independent draws; the agent's speed scales them into the actual durations.
    talk_b: float
    hold_b: float
    wrap_b: float
    handle_b: float
    patience: float
    gap: int
    # Results: agent index (-1: abandoned or not reached), start (answer or abandon time).
    agent: int
    start: int
    talk: int
    hold: int
    wrap: int
    handle: int

    def __init__(self) -> None:
        self.agent = -1
        self.start = 0
        self.talk = self.hold = self.wrap = self.handle = 0


class Activity:
    """A side activity in a shift (break, meeting, training)."""

    __slots__ = ("end", "start", "state")

    def __init__(self, start: int, end: int, state: str) -> None:
        self.start, self.end, self.state = start, end, state


class AgentDay:
    """An agent's shift on one day: working windows, work given, and side activities."""

    __slots__ = ("after", "agent", "aux", "end", "free", "jobs", "planned", "speed", "start",
                 "wi", "windows")

    def __init__(
        self, agent: int, speed: float, start: int, end: int, aux: list[tuple[int, int, str]]
    ) -> None:
        self.agent, self.speed, self.start, self.end = agent, speed, start, end
        self.aux = [Activity(a, b, state) for a, b, state in aux]  # may be delayed
        self.planned = list(aux)  # as scheduled: the shift's activities (adherence)
        # Working windows; each but the last is followed by one side activity (`after`).
        self.windows: list[list[int]] = []
        self.after: list[int] = []
        cursor = start
        for j, (a, b, _state) in enumerate(aux):
            if a > cursor:
                self.windows.append([cursor, a])
                self.after.append(j)
            cursor = max(cursor, b)
        if end > cursor:
            self.windows.append([cursor, end])
            self.after.append(-1)
        self.wi = 0
        self.free = self.windows[0][0] if self.windows else end
        self.jobs: list[tuple[int, int, int]] = []  # (start, handling end, wrap end)

    def fit(self, t: int, total: int) -> int:
        """Earliest start >= t (and >= free) at which the agent can take a job of `total`
        seconds, or -1 for none today. A job may run into a break (the break then starts when
        the job ends, see `take`) but never past the shift end: near the end of the shift the
        agent stops taking work that would not fit."""
        start = t if t > self.free else self.free
        windows = self.windows
        while self.wi < len(windows):
            s, e = windows[self.wi]
            if start < s:
                start = s
            if start + total <= e or (start < e and self._can_delay(start + total)):
                return start
            self.wi += 1
        return -1

    def _can_delay(self, job_end: int) -> bool:
        """Whether the side activity after the current window can start at `job_end` and
        still end well before the next window does (one activity between the windows)."""
        j = self.after[self.wi]
        if j < 0:
            return False
        block = self.aux[j]
        following = self.windows[self.wi + 1]
        return following[0] == block.end and job_end + block.end - block.start < following[1] - 300

    def take(self, start: int, end: int, busy_end: int, wrap_end: int) -> None:
        """Record a job [start, wrap_end); the agent is free again at `end` (after any
        pick-up gap). A job overrunning its window delays the next break or meeting."""
        self.jobs.append((start, busy_end, wrap_end))
        window = self.windows[self.wi]
        if wrap_end > window[1]:
            block = self.aux[self.after[self.wi]]
            length = block.end - block.start
            block.start, block.end = wrap_end, wrap_end + length
            window[1] = wrap_end
            self.windows[self.wi + 1][0] = block.end
            end = max(end, block.end)
        self.free = end


def run_queue(
    contacts: list[Contact], agents: list[AgentDay], priority: list[AgentDay], sync: bool
) -> list[Contact]:
    """Assign each contact (in arrival order) to the agent who can start it earliest; an
    agent in `priority` wins ties (so takes every contact that arrives while they are free).

    Sync: a contact whose wait would exceed its patience abandons (agent stays -1, start =
    abandon time). Async: contacts no agent can take today are returned (the backlog)."""
    heap = [(ad.free, k) for k, ad in enumerate(agents) if ad.windows]
    heapq.heapify(heap)
    for position, c in enumerate(contacts):
        t = c.created
        deadline = t + c.patience if sync else NEVER
        best_t = -1
        best: AgentDay | None = None
        heap_key = -1
        for ad in priority:
            total = _job_seconds(c, ad.speed, sync)
            start = ad.fit(t, total)
            if start >= 0 and start <= deadline and (best is None or start < best_t):
                best, best_t = ad, start
        while heap:
            free, k = heap[0]
            ad = agents[k]
            start = free if free > t else t
            if start > deadline or (best is not None and start >= best_t):
                break
            total = _job_seconds(c, ad.speed, sync)
            fitted = ad.fit(t, total)
            if fitted == start:
                best, best_t, heap_key = ad, start, k
                break
            if fitted < 0:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (fitted, k))
        if best is None:
            if sync:
                c.agent = -1
                c.start = int(deadline)
                continue
            return contacts[position:]
        _assign(c, best, best_t, sync)
        if heap_key >= 0:
            heapq.heapreplace(heap, (best.free, heap_key))
    return []


def _job_seconds(c: Contact, speed: float, sync: bool) -> int:
    if sync:
        talk = max(20, round(c.talk_b * speed))
        hold = round(c.hold_b * speed)
        wrap = max(5, round(c.wrap_b * speed))
        return talk + hold + wrap
    return max(30, round(c.handle_b * speed)) + c.gap


def _assign(c: Contact, ad: AgentDay, start: int, sync: bool) -> None:
    c.agent = ad.agent
    c.start = start
    speed = ad.speed
    if sync:
        c.talk = max(20, round(c.talk_b * speed))
        c.hold = round(c.hold_b * speed)
        c.wrap = max(5, round(c.wrap_b * speed))
        busy_end = start + c.talk + c.hold
        end = busy_end + c.wrap
        ad.take(start, end, busy_end, end)
    else:
        c.handle = max(30, round(c.handle_b * speed))
        end = start + c.handle
        ad.take(start, end + c.gap, end, end)


BLEND_SHARE = 0.9  # of that spare time, the share the email volume grows by (not all fits)
BLEND_MIN_GAP = 300  # a phone or chat agent picks up an email only in a quiet stretch this long


def _idle_gaps(ad: AgentDay) -> list[tuple[int, int]]:
    """The agent's free stretches (working windows minus the work given) of at least
    BLEND_MIN_GAP seconds."""
    busy = sorted((start, end) for start, _busy_end, end in ad.jobs)
    gaps: list[tuple[int, int]] = []
    j = 0
    for s, e in ad.windows:
        cursor = s
        while j < len(busy) and busy[j][1] <= s:
            j += 1
        k = j
        while k < len(busy) and busy[k][0] < e:
            if busy[k][0] - cursor >= BLEND_MIN_GAP:
                gaps.append((cursor, busy[k][0]))
            cursor = max(cursor, busy[k][1])
            k += 1
        if e - cursor >= BLEND_MIN_GAP:
            gaps.append((cursor, e))
    return gaps


def _spare_seconds(ad: AgentDay, target: float) -> float:
    """Work that would bring the agent's day to the target occupancy (0 if it is there)."""
    window = sum(e - s for s, e in ad.windows)
    busy = sum(end - start for start, _busy_end, end in ad.jobs)
    return max(0.0, target * window - busy)


class _GapDay(AgentDay):
    """A phone or chat agent's quiet stretches, offered to the email queue: a job must fit
    inside one (it never delays the agent's calls or breaks)."""

    __slots__ = ("budget", "day")

    def __init__(self, day: AgentDay, gaps: list[tuple[int, int]], budget: float) -> None:
        self.day = day
        self.budget = budget  # seconds of email work that bring the day to the target
        if not gaps:
            super().__init__(day.agent, day.speed, day.start, day.start, [])
            return
        between = [(a[1], b[0], "busy") for a, b in itertools.pairwise(gaps)]
        super().__init__(day.agent, day.speed, gaps[0][0], gaps[-1][1], between)

    def fit(self, t: int, total: int) -> int:
        """The earliest stretch the job fits in whole (a long email skips a short stretch
        that a shorter one may still use)."""
        if self.budget <= 0:
            return -1
        earliest = t if t > self.free else self.free
        windows = self.windows
        while self.wi < len(windows) and windows[self.wi][1] <= earliest:
            self.wi += 1
        for s, e in windows[self.wi :]:
            start = earliest if earliest > s else s
            if start + total <= e:
                return start
        return -1

    def take(self, start: int, end: int, busy_end: int, wrap_end: int) -> None:
        self.jobs.append((start, busy_end, wrap_end))
        self.budget -= wrap_end - start
        self.free = end


class Simulation:
    """Builds the organisation and customers, then yields records block by block."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        self.org: Organisation = build_organisation(config, self.rng)
        teams = self.org.teams
        self.zones = [ZoneInfo(t.calendar.timezone) for t in teams]
        self.dates = [config.start + timedelta(days=d) for d in range(config.days + 1)]
        # Local day d of a team starts at base[team][d] (local noon minus 12 h: exact except
        # in the small hours of a daylight-saving change, when nobody works).
        self.base = [
            [
                int(datetime.combine(d, time(12), tzinfo=zone).timestamp()) - 43_200
                for d in self.dates
            ]
            for zone in self.zones
        ]
        self.window_start = min(b[0] for b in self.base)
        self.window_end = max(b[-1] for b in self.base)
        self.iso = make_clock(self.window_start - 3 * 366 * 86_400, self.window_end + 60 * 86_400)
        self.holidays = [holiday_dates(t.calendar) for t in teams]
        self.customers: Customers = build_customers(
            self._customer_count(), self.window_start, self.window_end, self.rng
        )
        self.banks = build_banks(False)
        self.banks_es = build_banks(True)
        self.replies = agent_replies(False)
        self.replies_es = agent_replies(True)
        self.pending: dict[tuple[int, int], list[tuple[int, int, int, int, str | None]]] = {}
        self.backlog: dict[int, list[Contact]] = {g.index: [] for g in self.org.groups}
        self.counters = {
            "interaction": 0,
            "survey": 0,
            "state": 0,
            "shift": 0,
            "order": 0,
            "post": 0,
            "mention": 0,
        }
        self.shift_cache: dict[tuple[int, int, int, str], list[int]] = {}
        self.orders_today: list[tuple[int, Record]] = []
        self.mentions_today: list[tuple[int, Record]] = []
        self.technical = self.org.technical_agents or [
            a.index for a in self.org.agents if a.role == "frontline"
        ]
        self.qa = QaReviews(self.org, config.seed)
        self._today = 0
        self._seed_backlogs()

    # --- sizes -------------------------------------------------------------------------
    def _aht(self, group: GroupSpec) -> float:
        """Expected seconds of agent work per contact at speed 1 (sync: talk+hold+wrap)."""
        weights = np.array(group.category_weights)
        if group.sync:
            channel = group.channels[0]
            talk = (
                _lognormal_mean(1.0, _TALK_SIGMA)
                * _TALK_MEDIAN
                * (_CHAT_TALK if channel == "chat" else 1.0)
            )
            hold = _HOLD_SHARE * _lognormal_mean(_HOLD_MEDIAN, _HOLD_SIGMA)
            wrap = _lognormal_mean(_WRAP_MEDIAN[channel], _WRAP_SIGMA)
            return float(weights @ (talk + hold) + wrap)
        channel_factor = sum(
            w * _CHANNEL_HANDLE[ch]
            for ch, w in zip(group.channels, group.channel_weights, strict=True)
        )
        handle = weights @ (_HANDLE_MEDIAN * _lognormal_mean(1.0, _HANDLE_SIGMA))
        return float(handle * channel_factor)

    def _customer_count(self) -> int:
        # About one contact a customer a month: size the base from the expected volume.
        expected = 0.0
        for group in self.org.groups:
            per_day = WORK_SECONDS * self.config.target_occupancy / (self._aht(group) + 25)
            expected += per_day * len(group.agents) * 5 / 7 * self.config.days
        return max(200, int(expected * 30 / self.config.days))

    def _seed_backlogs(self) -> None:
        """The centre has been running before the first day: a backlog queue opens with what
        arrived since its team last worked (the evening before, and the closed days before
        that, such as a weekend); an overloaded queue, behind for a while, with about a day
        of its agents' work received over the three days before."""
        curve = _CURVES["email"] / _CURVES["email"].sum()
        evening = float(curve[17 * 4 :].sum())  # after the day shifts have gone home
        for group in self.org.groups:
            if group.sync or group.overload:
                continue
            team = self.org.teams[group.team]
            base = self.base[group.team][0]
            first = self.dates[0]
            amounts: list[tuple[int, float]] = []  # (days back, share of that day's volume)
            back = 1
            while back <= 7:
                day = first - timedelta(days=back)
                closed = team.calendar.open_seconds(day.weekday()) is None \
                    or day in self.holidays[team.index]
                amounts.append((back, 1.0 if closed else evening))
                if not closed:
                    break
                back += 1
            for back, share in amounts:
                day = first - timedelta(days=back)
                expected = self._async_volume(group, day.weekday()) * share
                shape = curve
                if share < 1.0:  # only the evening's arrivals
                    shape = curve.copy()
                    shape[: 17 * 4] = 0.0
                    shape /= shape.sum()
                counts = self.rng.multinomial(self.rng.poisson(expected), shape)
                self.backlog[group.index].extend(
                    self._make_contacts(group, base - back * 86_400, counts, [], None)
                )
        for group in self.org.groups:
            if not group.overload:
                continue
            base = self.base[group.team][0]
            aht = self._aht(group)
            per_day = sum(
                WORK_SECONDS / (aht * self.org.agents[a].speed + sum(_PICKUP_GAP) / 2)
                for a in group.agents
            )
            curve = _CURVES["email"] / _CURVES["email"].sum()
            for back in (3, 2, 1):
                counts = self.rng.multinomial(int(per_day / 3), curve)
                self.backlog[group.index].extend(
                    self._make_contacts(group, base - back * 86_400, counts, [], None)
                )

    # --- the run -------------------------------------------------------------------------
    def blocks(self) -> Iterator[tuple[int, list[Record]]]:
        """Records in blocks of moderate size (memory stays flat), each with its day: -1 for
        the static records (teams, calendars, agents, customers), then 0 … days-1, and
        `days` for the backlog still open at the end."""
        yield -1, self._static_records()
        yield from ((-1, chunk) for chunk in customer_records(self.customers, self.rng))
        yield -1, qa_forms()
        for day in range(self.config.days):
            yield from ((day, chunk) for chunk in self._day(day))
        yield self.config.days, self._final_backlog()

    def _static_records(self) -> list[Record]:
        org = self.org
        out: list[Record] = []
        for team in org.teams:
            out.append(team.record(org.agents))
        for team in org.teams:
            out.append(team.calendar.record())
        for agent in org.agents:
            out.append(agent.record(org.teams[agent.team].id))
        return out

    def _day(self, day: int) -> Iterator[list[Record]]:
        """The day's records: the contacts team by team, then states and shifts, orders and
        social activity."""
        agent_days: list[AgentDay] = []
        self.orders_today = []
        self.mentions_today = []
        self._today = day
        for team in self.org.teams:
            out: list[Record] = []
            local = self.dates[day]
            weekday = local.weekday()
            hours = team.calendar.open_seconds(weekday)
            if local in self.holidays[team.index]:
                hours = None
            base = self.base[team.index][day]
            meeting = weekday == 2
            blending: list[AgentDay] = []  # the team's phone and chat agents today
            for g in team.groups:
                group = self.org.groups[g]
                working = [
                    a
                    for a in group.agents
                    if hours is not None and weekday not in self.org.agents[a].off_weekdays
                ]
                days_agents = self._shifts(group, working, hours, base, day, meeting)
                agent_days.extend(days_agents)
                if group.sync:
                    contacts = self._sync_day(group, day, base, hours, days_agents, weekday)
                    # (not the hunt group's first agent: every call that comes while they
                    # are free is theirs, so they take no emails)
                    blending.extend(
                        ad for ad in days_agents if not self.org.agents[ad.agent].priority
                    )
                else:
                    # emails of the team's queue (not Spanish: its one agent speaks it alone)
                    blended = blending if group.name in ("email", "tech_email") else []
                    contacts = self._async_day(group, day, base, days_agents, weekday, blended)
                self._emit_contacts(out, group, contacts)
            yield out
        out = []
        self._states(out, agent_days)
        yield out
        out = []
        self._orders(out, day)
        self._social(out, day, agent_days)
        yield out

    # --- shifts --------------------------------------------------------------------------
    def _shifts(
        self,
        group: GroupSpec,
        working: list[int],
        hours: tuple[int, int] | None,
        base: int,
        day: int,
        meeting: bool,
    ) -> list[AgentDay]:
        if hours is None or not working:
            return []
        open_s, close_s = hours
        curve = (
            group.channels[0] if group.sync else ("social" if group.name == "social" else "email")
        )
        key = (len(working), open_s, close_s, curve)
        starts = self.shift_cache.get(key)
        if starts is None:
            starts = _place_shifts(len(working), open_s, close_s, _CURVES[curve])
            self.shift_cache[key] = starts
        length = min(SHIFT_LENGTH, close_s - open_s)
        training = self.rng.random(len(working)).tolist()
        result = []
        for j, agent_index in enumerate(working):
            start = base + starts[(j + day) % len(starts)]
            aux = [(start + a, start + b, "break") for a, b in _BREAKS if b <= length]
            if meeting:
                aux.append((start + _MEETING[0], start + _MEETING[1], "meeting"))
            if training[j] < 0.06 and _TRAINING[1] <= length:
                aux.append((start + _TRAINING[0], start + _TRAINING[1], "training"))
            aux.sort()
            agent = self.org.agents[agent_index]
            result.append(AgentDay(agent_index, agent.speed, start, start + length, aux))
        return result

    # --- arrivals ------------------------------------------------------------------------
    def _sync_day(
        self,
        group: GroupSpec,
        day: int,
        base: int,
        hours: tuple[int, int] | None,
        agent_days: list[AgentDay],
        weekday: int,
    ) -> list[Contact]:
        repeats = self.pending.pop((group.index, day), [])
        if not agent_days or hours is None:
            # Closed or nobody on shift: customers who meant to come back try tomorrow.
            if repeats and day + 1 < self.config.days:
                self.pending.setdefault((group.index, day + 1), []).extend(repeats)
            return []
        # Staffed capacity per slot, in agents of average speed (a fast agent counts more).
        cover = np.zeros(SLOTS)
        for ad in agent_days:
            for s, e in ad.windows:
                cover[(s - base) // SLOT : (e - base) // SLOT] += 1 / ad.speed
        # Offered load the staffed agents can carry by the square-root staffing rule
        # (agents = load + beta * sqrt(load)): small groups must run lighter to answer in time.
        load = ((np.sqrt(_BETA * _BETA + 4 * cover) - _BETA) / 2) ** 2
        load = np.minimum(load, cover * self.config.target_occupancy)
        # Staffing already follows the demand curve; the tilt adds the peaks it misses.
        curve = _CURVES[group.channels[0]]
        mean_curve = float((load * curve).sum() / max(load.sum(), 1e-9))
        tilt = (curve / mean_curve) ** 0.25 if mean_curve > 0 else np.ones(SLOTS)
        tilt *= load.sum() / max(float((load * tilt).sum()), 1e-9)
        noise = float(self.rng.lognormal(0.0, 0.07))
        rate = load * tilt * SLOT / self._aht(group) * _WEEKDAY_SYNC[weekday] * noise
        # Customers coming back (call-backs, unsolved issues) are part of the load.
        expected = float(rate.sum())
        if expected > 0:
            rate *= max(0.3, (expected - len(repeats)) / expected)
        counts = self.rng.poisson(rate)
        weights = rate / rate.sum() if rate.sum() > 0 else None
        contacts = self._make_contacts(group, base, counts, repeats, weights)
        priority = [ad for ad in agent_days if self.org.agents[ad.agent].priority]
        normal = [ad for ad in agent_days if not self.org.agents[ad.agent].priority]
        run_queue(contacts, normal, priority, sync=True)
        return contacts

    def _async_day(
        self,
        group: GroupSpec,
        day: int,
        base: int,
        agent_days: list[AgentDay],
        weekday: int,
        blended: list[AgentDay],
    ) -> list[Contact]:
        repeats = self.pending.pop((group.index, day), [])
        aht = self._aht(group)
        volume = self._async_volume(group, weekday) * float(self.rng.lognormal(0.0, 0.07))
        # Blending: phone and chat agents answer emails in the quiet stretches between calls
        # (the edges of the day), up to the target occupancy; the email volume includes it.
        target = self.config.target_occupancy
        gaps = [_GapDay(ad, _idle_gaps(ad), _spare_seconds(ad, target)) for ad in blended]
        gaps = [gap for gap in gaps if gap.windows and gap.budget > 0]
        volume += BLEND_SHARE * sum(gap.budget for gap in gaps) / (aht + sum(_PICKUP_GAP) / 2)
        volume = max(0.3 * volume, volume - len(repeats))
        curve = _CURVES["social" if group.name == "social" else "email"]
        counts = self.rng.multinomial(self.rng.poisson(volume), curve / curve.sum())
        fresh = self._make_contacts(group, base, counts, repeats, curve / curve.sum())
        queue = self.backlog[group.index] + fresh
        priority = [ad for ad in agent_days if self.org.agents[ad.agent].priority]
        normal = [ad for ad in agent_days if not self.org.agents[ad.agent].priority]
        # The quiet stretches go first: the email agents' own share is sized without them.
        left = run_queue(queue, normal, [*priority, *gaps], sync=False)
        for gap in gaps:
            gap.day.jobs.extend(gap.jobs)
        self.backlog[group.index] = left
        return queue[: len(queue) - len(left)]

    def _async_volume(self, group: GroupSpec, weekday: int) -> float:
        """Expected contacts a day on a backlog queue: an overloaded queue gets `overload`
        times what its agents can do, others are sized to the target occupancy."""
        team = self.org.teams[group.team]
        open_days = sum(1 for h in team.calendar.hours if h is not None)
        capacity = 0.0
        aht = self._aht(group)
        for a in group.agents:
            agent = self.org.agents[a]
            work_days = min(5, open_days - len(agent.off_weekdays))
            capacity += work_days * WORK_SECONDS / (aht * agent.speed + sum(_PICKUP_GAP) / 2)
        # (a little under the target: meetings and training take from the working time
        # the capacity counts, so the realised occupancy runs a little above the share)
        share = group.overload if group.overload else self.config.target_occupancy * 0.97
        return capacity / 7 * share * _WEEKDAY_ASYNC[weekday] / (sum(_WEEKDAY_ASYNC) / 7)

    def _make_contacts(
        self,
        group: GroupSpec,
        base: int,
        counts: np.ndarray,
        repeats: list[tuple[int, int, int, int, str | None]],
        repeat_weights: np.ndarray | None,
    ) -> list[Contact]:
        rng = self.rng
        slots = np.repeat(np.arange(SLOTS), counts)
        n_new = len(slots)
        n_rep = len(repeats)
        if n_rep:
            if repeat_weights is None:
                repeat_slots = rng.integers(0, SLOTS, size=n_rep)
            else:
                repeat_slots = rng.choice(SLOTS, size=n_rep, p=repeat_weights)
            slots = np.concatenate([slots, repeat_slots])
        n = n_new + n_rep
        if n == 0:
            return []
        created = base + slots * SLOT + rng.integers(0, SLOT, size=n)
        category = rng.choice(len(CATEGORIES), size=n, p=group.category_weights)
        issue = (rng.random(n) * _ISSUE_COUNTS[category]).astype(np.int64)
        tone = rng.choice(3, size=n, p=_TONE_P)
        customer = self._pick_customers(group, created)
        channel_index = rng.choice(len(group.channels), size=n, p=group.channel_weights)
        message = rng.integers(0, 1 << 30, size=n)
        talk = _TALK_MEDIAN[category] * np.exp(_TALK_SIGMA * rng.standard_normal(n))
        if group.channels[0] == "chat":
            talk *= _CHAT_TALK
        hold = np.where(
            rng.random(n) < _HOLD_SHARE[category],
            _HOLD_MEDIAN * np.exp(_HOLD_SIGMA * rng.standard_normal(n)),
            0.0,
        )
        wrap_median = _WRAP_MEDIAN.get(group.channels[0], 30.0)
        wrap = wrap_median * np.exp(_WRAP_SIGMA * rng.standard_normal(n))
        channel_factor = np.array([_CHANNEL_HANDLE.get(ch, 1.0) for ch in group.channels])
        handle = (
            _HANDLE_MEDIAN[category]
            * channel_factor[channel_index]
            * np.exp(_HANDLE_SIGMA * rng.standard_normal(n))
        )
        patience = rng.exponential(
            _PATIENCE["technical"]
            if group.queue == "technical"
            else _PATIENCE.get(group.channels[0], 1e9),
            size=n,
        )
        gap = rng.integers(_PICKUP_GAP[0], _PICKUP_GAP[1], size=n)
        if n_rep:
            rep = np.array([r[:4] for r in repeats], dtype=np.int64)
            customer[n_new:] = rep[:, 0]
            category[n_new:] = rep[:, 1]
            issue[n_new:] = rep[:, 2]
            tone[n_new:] = rep[:, 3]
            channels = list(group.channels)
            for j, r in enumerate(repeats):
                if r[4] in channels:
                    channel_index[n_new + j] = channels.index(r[4])
        # A customer who has left in the meantime does not come back.
        returning = customer[n_new:]
        known = returning >= 0
        gone = np.zeros(n, dtype=bool)
        gone[n_new:][known] = self.customers.churned[returning[known]] <= created[n_new:][known]
        columns = [
            created.tolist(),
            customer.tolist(),
            category.tolist(),
            issue.tolist(),
            tone.tolist(),
            channel_index.tolist(),
            message.tolist(),
            talk.tolist(),
            hold.tolist(),
            wrap.tolist(),
            handle.tolist(),
            patience.tolist(),
            gap.tolist(),
        ]
        gone_list = gone.tolist()
        contacts = []
        for i, (t, cu, ca, iss, to, ch, msg, tk, hd, wr, hn, pa, gp) in enumerate(
            zip(*columns, strict=True)
        ):
            if i >= n_new and gone_list[i]:
                continue
            c = Contact()
            c.group = group.index
            c.created = t
            c.customer = cu
            c.category = ca
            c.issue = iss
            c.tone = to
            c.channel = group.channels[ch]
            c.message = msg
            c.talk_b = tk
            c.hold_b = hd
            c.wrap_b = wr
            c.handle_b = hn
            c.patience = pa
            c.gap = gp
            c.repeat = i >= n_new
            contacts.append(c)
        contacts.sort(key=lambda c: c.created)
        return contacts

    def _pick_customers(self, group: GroupSpec, created: np.ndarray) -> np.ndarray:
        """Customers active at each contact's time, weighted by contact propensity; about 2%
        of contacts stay anonymous (no customer_id: an unidentified caller)."""
        rng = self.rng
        customers = self.customers
        n = len(created)
        segment = rng.choice(3, size=n, p=group.segment_weights)
        chosen = np.full(n, -1, dtype=np.int64)
        todo = np.ones(n, dtype=bool)
        for _round in range(6):
            idx = np.flatnonzero(todo)
            if len(idx) == 0:
                break
            draw = np.full(len(idx), -1, dtype=np.int64)
            for s in range(3):
                members, cumulative = customers.pools[s]
                mask = segment[idx] == s
                if not mask.any() or len(members) == 0:
                    continue
                u = rng.random(int(mask.sum()))
                draw[mask] = members[np.minimum(np.searchsorted(cumulative, u), len(members) - 1)]
            ok = draw >= 0
            ok[ok] = (customers.acquired[draw[ok]] <= created[idx[ok]]) & (
                created[idx[ok]] < customers.churned[draw[ok]]
            )
            chosen[idx[ok]] = draw[ok]
            todo[idx[ok]] = False
        anonymous = rng.random(n) < 0.02
        chosen[anonymous] = -1
        return chosen

    # --- records of contacts ----------------------------------------------------------------
    def _emit_contacts(self, out: list[Record], group: GroupSpec, contacts: list[Contact]) -> None:
        if not contacts:
            return
        n = len(contacts)
        u_rows = self.rng.random((n, 16)).tolist()
        z_rows = self.rng.standard_normal((n, 4)).tolist()
        for c, u, z in zip(contacts, u_rows, z_rows, strict=True):
            self._contact_records(out, group, c, u, z)

    def _contact_records(
        self, out: list[Record], group: GroupSpec, c: Contact, u: list[float], z: list[float]
    ) -> None:
        iso = self.iso
        org = self.org
        self.counters["interaction"] += 1
        iid = f"I{self.counters['interaction']:07d}"
        category = CATEGORIES[c.category]
        spanish = group.language == "es"
        bank = (self.banks_es if spanish else self.banks)[
            (category, c.issue, TONES[c.tone], c.repeat)
        ]
        body = bank.messages[c.message % len(bank.messages)].format(
            order=f"#{100000 + c.message % 900000}"
        )
        team = org.teams[group.team]
        customer = c.customer
        record: Record = {
            "type": "interaction",
            "id": iid,
            "channel": c.channel,
            "created_at": iso(c.created),
        }
        if customer >= 0:
            record["customer_id"] = self.customers.ids[customer]
            segment = int(self.customers.segment[customer])
        else:
            segment = 0
        agent = org.agents[c.agent] if c.agent >= 0 else None
        if agent is not None:
            record["agent_id"] = agent.id
        record["team_id"] = team.id
        record["queue"] = group.queue
        record["category"] = category
        record["subject"] = bank.subject
        record["priority"] = "urgent" if u[14] < 0.02 else ("high" if segment == 2 else "normal")
        record["language"] = group.language
        events: list[Record] = []

        def event(
            at: int, kind: str, actor: str, agent_id: str | None = None, body: str | None = None
        ) -> None:
            e: Record = {
                "type": "event",
                "id": f"{iid}-{len(events) + 1}",
                "interaction_id": iid,
                "at": iso(at),
                "kind": kind,
                "actor": actor,
            }
            if agent_id is not None:
                e["agent_id"] = agent_id
            if body is not None:
                e["body"] = body
            events.append(e)

        event(c.created, "created", "customer")
        end = self.window_end
        if agent is None:
            # Abandoned in the queue (sync), or still waiting at the end (async backlog).
            if group.sync:
                if c.channel == "chat":  # the chat opened with the question
                    event(min(c.created + 2, c.start), "customer_message", "customer", body=body)
                event(c.start, "abandoned", "customer")
                record["abandoned_at"] = iso(c.start)
                record["status"] = "abandoned"
                # Many who hang up call back within hours.
                if u[4] < 0.55:
                    self._schedule_repeat(
                        group, c, c.start + 120 + int(-10_800 * math.log(1 - u[5])), u[15]
                    )
            else:
                event(c.created, "customer_message", "customer", body=body)
                record["status"] = "open"
            out.append(record)
            out.extend(events)
            return

        agent_id = agent.id
        start = c.start
        skill = agent.skill
        # Outcome: effective resolution, transfer, escalation (skill and category driven).
        # Rushing below the fastest normal pace (speed 0.75: only the busy-but-not-effective
        # agent) leaves many contacts unresolved.
        p_effective = (0.5 + 0.5 * skill - _DIFFICULTY[c.category] - (0.1 if c.repeat else 0)
                       - max(0.0, 0.75 - agent.speed))
        effective = u[0] < p_effective
        transferred = group.sync and u[1] < 0.03 + 0.08 * (1 - skill)
        escalated = u[2] < _ESCALATION[c.category] * (1.5 - skill) * (
            0.4 if group.queue == "technical" else 1.0
        )
        if group.sync:
            handling_end = start + c.talk + c.hold
            done = handling_end + c.wrap
            record["answered_at"] = iso(start)
            if c.channel == "chat":
                # The chat opens with the customer's question, then an agent joins.
                event(min(c.created + 2, start), "customer_message", "customer", body=body)
                event(start, "answered", "agent", agent_id)
                first = start + 5 + int(u[12] * min(20, c.talk - 5))
                record["first_response_at"] = iso(first)
                event(
                    first, "agent_message", "agent", agent_id, self._reply(category, spanish, u[14])
                )
            else:
                event(start, "answered", "agent", agent_id)
                # The caller states the reason (as noted from the call).
                event(start + 5, "customer_message", "customer", body=body)
            if c.hold:
                hold_start = start + 10 + int(u[12] * max(0, c.talk - 20))
                event(hold_start, "hold_start", "agent", agent_id)
                event(hold_start + c.hold, "hold_end", "agent", agent_id)
            record["talk_s"] = c.talk
            record["hold_s"] = c.hold
            record["wrap_s"] = c.wrap
            wait = start - c.created
            wait_penalty = min(1.5, wait / 240)
        else:
            handling_end = done = start + c.handle
            event(c.created, "customer_message", "customer", body=body)
            record["first_response_at"] = iso(handling_end)
            event(
                handling_end,
                "agent_message",
                "agent",
                agent_id,
                self._reply(category, spanish, u[14]),
            )
            record["handle_s"] = c.handle
            wait_penalty = min(1.5, (handling_end - c.created) / 86_400)
        if transferred:
            event(handling_end, "transferred", "agent", agent_id)
            record["transfers"] = 1
        if escalated:
            event(handling_end, "escalated", "agent", agent_id)
            record["escalated"] = True
        # Resolution: now, later (waiting on the customer or on the escalation), or never.
        resolved_by = agent_id
        if escalated:
            resolved_at = done + int(28_800 * math.exp(0.8 * z[1])) if u[3] < 0.9 else -1
            resolved_by = org.agents[self.technical[int(u[13] * len(self.technical))]].id
        elif u[3] < 0.88:
            resolved_at = done if group.sync else handling_end
        elif u[3] < 0.97:
            resolved_at = done + int(72_000 * math.exp(0.7 * z[1]))
        else:
            resolved_at = -1
        if resolved_at > end:
            resolved_at = -1
        reopens = 0
        final_resolved = resolved_at
        if resolved_at >= 0:
            event(resolved_at, "resolved", "agent", resolved_by)
            # A fix that did not hold: the ticket is reopened, or the customer comes back.
            if u[6] < (0.2 if not effective else 0.02):
                reopened_at = resolved_at + 600 + int(-86_400 * math.log(1 - u[7]))
                if reopened_at <= end:
                    event(reopened_at, "reopened", "customer")
                    reopens = 1
                    again = reopened_at + int(18_000 * math.exp(0.6 * z[1]))
                    if again <= end:
                        event(again, "resolved", "agent", resolved_by)
                        final_resolved = again
                    else:
                        final_resolved = -1
            elif not effective and u[4] < 0.7:
                self._schedule_repeat(
                    group, c, resolved_at + 600 + int(-138_000 * math.log(1 - u[5])), u[15]
                )
        elif not effective and u[4] < 0.7:
            self._schedule_repeat(
                group, c, done + 3_600 + int(-138_000 * math.log(1 - u[5])), u[15]
            )
        if reopens:
            record["reopens"] = reopens
        if final_resolved >= 0:
            record["resolved_at"] = iso(final_resolved)
            record["status"] = "solved"
        else:
            record["status"] = "open"
        out.append(record)
        out.extend(events)

        # Surveys: only on handled contacts, sent when the contact is closed (or done).
        satisfaction = (
            1.2 * (skill - 0.65)
            + (0.9 if effective else -1.3)
            - wait_penalty
            - 0.5 * transferred
            - 0.4 * escalated
            - 0.4 * c.repeat
            + (0.2, 0.0, -0.3)[c.tone]
        )
        sent = final_resolved if final_resolved >= 0 else done
        submitted = sent + 300 + int(14_400 * math.exp(z[3]))
        if submitted <= end:
            noise = z[0]
            scores = (
                (
                    "csat",
                    u[8] < 0.22,
                    min(5, max(1, round(4.25 + 0.9 * satisfaction + 0.7 * noise))),
                ),
                (
                    "nps",
                    u[9] < 0.08,
                    min(10, max(0, round(7.6 + 1.6 * satisfaction + 1.3 * noise))),
                ),
                (
                    "ces",
                    u[10] < 0.10,
                    min(
                        7, max(1, round(5.4 + 1.0 * satisfaction - 0.6 * transferred + 0.8 * noise))
                    ),
                ),
            )
            for kind, asked, score in scores:
                if not asked:
                    continue
                self.counters["survey"] += 1
                survey: Record = {
                    "type": "survey",
                    "id": f"S{self.counters['survey']:07d}",
                    "kind": kind,
                    "score": score,
                    "submitted_at": iso(submitted),
                    "interaction_id": iid,
                    "agent_id": agent_id,
                }
                if customer >= 0:
                    survey["customer_id"] = self.customers.ids[customer]
                if u[11] < 0.35:
                    tier = _score_tier(kind, score)
                    comments = SURVEY_COMMENTS[tier]
                    survey["comment"] = comments[int(u[11] * 1000) % len(comments)]
                out.append(survey)

        # QA: a share of handled contacts reviewed against a form, some in calibration
        quality = (1.1 * (skill - 0.6) + (0.5 if effective else -0.6) - 0.3 * transferred
                   - 0.3 * escalated)
        out.extend(self.qa.reviews(iid, agent, quality, done, end, iso))

        # Orders a contact leads to: returns and exchanges, upsells by account teams.
        if customer >= 0 and u[13] < 0.5:
            amount_scale = (40.0, 180.0, 900.0)[segment]
            amount = round(amount_scale * math.exp(0.6 * z[2]), 2)
            if category == "returns" and u[13] < 0.4:
                kind = "exchange" if c.issue == 2 else "return"
                at = done + 86_400 + int(u[13] * 172_800)
                self._order(at, customer, kind, amount if kind == "return" else 0.0, iid, agent_id)
            elif group.queue == "accounts" and u[13] < 0.15:
                price = float(self.customers.plan_price[customer])
                self._order(
                    done + 60, customer, "upsell", round(price * (1 + 2 * u[13]), 2), iid, agent_id
                )
        if c.channel == "social":
            self._mention(c.created, _PLATFORMS[int(u[14] * 3)], body, iid, customer)

    def _reply(self, category: str, spanish: bool, u: float) -> str:
        replies = (self.replies_es if spanish else self.replies)[category]
        return replies[int(u * 1000) % len(replies)]

    def _schedule_repeat(self, group: GroupSpec, c: Contact, at: int, u: float) -> None:
        """The customer comes back (same category mostly), on a queue of the same team."""
        if at > self.window_end:
            return
        team = self.org.teams[group.team]
        target = group
        if group.language != "es" and group.queue == "general" and u > 0.7:
            siblings = [
                self.org.groups[g] for g in team.groups if self.org.groups[g].queue == "general"
            ]
            target = siblings[int((u - 0.7) / 0.3 * len(siblings)) % len(siblings)]
        category, issue = c.category, c.issue
        if u >= 0.85:  # now about something else the queue handles
            other = int((u - 0.85) / 0.15 * len(CATEGORIES)) % len(CATEGORIES)
            if target.category_weights[other] > 0:
                category, issue = other, c.issue % int(_ISSUE_COUNTS[other])
        day = (at - self.base[team.index][0]) // 86_400
        if day >= self.config.days:
            return
        day = max(day, self._today + 1)
        if day >= self.config.days:
            return
        tone = 2 if u < 0.6 else (1 if u < 0.95 else 0)
        self.pending.setdefault((target.index, day), []).append(
            (c.customer, category, issue, tone, c.channel)
        )

    def _order(
        self,
        at: int,
        customer: int,
        kind: str,
        amount: float,
        interaction: str | None,
        agent: str | None,
    ) -> None:
        if at > self.window_end:
            return
        self.counters["order"] += 1
        order: Record = {
            "type": "order",
            "id": f"O{self.counters['order']:07d}",
            "customer_id": self.customers.ids[customer],
            "at": self.iso(at),
            "amount": amount,
            "kind": kind,
            "currency": self.config.currency,
        }
        if interaction is not None:
            order["interaction_id"] = interaction
        if agent is not None:
            order["agent_id"] = agent
        self.orders_today.append((at, order))

    def _mention(
        self, at: int, platform: str, text: str, interaction: str | None, customer: int
    ) -> None:
        self.counters["mention"] += 1
        mention: Record = {
            "type": "social_mention",
            "id": f"M{self.counters['mention']:06d}",
            "platform": platform,
            "at": self.iso(at),
            "text": text,
        }
        if customer >= 0:
            mention["author"] = "@" + self.customers.ids[customer].lower()
        if interaction is not None:
            mention["interaction_id"] = interaction
        self.mentions_today.append((at, mention))

    # --- agent states -----------------------------------------------------------------------
    def _states(self, out: list[Record], agent_days: list[AgentDay]) -> None:
        iso = self.iso
        shifts: list[Record] = []
        for ad in agent_days:
            agent_id = self.org.agents[ad.agent].id
            items: list[tuple[int, int, int, str]] = [(s, b, e, "") for s, b, e in ad.jobs]
            items.extend((block.start, block.end, block.end, block.state) for block in ad.aux)
            items.sort()
            cursor = ad.start
            for s, busy_end, end, state in items:
                if s > cursor:
                    out.append(self._state(agent_id, "available", cursor, s))
                if state:
                    out.append(self._state(agent_id, state, s, busy_end))
                else:
                    out.append(self._state(agent_id, "handling", s, busy_end))
                    if end > busy_end:
                        out.append(self._state(agent_id, "after_call_work", busy_end, end))
                cursor = max(cursor, end)
            if ad.end > cursor:
                out.append(self._state(agent_id, "available", cursor, ad.end))
            self.counters["shift"] += 1
            shift: Record = {
                "type": "shift",
                "id": f"SH{self.counters['shift']:06d}",
                "agent_id": agent_id,
                "start": iso(ad.start),
                "end": iso(ad.end),
            }
            # The plan, not what happened: a call running into a break delays the break, so
            # the states follow the plan most of the time (schedule adherence).
            planned = [{"kind": kind, "start": iso(a), "end": iso(b)}
                       for a, b, kind in ad.planned if ad.start <= a and b <= ad.end]
            if planned:
                shift["activities"] = planned
            shifts.append(shift)
        out.extend(shifts)

    def _state(self, agent_id: str, state: str, start: int, end: int) -> Record:
        self.counters["state"] += 1
        return {
            "type": "agent_state",
            "id": f"AS{self.counters['state']:08d}",
            "agent_id": agent_id,
            "state": state,
            "start": self.iso(start),
            "end": self.iso(end),
        }

    # --- orders and social ------------------------------------------------------------------
    def _orders(self, out: list[Record], day: int) -> None:
        rng = self.rng
        customers = self.customers
        day_start = self.window_start + day * 86_400
        day_end = day_start + 86_400
        active = (customers.acquired <= day_start) & (customers.churned > day_start)
        # Purchases: about one every two months a customer, more for businesses.
        rate = np.array([0.5, 1.0, 2.0])[customers.segment] / 30
        buyers = np.flatnonzero(active & (rng.random(len(customers)) < rate))
        amounts = np.round(
            np.array([40.0, 180.0, 900.0])[customers.segment[buyers]]
            * np.exp(0.6 * rng.standard_normal(len(buyers))),
            2,
        )
        times = rng.integers(day_start, day_end, size=len(buyers))
        for b, a, t in zip(buyers.tolist(), amounts.tolist(), times.tolist(), strict=True):
            self._order(t, b, "purchase", a, None, None)
        # Renewals on the day of the month the customer joined.
        day_of_month = (self.dates[day]).day
        acquired_day = ((customers.acquired // 86_400 + 4) % 28) + 1  # stable pseudo-day
        renewing = np.flatnonzero(active & customers.subscriber & (acquired_day == day_of_month))
        times = rng.integers(day_start, day_end, size=len(renewing))
        for r, t in zip(renewing.tolist(), times.tolist(), strict=True):
            self._order(t, r, "renewal", float(customers.plan_price[r]), None, None)
        # Cancellations when subscribers churn.
        churning = np.flatnonzero(
            (customers.churned >= day_start) & (customers.churned < day_end) & customers.subscriber
        )
        for r in churning.tolist():
            self._order(
                int(customers.churned[r]),
                r,
                "cancellation",
                float(customers.plan_price[r]),
                None,
                None,
            )
        self.orders_today.sort(key=lambda item: item[0])
        out.extend(order for _at, order in self.orders_today)

    def _social(self, out: list[Record], day: int, agent_days: list[AgentDay]) -> None:
        rng = self.rng
        iso = self.iso
        posts: list[tuple[int, Record]] = []
        for ad in agent_days:
            agent = self.org.agents[ad.agent]
            if agent.role != "social_media":
                continue
            for _ in range(int(rng.poisson(1.5))):
                at = int(rng.integers(ad.start, ad.end))
                platform = _PLATFORMS[int(rng.integers(0, len(_PLATFORMS)))]
                impressions = int(rng.lognormal(math.log(3000), 0.9))
                reach = int(impressions * rng.uniform(0.55, 0.9))
                rates = rng.uniform(0.5, 1.5, size=5) * np.array([0.025, 0.003, 0.002, 0.01, 0.002])
                likes, comments, shares, clicks, saves = (
                    int(v) for v in rng.binomial(impressions, rates)
                )
                self.counters["post"] += 1
                posts.append(
                    (
                        at,
                        {
                            "type": "social_post",
                            "id": f"P{self.counters['post']:06d}",
                            "platform": platform,
                            "posted_at": iso(at),
                            "agent_id": agent.id,
                            "impressions": impressions,
                            "reach": reach,
                            "likes": likes,
                            "comments": comments,
                            "shares": shares,
                            "clicks": clicks,
                            "saves": saves,
                        },
                    )
                )
        posts.sort(key=lambda item: item[0])
        out.extend(post for _at, post in posts)
        # Mentions nobody turned into a contact: praise, questions and complaints.
        day_start = self.window_start + day * 86_400
        count = int(rng.poisson(2 + 0.5 * len(self.org.social_agents)))
        for _ in range(count):
            tone = TONES[int(rng.choice(3, p=[0.35, 0.35, 0.3]))]
            texts = MENTIONS[tone]
            text = texts[int(rng.integers(0, len(texts)))].format(
                category=CATEGORIES[int(rng.integers(0, len(CATEGORIES)))]
            )
            at = int(rng.integers(day_start, day_start + 86_400))
            platform = _PLATFORMS[int(rng.integers(0, 3))]
            self._mention(at, platform, text, None, int(rng.integers(0, len(self.customers))))
        self.mentions_today.sort(key=lambda item: item[0])
        out.extend(mention for _at, mention in self.mentions_today)

    def _final_backlog(self) -> list[Record]:
        """Async contacts nobody reached by the end: open interactions (the backlog)."""
        out: list[Record] = []
        for group in self.org.groups:
            contacts = self.backlog[group.index]
            if not contacts:
                continue
            u_rows = self.rng.random((len(contacts), 16)).tolist()
            z_rows = self.rng.standard_normal((len(contacts), 4)).tolist()
            for c, u, z in zip(contacts, u_rows, z_rows, strict=True):
                c.agent = -1
                self._contact_records(out, group, c, u, z)
        return out


def _score_tier(kind: str, score: float) -> str:
    if kind == "csat":
        return "positive" if score >= 4 else ("neutral" if score == 3 else "negative")
    if kind == "nps":
        return "positive" if score >= 9 else ("neutral" if score >= 7 else "negative")
    return "positive" if score >= 5 else ("neutral" if score >= 4 else "negative")


def _place_shifts(count: int, open_s: int, close_s: int, curve: np.ndarray) -> list[int]:
    """Shift starts (seconds after local midnight) for `count` agents, chosen greedily so the
    number on shift follows the demand curve over the opening hours (30-minute steps)."""
    length = min(SHIFT_LENGTH, close_s - open_s)
    half_hours = np.arange(open_s, close_s, 1800)
    demand = np.array([curve[min(SLOTS - 1, int(s) // SLOT)] for s in half_hours])
    target = demand / demand.sum() * count * (length / 1800)
    candidates = list(range(open_s, max(open_s, close_s - length) + 1, 1800))
    coverage = np.zeros(len(half_hours))
    starts: list[int] = []
    for _ in range(count):
        best, best_cost = candidates[0], math.inf
        for start in candidates:
            mask = (half_hours >= start) & (half_hours < start + length)
            cost = float(((target - coverage - mask) ** 2).sum())
            if cost < best_cost - 1e-9:
                best, best_cost = start, cost
        coverage += (half_hours >= best) & (half_hours < best + length)
        starts.append(best)
    return sorted(starts)


SEGMENT_NAMES = SEGMENTS
