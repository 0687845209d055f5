"""KPI targets: the defaults of the KPI definitions, industry profiles, and overrides per
organisation, role, team and channel from the `[targets]` table of the configuration.

One place for every view: the scorecards, alerts and gamification judge agents and teams by
`resolve_targets(settings, role, team)`; the dashboards draw the organisation's target lines
from `resolve_targets(settings)` (the settings their request context holds), customer health
judges accounts' CSAT by the same, and `servicepulse targets show` prints them. It lives in
the KPI layer because both the web and the scorecards read it.

Where a default comes from: a KPI's default target is on its definition
(`servicepulse.kpi.definitions`, `KpiDefinition.target`), beside its label, unit and
direction; IQS, adherence and conformance are engine KPIs like any other. First response is
judged per channel: its channel targets are the configuration's `frt_target_s` (the numbers
the engine's `within_target` share uses), phone being judged by its service level. A KPI a
scorecard names but the engine does not compute yet has its target in `NOT_IN_ENGINE` below,
and nowhere else.

Resolution order, later wins: default → industry profile → organisation (top-level entries
of `[targets]`) → role (`[targets.role.<role>]`) → team (`[targets.team.<team>]`). Any level
may hold a `channel.<channel>` table; channel entries apply to that channel only.

An entry is a number (the target) or a table with any of `target`, `stretch`, `low`, `high`
(occupancy's band) and `weight` (its weight in the balanced score). Every resolved value
remembers which level set it, which `servicepulse targets show` prints.

The settings are passed in (a `servicepulse.config.Settings` or the `KpiSettings` a request
context holds); the configuration file is never read here. Without settings: the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from servicepulse.errors import InvalidRequest
from servicepulse.kpi.definitions import KPIS, DefaultTarget, TargetDirection

CHANNELS = ("phone", "email", "chat", "social", "sms", "web", "in_person")
ROLES = ("frontline", "technical_support", "customer_success", "social_media",
         "account_manager", "team_lead", "manager")


class TargetError(InvalidRequest):
    """A `[targets]` entry that cannot be used; the message names the key and what is allowed."""


@dataclass(frozen=True)
class Target:
    """What a KPI is judged against (a `DefaultTarget` once resolved, with its KPI and the level
    that set it). `floor` is the worst value of the KPI's scale, so that attainment of a
    higher-is-better KPI is (value − floor) / (target − floor)."""

    kpi: str
    direction: TargetDirection
    target: float | None = None
    stretch: float | None = None
    low: float | None = None  # band KPIs (occupancy)
    high: float | None = None
    floor: float = 0.0
    weight: float = 1.0
    set_by: str = "default"

    @classmethod
    def of(cls, kpi: str, default: DefaultTarget) -> Target:
        return cls(kpi, default.direction, default.target, default.stretch, default.low,
                   default.high, default.floor, default.weight)

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


# KPIs a role scorecard names that the engine does not compute yet: their target is here
# (shown, never scored) until their definition, with its target, joins the engine's.
NOT_IN_ENGINE: dict[str, DefaultTarget] = {"upsell_revenue": DefaultTarget("info")}

# The order targets are listed in (`targets show`, the JSON of a scorecard's targets): the
# customer's outcome, then speed and workforce, then the rest; volume and the unscored last.
# A KPI given a target and not named here is listed after these, in the catalogue's order.
SHOWN_ORDER = ("csat", "nps", "fcr", "iqs", "frt", "service_level", "occupancy", "adherence",
               "conformance", "abandon_rate", "aht", "resolution_rate", "ttr", "ces",
               "escalation_rate", "repeat_contact_rate", "retention_rate", "engagement_rate",
               "sentiment", "cltv", "reach", "impressions", "contacts", "upsell_revenue")


def _defaults() -> dict[str, Target]:
    found = {name: Target.of(name, definition.target) for name, definition in KPIS.items()
             if definition.target is not None}
    found.update({name: Target.of(name, default) for name, default in NOT_IN_ENGINE.items()})
    rank = {name: index for index, name in enumerate(SHOWN_ORDER)}
    return dict(sorted(found.items(), key=lambda item: rank.get(item[0], len(rank))))


# Every KPI that has a target, with its default (the definitions' targets).
DEFAULT_TARGETS: dict[str, Target] = _defaults()

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
    """The targets that apply to one agent or team (or the organisation), and where each
    came from."""

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


# The configuration's built-in first-response targets (config.FirstResponseTargets), to tell a
# configured `frt_target_s` from the default in `set_by`.
def _built_in_frt() -> dict[str, float]:
    from servicepulse.config import FirstResponseTargets

    return FirstResponseTargets().as_dict()


def _frt_targets(settings: Any) -> dict[str, float]:
    """The first-response target (s) of each channel: the engine's `frt_targets` of a
    KpiSettings, `frt_target_s` of a config.Settings, the built-in defaults without settings."""
    from servicepulse.kpi.settings import KpiSettings

    if isinstance(settings, KpiSettings):
        return dict(settings.frt_targets)
    table = getattr(settings, "frt_target_s", None)
    if table is not None:
        return dict(table.as_dict())
    return _built_in_frt()


def _channel_defaults(settings: Any) -> dict[tuple[str, str], Target]:
    """First response's per-channel targets: the configured seconds of each channel, with
    the definition's stretch; phone is judged by its service level instead."""
    built_in = _built_in_frt()
    frt = DEFAULT_TARGETS["frt"]
    stretch = KPIS["frt"].target.channel_stretch if KPIS["frt"].target is not None else {}
    found: dict[tuple[str, str], Target] = {}
    for channel, seconds in _frt_targets(settings).items():
        if channel == "phone" or channel not in CHANNELS:
            continue
        configured = built_in.get(channel) != seconds
        found[("frt", channel)] = replace(
            frt, target=float(seconds), stretch=stretch.get(channel),
            set_by="configuration frt_target_s" if configured else "default")
    return found


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


def _profile(settings: Any) -> str:
    profile = getattr(settings, "industry_profile", "general")
    return str(getattr(profile, "value", profile))


def resolve_targets(settings: Any = None, role: str | None = None,
                    team: str | None = None) -> ResolvedTargets:
    """The targets for an agent of `role` in `team` (either may be None; both None: the
    organisation's). `settings`: a config.Settings or a KpiSettings (their `targets`,
    `industry_profile` and first-response targets); None: the defaults."""
    table: dict[str, Any] = dict(getattr(settings, "targets", None) or {})
    profile = _profile(settings)
    resolved = ResolvedTargets(dict(DEFAULT_TARGETS), _channel_defaults(settings))
    if profile not in PROFILES:
        raise TargetError(f"industry_profile {profile!r} is not known; use "
                          f"{', '.join(PROFILES)}")
    overrides, weights = PROFILES[profile]
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
    table: dict[str, Any] = dict(getattr(settings, "targets", None) or {})
    resolve_targets(settings)
    for role in table.get("role", {}) or {}:
        if role not in ROLES:
            raise TargetError(f"targets: role.{role}: unknown role; use {', '.join(ROLES)}")
        resolve_targets(settings, role=role)
    for team in table.get("team", {}) or {}:
        resolve_targets(settings, team=team)
