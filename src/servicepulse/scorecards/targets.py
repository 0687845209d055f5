"""KPI targets: defaults, industry profiles, and overrides per organisation,
role, team and channel from the `[targets]` table of the configuration.

Resolution order, later wins: built-in default → industry profile → organisation (top-level
entries of `[targets]`) → role (`[targets.role.<role>]`) → team (`[targets.team.<team>]`).
Any level may hold a `channel.<channel>` table; channel entries apply to that channel only
(first response time is judged per channel; phone is judged by service level).

An entry is a number (the target) or a table with any of `target`, `stretch`, `low`, `high`
(occupancy's band) and `weight` (its weight in the balanced score). Every resolved value
remembers which level set it, which `servicepulse targets show` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from servicepulse.config import FirstResponseTargets
from servicepulse.errors import InvalidRequest

Direction = Literal["higher", "lower", "band", "relative", "info"]

CHANNELS = ("phone", "email", "chat", "social", "sms", "web", "in_person")
ROLES = ("frontline", "technical_support", "customer_success", "social_media",
         "account_manager", "team_lead", "manager")


class TargetError(InvalidRequest):
    """A `[targets]` entry that cannot be used; the message names the key and what is allowed."""


@dataclass(frozen=True)
class Target:
    """What a KPI is judged against. `floor` is the worst value of the KPI's scale, so that
    attainment of a higher-is-better KPI is (value − floor) / (target − floor)."""

    kpi: str
    direction: Direction
    target: float | None = None
    stretch: float | None = None
    low: float | None = None  # band KPIs (occupancy)
    high: float | None = None
    floor: float = 0.0
    weight: float = 1.0
    set_by: str = "default"

    def describe(self) -> str:
        if self.direction == "band":
            return f"{_number(self.low)}–{_number(self.high)}"
        if self.direction == "relative":
            return "team median"
        if self.direction == "info":
            return "none (shown, not scored)"
        if self.target is None:
            return "per channel (phone: service level)"
        sign = "≥" if self.direction == "higher" else "≤"
        text = f"{sign} {_number(self.target)}"
        return text + (f" (stretch {_number(self.stretch)})" if self.stretch is not None else "")


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}"


# The product's default targets; those it does not name are this area's documented choices
# (docs/scorecards.md).
DEFAULT_TARGETS: dict[str, Target] = {
    target.kpi: target for target in (
        Target("csat", "higher", 80.0),
        Target("nps", "higher", 50.0, floor=-100.0),
        Target("fcr", "higher", 70.0, stretch=80.0),
        Target("iqs", "higher", 85.0),
        Target("frt", "lower", None),  # per channel, see DEFAULT_CHANNEL_TARGETS
        Target("service_level", "higher", 80.0),
        Target("occupancy", "band", low=75.0, high=85.0),
        Target("adherence", "higher", 90.0),
        Target("conformance", "higher", 95.0),
        Target("abandon_rate", "lower", 5.0),
        Target("aht", "relative"),
        Target("resolution_rate", "higher", 85.0),
        Target("ttr", "lower", 86_400.0),
        Target("ces", "higher", 5.0, floor=1.0),
        Target("escalation_rate", "lower", 10.0),
        Target("repeat_contact_rate", "lower", 15.0),
        Target("retention_rate", "higher", 90.0),
        Target("engagement_rate", "higher", 1.0),
        Target("sentiment", "higher", 0.2, floor=-1.0),
        Target("cltv", "info"),
        Target("reach", "info", weight=0.0),
        Target("impressions", "info", weight=0.0),
        Target("contacts", "info", weight=0.0),
        Target("upsell_revenue", "info"),
    )
}

# First response per channel: the configuration's defaults (config.FirstResponseTargets), so
# that the scorecards judge a channel by the same target as the pages (sms and web have none
# by default); chat has a stretch of 30 s. Phone is judged by its service level (≥ 80%
# answered in 20 s), not by a response time.
_FRT_STRETCH = {"chat": 30.0}
DEFAULT_CHANNEL_TARGETS: dict[tuple[str, str], Target] = {
    ("frt", channel): Target("frt", "lower", seconds, stretch=_FRT_STRETCH.get(channel))
    for channel, seconds in FirstResponseTargets().model_dump().items()
    if seconds is not None and channel != "phone"
}

# Industry profiles: (target overrides, weights).
PROFILES: dict[str, tuple[dict[str, float], dict[str, float]]] = {
    "general": ({}, {}),
    "ecommerce": ({}, {"frt": 2.0, "csat": 2.0, "service_level": 2.0}),
    "telecom": ({"fcr": 80.0}, {"fcr": 2.0, "nps": 2.0}),
    "b2b": ({}, {"ces": 2.0, "retention_rate": 2.0, "nps": 2.0}),
}

_ENTRY_KEYS = {"target", "stretch", "low", "high", "weight"}


@dataclass
class ResolvedTargets:
    """The targets that apply to one agent or team, and where each came from."""

    kpis: dict[str, Target] = field(default_factory=dict)
    channels: dict[tuple[str, str], Target] = field(default_factory=dict)

    def get(self, kpi: str, channel: str | None = None) -> Target | None:
        if channel is not None and (kpi, channel) in self.channels:
            return self.channels[(kpi, channel)]
        return self.kpis.get(kpi)

    def as_json(self) -> dict[str, Any]:
        def one(target: Target) -> dict[str, Any]:
            return {"direction": target.direction, "target": target.target,
                    "stretch": target.stretch, "low": target.low, "high": target.high,
                    "weight": target.weight, "set_by": target.set_by,
                    "describe": target.describe()}

        result: dict[str, Any] = {name: one(target) for name, target in self.kpis.items()}
        for (kpi, channel), target in sorted(self.channels.items()):
            result.setdefault(kpi, {}).setdefault("channels", {})[channel] = one(target)
        return result


def _apply(target: Target, entry: Any, level: str, key: str) -> Target:
    if isinstance(entry, bool) or not isinstance(entry, (int, float, dict)):
        raise TargetError(f"targets: {key} = {entry!r}: give a number (the target) or a table "
                          f"with {', '.join(sorted(_ENTRY_KEYS))}")
    values = {"target": entry} if not isinstance(entry, dict) else dict(entry)
    unknown = set(values) - _ENTRY_KEYS
    if unknown:
        raise TargetError(f"targets: {key} has unknown key(s) {', '.join(sorted(unknown))}; "
                          f"allowed: {', '.join(sorted(_ENTRY_KEYS))}")
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TargetError(f"targets: {key}.{name} = {value!r}: must be a number")
    if "weight" in values and values["weight"] < 0:
        raise TargetError(f"targets: {key}.weight = {values['weight']!r}: must be >= 0")
    if target.direction == "band" and "target" in values:
        raise TargetError(f"targets: {key}: {target.kpi} is a band; set low and high")
    low, high = values.get("low", target.low), values.get("high", target.high)
    if target.direction == "band" and low is not None and high is not None and low > high:
        raise TargetError(f"targets: {key}: low ({low}) is above high ({high})")
    changes: dict[str, Any] = {name: float(value) for name, value in values.items()}
    return replace(target, **changes, set_by=level)


def _level(resolved: ResolvedTargets, table: dict[str, Any], level: str, prefix: str) -> None:
    for name, entry in table.items():
        if name in ("role", "team"):
            continue
        if name == "channel":
            if not isinstance(entry, dict):
                raise TargetError(f"targets: {prefix}channel must be a table of channels")
            for channel, kpis in entry.items():
                if channel not in CHANNELS:
                    raise TargetError(f"targets: {prefix}channel.{channel}: unknown channel; "
                                      f"use {', '.join(CHANNELS)}")
                if not isinstance(kpis, dict):
                    raise TargetError(f"targets: {prefix}channel.{channel} must be a table")
                for kpi, value in kpis.items():
                    base = resolved.get(kpi, channel)
                    if base is None:
                        raise TargetError(_unknown(f"{prefix}channel.{channel}.{kpi}"))
                    resolved.channels[(kpi, channel)] = _apply(
                        base, value, f"{level}, channel {channel}",
                        f"{prefix}channel.{channel}.{kpi}")
            continue
        if name not in resolved.kpis:
            raise TargetError(_unknown(prefix + name))
        resolved.kpis[name] = _apply(resolved.kpis[name], entry, level, prefix + name)


def _unknown(key: str) -> str:
    return (f"targets: {key}: unknown KPI; targets can be set for "
            f"{', '.join(sorted(DEFAULT_TARGETS))}")


def resolve_targets(settings: Any = None, role: str | None = None,
                    team: str | None = None) -> ResolvedTargets:
    """The targets for an agent of `role` in `team` (either may be None)."""
    if settings is None:
        from servicepulse.config import load_settings

        settings = load_settings()
    table: dict[str, Any] = dict(getattr(settings, "targets", {}) or {})
    profile = str(getattr(getattr(settings, "industry_profile", "general"), "value",
                          getattr(settings, "industry_profile", "general")))
    resolved = ResolvedTargets(dict(DEFAULT_TARGETS), dict(DEFAULT_CHANNEL_TARGETS))
    overrides, weights = PROFILES.get(profile, ({}, {}))
    for kpi, value in overrides.items():
        resolved.kpis[kpi] = replace(resolved.kpis[kpi], target=value,
                                     set_by=f"industry profile {profile}")
    for kpi, weight in weights.items():
        resolved.kpis[kpi] = replace(resolved.kpis[kpi], weight=weight,
                                     set_by=f"industry profile {profile}")
        for key, target in list(resolved.channels.items()):
            if key[0] == kpi:
                resolved.channels[key] = replace(target, weight=weight)
    _level(resolved, table, "organisation", "")
    for kind, name in (("role", role), ("team", team)):
        levels = table.get(kind, {})
        if not isinstance(levels, dict):
            raise TargetError(f"targets: {kind} must be a table of {kind} names")
        if name is not None and name in levels:
            entries = levels[name]
            if not isinstance(entries, dict):
                raise TargetError(f"targets: {kind}.{name} must be a table of KPI targets")
            _level(resolved, entries, f"{kind} {name}", f"{kind}.{name}.")
    return resolved


def check_targets(settings: Any) -> None:
    """Raise TargetError for any bad entry in the configuration, whatever level it is at."""
    table: dict[str, Any] = dict(getattr(settings, "targets", {}) or {})
    resolve_targets(settings)
    for role in table.get("role", {}) or {}:
        if role not in ROLES:
            raise TargetError(f"targets: role.{role}: unknown role; use {', '.join(ROLES)}")
        resolve_targets(settings, role=role)
    for team in table.get("team", {}) or {}:
        resolve_targets(settings, team=team)
