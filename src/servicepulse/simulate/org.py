"""The simulated organisation: teams with their calendars, agents with roles and skill, the
queues (groups) agents work in, and the customer base.

Layout for N agents: specialist roles take fixed shares (technical_support 10%, social_media
6%, customer_success 5%, account_manager 4%, at least one each); the rest are frontline in care
teams of up to 15 people, one team_lead per team. Below 30 agents all specialists share one
team. Care team 1 holds the two agents the product should find: the busy-but-not-effective
agent (fast, low skill, first in the phone hunt group) and the overloaded agent (the only
Spanish speaker, alone on a Spanish queue that gets more work than one person can do).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

import numpy as np

from servicepulse.config import HourlyCosts
from servicepulse.simulate.config import SimulationConfig
from servicepulse.simulate.texts import CATEGORIES, FIRST_NAMES, LAST_NAMES

# The simulated agents' own hourly costs are near their role's default (the configuration's
# default_hourly_cost: median salary over 2,080 h, defined once in config.HourlyCosts); team
# leads, who have no default there, a little above the best-paid frontline roles.
ROLE_HOURLY_COST = {**HourlyCosts().as_dict(), "team_lead": 65_000 / 2080}

# Public holidays 2025-2027 by region (closed days in the team calendar).
HOLIDAYS = {
    "us": [
        "2025-01-01",
        "2025-05-26",
        "2025-07-04",
        "2025-09-01",
        "2025-11-27",
        "2025-12-25",
        "2026-01-01",
        "2026-05-25",
        "2026-07-03",
        "2026-09-07",
        "2026-11-26",
        "2026-12-25",
        "2027-01-01",
        "2027-05-31",
        "2027-07-05",
        "2027-09-06",
        "2027-11-25",
        "2027-12-24",
    ],
    "uk": [
        "2025-01-01",
        "2025-04-18",
        "2025-04-21",
        "2025-05-05",
        "2025-05-26",
        "2025-08-25",
        "2025-12-25",
        "2025-12-26",
        "2026-01-01",
        "2026-04-03",
        "2026-04-06",
        "2026-05-04",
        "2026-05-25",
        "2026-08-31",
        "2026-12-25",
        "2026-12-28",
        "2027-01-01",
        "2027-03-26",
        "2027-03-29",
        "2027-05-03",
        "2027-05-31",
        "2027-08-30",
        "2027-12-27",
        "2027-12-28",
    ],
    "ph": [
        "2025-01-01",
        "2025-04-17",
        "2025-04-18",
        "2025-06-12",
        "2025-08-25",
        "2025-12-25",
        "2025-12-30",
        "2026-01-01",
        "2026-04-02",
        "2026-04-03",
        "2026-06-12",
        "2026-08-31",
        "2026-12-25",
        "2026-12-30",
        "2027-01-01",
        "2027-03-25",
        "2027-03-26",
        "2027-06-12",
        "2027-08-30",
        "2027-12-25",
        "2027-12-30",
    ],
}
_CARE_ZONES = [
    ("America/New_York", "us"),
    ("Europe/London", "uk"),
    ("Asia/Manila", "ph"),
    ("America/Chicago", "us"),
]
# Around the clock (the live demo): New York and Manila care teams between them answer at any
# hour of a weekday, so a demo started at any time shows a working centre.
_ROUND_THE_CLOCK_ZONES = [
    ("America/New_York", "us"),
    ("Asia/Manila", "ph"),
    ("Europe/London", "uk"),
    ("America/Chicago", "us"),
]
WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Opening hours by team kind, as (start, end) local clock per weekday (None: closed).
_Hours = list[tuple[str, str] | None]


def _week(
    weekdays: tuple[str, str],
    saturday: tuple[str, str] | None = None,
    sunday: tuple[str, str] | None = None,
) -> _Hours:
    hours: _Hours = [weekdays] * 5
    return [*hours, saturday, sunday]


_HOURS: dict[str, _Hours] = {
    "care": _week(("08:00", "20:00"), ("09:00", "17:00")),
    "care_ph": _week(("07:00", "21:00"), ("07:00", "21:00")),
    "technical": _week(("08:00", "18:00")),
    "success": _week(("09:00", "17:30")),
    "specialists": _week(("08:00", "18:00")),
}


@dataclass
class CalendarSpec:
    id: str
    timezone: str
    region: str
    hours: _Hours  # index 0 = Monday

    def open_seconds(self, weekday: int) -> tuple[int, int] | None:
        """Opening (start, end) as seconds after local midnight, or None when closed."""
        hours = self.hours[weekday]
        if hours is None:
            return None
        return _clock(hours[0]), _clock(hours[1])

    @property
    def holidays(self) -> list[str]:
        return HOLIDAYS[self.region]

    def record(self) -> dict[str, object]:
        return {
            "type": "calendar",
            "id": self.id,
            "timezone": self.timezone,
            "hours": {WEEKDAY_KEYS[i]: [list(h)] for i, h in enumerate(self.hours) if h},
            "holidays": self.holidays,
        }


def _clock(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60


@dataclass
class GroupSpec:
    """A queue and the agents who work it. `sync` groups (phone, chat) queue in real time
    with abandons; async groups (email, web, sms, social) keep a backlog across days."""

    index: int
    team: int
    name: str  # phone, chat, email, spanish, tech_phone, tech_email, accounts, social
    queue: str
    sync: bool
    channels: tuple[str, ...]
    channel_weights: tuple[float, ...]
    category_weights: tuple[float, ...]  # over texts.CATEGORIES
    segment_weights: tuple[float, float, float]  # consumer, small_business, enterprise
    language: str = "en"
    overload: float | None = None  # volume as a multiple of capacity (None: target occupancy)
    agents: list[int] = field(default_factory=list)


@dataclass
class AgentSpec:
    index: int
    id: str
    name: str
    role: str
    team: int
    email: str
    group: int | None = None
    skill: float = 0.7
    speed: float = 1.0  # handle-time multiplier (< 1 is faster)
    hourly_cost: float | None = None
    languages: tuple[str, ...] = ("en",)
    off_weekdays: tuple[int, ...] = ()
    priority: bool = False  # first in the hunt group: gets a call whenever free

    def record(self, team_id: str) -> dict[str, object]:
        out: dict[str, object] = {
            "type": "agent",
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "email": self.email,
            "team_id": team_id,
        }
        if self.hourly_cost is not None:
            out["hourly_cost"] = self.hourly_cost
        out["languages"] = list(self.languages)
        return out


@dataclass
class TeamSpec:
    index: int
    id: str
    name: str
    kind: str
    calendar: CalendarSpec
    lead: int = -1
    members: list[int] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)

    def record(self, agents: list[AgentSpec]) -> dict[str, object]:
        return {
            "type": "team",
            "id": self.id,
            "name": self.name,
            "lead_id": agents[self.lead].id,
            "calendar_id": self.calendar.id,
        }


_CARE_CATEGORIES = (0.25, 0.22, 0.15, 0.12, 0.14, 0.12)
_TECH_CATEGORIES = (0.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_ACCOUNT_CATEGORIES = (0.35, 0.0, 0.0, 0.0, 0.35, 0.30)
_SOCIAL_CATEGORIES = (0.15, 0.35, 0.15, 0.15, 0.05, 0.15)
_CONSUMER_HEAVY = (0.80, 0.15, 0.05)
_BUSINESS_HEAVY = (0.10, 0.55, 0.35)
assert len(CATEGORIES) == len(_CARE_CATEGORIES)


@dataclass
class Organisation:
    teams: list[TeamSpec]
    agents: list[AgentSpec]
    groups: list[GroupSpec]
    busy_not_effective: int
    overloaded: int

    @property
    def technical_agents(self) -> list[int]:
        return [a.index for a in self.agents if a.role == "technical_support"]

    @property
    def social_agents(self) -> list[int]:
        return [a.index for a in self.agents if a.role == "social_media"]


def build_organisation(config: SimulationConfig, rng: np.random.Generator) -> Organisation:
    n = config.agents
    n_tech = max(1, round(0.10 * n))
    n_social = max(1, round(0.06 * n))
    n_success = max(1, round(0.05 * n))
    n_account = max(1, round(0.04 * n))
    specialists = n_tech + n_social + n_success + n_account
    # Teams of specialists: (kind, roles of members); each chunk of <= 14 gets its own lead.
    specialist_teams: list[tuple[str, list[str]]] = []
    if n < 30:
        specialist_teams.append(
            (
                "specialists",
                ["technical_support"] * n_tech
                + ["customer_success"] * n_success
                + ["account_manager"] * n_account
                + ["social_media"] * n_social,
            )
        )
    else:
        for chunk in _chunks(["technical_support"] * n_tech, 14):
            specialist_teams.append(("technical", chunk))
        success = (
            ["customer_success"] * n_success
            + ["account_manager"] * n_account
            + ["social_media"] * n_social
        )
        # Spread roles evenly across chunks so every success team has each role.
        size = math.ceil(len(success) / math.ceil(len(success) / 14))
        interleaved = [success[i] for i in _spread_order(success)]
        for chunk in _chunks(interleaved, size):
            specialist_teams.append(("success", chunk))
    remaining = n - specialists - len(specialist_teams)
    care_team_count = max(1, math.ceil(remaining / 15))
    frontline = remaining - care_team_count
    care_sizes = [
        len(c) for c in _chunks(list(range(frontline)), math.ceil(frontline / care_team_count))
    ]

    teams: list[TeamSpec] = []
    agents: list[AgentSpec] = []
    groups: list[GroupSpec] = []
    name_order = rng.permutation(len(FIRST_NAMES) * len(LAST_NAMES))

    def new_agent(role: str, team: int) -> AgentSpec:
        index = len(agents)
        combo = int(name_order[index % len(name_order)])
        first = FIRST_NAMES[combo % len(FIRST_NAMES)]
        last = LAST_NAMES[combo // len(FIRST_NAMES)]
        suffix = "" if index < len(name_order) else str(index // len(name_order))
        handle = f"{first}.{last}{suffix}".lower().replace("'", "")
        agent = AgentSpec(
            index=index,
            id=f"A{index + 1:04d}",
            name=f"{first} {last}",
            role=role,
            team=team,
            email=f"{handle}@servicepulse.example",
            skill=float(rng.beta(6.0, 2.5)),
            speed=float(np.clip(rng.lognormal(0.0, 0.12), 0.75, 1.35)),
        )
        # Most records carry a cost; some are left to the role default (docs/kpis.md).
        if role in ROLE_HOURLY_COST and rng.random() < 0.9:
            agent.hourly_cost = round(ROLE_HOURLY_COST[role] * float(rng.lognormal(0, 0.08)), 2)
        if rng.random() < 0.15:
            agent.languages = ("en", "fr")
        agents.append(agent)
        teams[team].members.append(index)
        return agent

    def new_group(
        team: int,
        name: str,
        queue: str,
        sync: bool,
        channels: tuple[str, ...],
        weights: tuple[float, ...],
        categories: tuple[float, ...],
        segments: tuple[float, float, float],
        language: str = "en",
        overload: float | None = None,
    ) -> GroupSpec:
        group = GroupSpec(
            len(groups),
            team,
            name,
            queue,
            sync,
            channels,
            weights,
            categories,
            segments,
            language=language,
            overload=overload,
        )
        groups.append(group)
        teams[team].groups.append(group.index)
        return group

    def new_team(kind: str, name: str, zone: tuple[str, str], hours_kind: str) -> TeamSpec:
        index = len(teams)
        calendar = CalendarSpec(f"CAL{index + 1:02d}", zone[0], zone[1], _HOURS[hours_kind])
        team = TeamSpec(index, f"T{index + 1:02d}", name, kind, calendar)
        teams.append(team)
        lead = new_agent("team_lead", index)
        team.lead = lead.index
        return team

    busy_not_effective = overloaded = -1
    for care_index, size in enumerate(care_sizes):
        zones = _ROUND_THE_CLOCK_ZONES if config.around_the_clock else _CARE_ZONES
        zone = zones[care_index % len(zones)]
        team = new_team(
            "care",
            f"Customer Care {care_index + 1}",
            zone,
            "care_ph" if zone[1] == "ph" else "care",
        )
        spanish = care_index == 0
        general = size - (1 if spanish else 0)
        phone_n = max(2, round(general * 0.5))
        chat_n = max(1, round(general * 0.25))
        email_n = max(1, general - phone_n - chat_n)
        phone_n = general - chat_n - email_n
        phone = new_group(
            team.index,
            "phone",
            "general",
            True,
            ("phone",),
            (1.0,),
            _CARE_CATEGORIES,
            _CONSUMER_HEAVY,
        )
        chat = new_group(
            team.index,
            "chat",
            "general",
            True,
            ("chat",),
            (1.0,),
            _CARE_CATEGORIES,
            _CONSUMER_HEAVY,
        )
        email = new_group(
            team.index,
            "email",
            "general",
            False,
            ("email", "web", "sms"),
            (0.75, 0.15, 0.10),
            _CARE_CATEGORIES,
            _CONSUMER_HEAVY,
        )
        for group, count in ((phone, phone_n), (chat, chat_n), (email, email_n)):
            for _ in range(count):
                agent = new_agent("frontline", team.index)
                agent.group = group.index
                group.agents.append(agent.index)
        if spanish:
            queue = new_group(
                team.index,
                "spanish",
                "spanish",
                False,
                ("email", "web"),
                (0.85, 0.15),
                _CARE_CATEGORIES,
                _CONSUMER_HEAVY,
                language="es",
                overload=config.spanish_overload,
            )
            agent = new_agent("frontline", team.index)
            agent.group = queue.index
            agent.languages = ("en", "es")
            agent.speed = 1.3  # writes carefully, often translating internal notes
            agent.skill = 0.75
            queue.agents.append(agent.index)
            overloaded = agent.index
            # The busy-but-not-effective agent: first in the phone hunt group, rushes calls.
            bne = agents[phone.agents[0]]
            bne.priority = True
            bne.speed = 0.45
            bne.skill = 0.12
            busy_not_effective = bne.index

    numbers: dict[str, int] = {}
    for kind, roles in specialist_teams:
        number = numbers[kind] = numbers.get(kind, 0) + 1
        if kind == "specialists":
            team = new_team(kind, "Specialists", ("America/New_York", "us"), "specialists")
        elif kind == "technical":
            zone = ("Europe/London", "uk") if number % 2 == 0 else ("America/New_York", "us")
            team = new_team(kind, f"Technical Support {number}", zone, "technical")
        else:
            team = new_team(
                kind, f"Customer Success & Social {number}", ("America/New_York", "us"), "success"
            )
        by_role: dict[str, list[AgentSpec]] = {}
        for role_name in roles:
            by_role.setdefault(role_name, []).append(new_agent(role_name, team.index))
        tech = by_role.get("technical_support", [])
        if tech:
            tech_phone = new_group(
                team.index,
                "tech_phone",
                "technical",
                True,
                ("phone",),
                (1.0,),
                _TECH_CATEGORIES,
                _BUSINESS_HEAVY,
            )
            tech_email = None
            if len(tech) > 1:
                tech_email = new_group(
                    team.index,
                    "tech_email",
                    "technical",
                    False,
                    ("email", "web"),
                    (0.8, 0.2),
                    _TECH_CATEGORIES,
                    _BUSINESS_HEAVY,
                )
            for position, agent in enumerate(tech):
                target = tech_phone if position % 2 == 0 or tech_email is None else tech_email
                agent.group = target.index
                target.agents.append(agent.index)
        success_members = by_role.get("customer_success", []) + by_role.get("account_manager", [])
        if success_members:
            accounts = new_group(
                team.index,
                "accounts",
                "accounts",
                False,
                ("email",),
                (1.0,),
                _ACCOUNT_CATEGORIES,
                _BUSINESS_HEAVY,
            )
            for agent in success_members:
                agent.group = accounts.index
                accounts.agents.append(agent.index)
        social_members = by_role.get("social_media", [])
        if social_members:
            social = new_group(
                team.index,
                "social",
                "social",
                False,
                ("social",),
                (1.0,),
                _SOCIAL_CATEGORIES,
                _CONSUMER_HEAVY,
            )
            for agent in social_members:
                agent.group = social.index
                social.agents.append(agent.index)

    # Working week: five days, the extra closed day rotating through the team.
    for team in teams:
        open_days = [d for d in range(7) if team.calendar.hours[d] is not None]
        for position, member in enumerate(team.members):
            agent = agents[member]
            extra = len(open_days) - 5
            if extra <= 0:
                agent.off_weekdays = ()
            elif agent.index in (busy_not_effective, overloaded):
                agent.off_weekdays = tuple(open_days[5:])
            else:
                agent.off_weekdays = tuple(
                    open_days[(position + k * 3) % len(open_days)] for k in range(extra)
                )
    return Organisation(teams, agents, groups, busy_not_effective, overloaded)


def _chunks(items: Sequence[T], size: int) -> list[list[T]]:
    size = max(1, size)
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _spread_order(roles: list[str]) -> list[int]:
    """Indices of `roles` reordered round-robin by role, so chunks mix every role."""
    by_role: dict[str, list[int]] = {}
    for i, role in enumerate(roles):
        by_role.setdefault(role, []).append(i)
    order: list[int] = []
    queues = list(by_role.values())
    while any(queues):
        for queue in queues:
            if queue:
                order.append(queue.pop(0))
    return order


T = TypeVar("T")
SEGMENTS = ("consumer", "small_business", "enterprise")
# Monthly churn hazard and plan price range by segment.
_MONTHLY_CHURN = np.array([0.03, 0.02, 0.01])
_PLAN_PRICE = np.array([[9.0, 30.0], [99.0, 299.0], [990.0, 4990.0]])
_SUBSCRIBER_SHARE = np.array([0.4, 1.0, 1.0])


@dataclass
class Customers:
    """The customer base as columns (times are epoch seconds; churned = huge when never)."""

    ids: list[str]
    segment: np.ndarray  # int8 index into SEGMENTS
    acquired: np.ndarray  # int64
    churned: np.ndarray  # int64
    subscriber: np.ndarray  # bool
    plan_price: np.ndarray  # float64
    # Per segment: customer indices and cumulative contact propensity (for weighted picks).
    pools: list[tuple[np.ndarray, np.ndarray]]

    def __len__(self) -> int:
        return len(self.ids)


NEVER = np.iinfo(np.int64).max // 4


def build_customers(
    count: int, window_start: int, window_end: int, rng: np.random.Generator
) -> Customers:
    segment = rng.choice(3, size=count, p=[0.72, 0.2, 0.08]).astype(np.int8)
    before = rng.random(count) < 0.82
    three_years = 3 * 365 * 86400
    acquired = np.where(
        before,
        window_start - rng.integers(1, three_years, size=count),
        window_start + rng.integers(0, max(1, window_end - window_start), size=count),
    ).astype(np.int64)
    hazard_per_second = _MONTHLY_CHURN[segment] / (30 * 86400)
    life = rng.exponential(1.0, size=count) / hazard_per_second
    churn_at = np.maximum(acquired, window_start) + life.astype(np.int64)
    churned = np.where(churn_at < window_end, churn_at, NEVER).astype(np.int64)
    subscriber = rng.random(count) < _SUBSCRIBER_SHARE[segment]
    low, high = _PLAN_PRICE[segment, 0], _PLAN_PRICE[segment, 1]
    plan_price = np.round(low + (high - low) * rng.random(count), 0) - 0.01
    propensity = rng.gamma(2.0, 1.0, size=count)
    pools = []
    for s in range(3):
        members = np.flatnonzero(segment == s)
        weights = np.cumsum(propensity[members])
        pools.append((members, weights / weights[-1] if len(weights) else weights))
    width = max(6, len(str(count)))
    ids = [f"C{i + 1:0{width}d}" for i in range(count)]
    return Customers(ids, segment, acquired, churned, subscriber, plan_price, pools)


def customer_records(
    customers: Customers, rng: np.random.Generator, chunk: int = 20_000
) -> Iterator[list[dict[str, object]]]:
    """Customer records in lists of `chunk`, built column-wise (times formatted by numpy)."""
    n = len(customers)
    firsts = rng.integers(0, len(FIRST_NAMES), size=n).tolist()
    lasts = rng.integers(0, len(LAST_NAMES), size=n).tolist()
    acquired = _iso_column(customers.acquired)
    churned_raw = customers.churned
    churned = _iso_column(np.where(churned_raw == NEVER, 0, churned_raw))
    has_churned = (churned_raw != NEVER).tolist()
    segments = [SEGMENTS[s] for s in customers.segment.tolist()]
    out: list[dict[str, object]] = []
    for i in range(n):
        if len(out) == chunk:
            yield out
            out = []
        first, last = FIRST_NAMES[firsts[i]], LAST_NAMES[lasts[i]]
        record: dict[str, object] = {
            "type": "customer",
            "id": customers.ids[i],
            "name": f"{first} {last}",
            "email": f"{first}.{last}.{i + 1}@example.com".lower().replace("'", ""),
            "segment": segments[i],
            "acquired_at": acquired[i],
        }
        if has_churned[i]:
            record["churned_at"] = churned[i]
        out.append(record)
    yield out


def _iso_column(epochs: np.ndarray) -> list[str]:
    text = np.datetime_as_string(epochs.astype("datetime64[s]"), unit="s")
    return [value + "Z" for value in text.tolist()]


def holiday_dates(calendar: CalendarSpec) -> set[date]:
    return {date.fromisoformat(d) for d in calendar.holidays}
