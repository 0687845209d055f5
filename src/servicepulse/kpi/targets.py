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
from servicepulse.kpi.definitions import KPIS, DefaultTarget

CHANNELS = ("phone", "email", "chat", "social", "sms", "web", "in_person")
ROLES = ("frontline", "technical_support", "customer_success", "social_media",
         "account_manager", "team_lead", "manager")


class TargetError(InvalidRequest):
    """A `[targets]` entry that cannot be used; the message names the key and what is allowed."""


@dataclass(frozen=True)
class Target:
    """What one KPI (or one channel of it) is judged against once resolved: the KPI, its
    `DefaultTarget` with every level's overrides applied, and the level that set it last."""

    kpi: str
    # Named for what it is to the KPI (the numbers it is judged by), not "default": once a
    # profile or the configuration overrides it, it is no longer the definition's default.
    # The code that judges a value (attainment, explain, alerts, the web's target lines) needs
    # these numbers only, so it takes this, not the Target.
    judged_by: DefaultTarget
    set_by: str = "default"

    def describe(self) -> str:
        values = self.judged_by
        if values.direction == "band":
            return f"{_number(values.low)}–{_number(values.high)}"
        if values.direction == "relative":
            return "team median"
        if values.direction == "info":
            return "none (shown, not scored)"
        if values.target is None:
            return "per channel (phone: service level)"
        sign = "≥" if values.direction == "higher" else "≤"
        text = f"{sign} {_number(values.target)}"
        stretch = values.stretch
        return text + (f" (stretch {_number(stretch)})" if stretch is not None else "")


def _resolved(kpi: str, default: DefaultTarget) -> Target:
    # `channel_stretch` is the definition's input to first response's channel targets, which
    # `_channel_defaults` reads from the definition and makes Targets of their own (each with
    # its `stretch`); a resolved target carries none, so that it can never disagree with a
    # channel's stretch a level overrides.
    return Target(kpi, replace(default, channel_stretch={}))


def _changed(resolved: Target, set_by: str | None = None, /, **values: Any) -> Target:
    """`resolved` with some of its numbers changed (`target=` among them: hence positional
    only), set by `set_by` (None: the level that set it before)."""
    return Target(resolved.kpi, replace(resolved.judged_by, **values),
                  resolved.set_by if set_by is None else set_by)


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
    found = {name: _resolved(name, definition.target) for name, definition in KPIS.items()
             if definition.target is not None}
    found.update({name: _resolved(name, default) for name, default in NOT_IN_ENGINE.items()})
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
            values = target.judged_by
            return {"direction": values.direction, "target": values.target,
                    "stretch": values.stretch, "low": values.low, "high": values.high,
                    "weight": values.weight, "set_by": target.set_by,
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
        found[("frt", channel)] = _changed(
            frt, "configuration frt_target_s" if configured else "default",
            target=float(seconds), stretch=stretch.get(channel))
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
    band = target.judged_by.direction == "band"
    if band and "target" in values:
        raise TargetError(f"targets: {key}: {target.kpi} is a band; set low and high")
    low = values.get("low", target.judged_by.low)
    high = values.get("high", target.judged_by.high)
    if band and low is not None and high is not None and low > high:
        raise TargetError(f"targets: {key}: low ({low}) is above high ({high})")
    return _changed(target, level, **{name: float(value) for name, value in values.items()})


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
        resolved.kpis[kpi] = _changed(resolved.kpis[kpi], f"industry profile {profile}",
                                      target=value)
    for kpi, weight in weights.items():
        resolved.kpis[kpi] = _changed(resolved.kpis[kpi], f"industry profile {profile}",
                                      weight=weight)
        for key, target in list(resolved.channels.items()):
            if key[0] == kpi:
                resolved.channels[key] = _changed(target, weight=weight)
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
