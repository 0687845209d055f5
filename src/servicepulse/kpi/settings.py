"""The settings the KPI engine reads, taken from `servicepulse.config.Settings`.

The configuration module belongs to another area; this adapter reads the names agreed for it
(and falls back to the documented defaults for any it does not have), so the engine only ever
sees one small, frozen, typed object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def default_hourly_costs() -> dict[str, float]:
    """The hourly cost of an agent without their own, per role: the configuration's
    `default_hourly_cost` defaults (config.HourlyCosts: the role's median salary / 2,080 h),
    their one definition. Imported when first needed: every program's start has loaded the
    configuration by then."""
    from servicepulse.config import HourlyCosts

    return HourlyCosts().as_dict()


SERVICE_LEVEL_FORMULAS = (
    # answered within / (answered + abandoned after the short-abandon threshold): the default
    "short_abandons_excluded",
    # answered within / answered
    "answered_only",
    # answered within / (answered + all abandoned)
    "all_abandoned",
    # (answered within + abandoned within) / (answered + abandoned)
    "abandoned_within_met",
    # answered within / (answered + abandoned after the service-level threshold)
    "abandoned_within_excluded",
)


@dataclass(frozen=True)
class KpiSettings:
    timezone: str = "UTC"
    repeat_window_days: float = 7
    short_abandon_s: float = 5
    service_level_thresholds: dict[str, float] = field(
        default_factory=lambda: {"phone": 20.0, "chat": 30.0})
    service_level_formula: str = "short_abandons_excluded"
    minimum_sample: int = 30
    gross_margin: float = 1.0
    cltv_horizon_months: float = 60
    frt_targets: dict[str, float] = field(default_factory=lambda: {
        "chat": 60.0, "email": 86_400.0, "social": 3_600.0, "phone": 20.0})
    hourly_costs: dict[str, float] = field(default_factory=default_hourly_costs)
    # the organisation's `[targets]` table and industry profile: not read by the engine's
    # queries, but by servicepulse.kpi.targets, so that every view holding these settings
    # (a request's context) judges KPIs by the configured targets
    targets: dict[str, Any] = field(default_factory=dict)
    industry_profile: str = "general"

    def __post_init__(self) -> None:
        if self.service_level_formula not in SERVICE_LEVEL_FORMULAS:
            raise ValueError(
                f"service_level_formula {self.service_level_formula!r} is not one of "
                f"{', '.join(SERVICE_LEVEL_FORMULAS)}")
        if self.minimum_sample < 1:
            raise ValueError("minimum_sample must be at least 1")


def _first(source: Any, names: tuple[str, ...], default: Any) -> Any:
    """The first attribute of `source` (or of its `kpi` section) among `names`."""
    for holder in (source, getattr(source, "kpi", None)):
        if holder is None:
            continue
        for name in names:
            value = getattr(holder, name, None)
            if value is not None:
                return value
    return default


def _as_float_map(value: Any) -> dict[str, float]:
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    return {str(key): float(item) for key, item in dict(value).items() if item is not None}


def kpi_settings(settings: Any | None = None) -> KpiSettings:
    """KpiSettings from a `servicepulse.config.Settings` (loaded when None is given)."""
    if isinstance(settings, KpiSettings):
        return settings
    if settings is None:
        try:
            from servicepulse.config import load_settings
        except ImportError:  # configuration area not in the tree yet: the documented defaults
            return KpiSettings()
        settings = load_settings()
    base = KpiSettings()
    thresholds = {**base.service_level_thresholds, **_as_float_map(_first(
        settings, ("service_level_thresholds", "service_level_threshold_s",
                   "service_level_thresholds_s"), {}))}
    targets = {**base.frt_targets, **_as_float_map(_first(
        settings, ("frt_target_s", "frt_targets", "first_response_targets"), {}))}
    costs = {**base.hourly_costs, **_as_float_map(_first(
        settings, ("default_hourly_cost", "hourly_costs", "default_hourly_costs"), {}))}
    formula = _first(settings, ("service_level_formula",), base.service_level_formula)
    return KpiSettings(
        timezone=str(_first(settings, ("timezone", "org_timezone", "organisation_timezone"),
                            base.timezone)),
        repeat_window_days=float(_first(settings, ("repeat_window_days",),
                                        base.repeat_window_days)),
        short_abandon_s=float(_first(settings, ("short_abandon_s",), base.short_abandon_s)),
        service_level_thresholds=thresholds,
        service_level_formula=str(getattr(formula, "value", formula)),
        minimum_sample=int(_first(settings, ("minimum_sample",), base.minimum_sample)),
        gross_margin=float(_first(settings, ("gross_margin",), base.gross_margin)),
        cltv_horizon_months=float(_first(settings, ("cltv_horizon_months",),
                                         base.cltv_horizon_months)),
        frt_targets=targets,
        hourly_costs=costs,
        targets=dict(getattr(settings, "targets", None) or {}),
        industry_profile=str(getattr(getattr(settings, "industry_profile", None), "value",
                                     "general")),
    )
