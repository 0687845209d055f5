"""The settings the KPI engine reads, taken from `servicepulse.config.Settings`.

`kpi_settings(settings)` maps the configuration's fields, each by its name, to one small,
frozen, typed object the engine reads (a plain dataclass: the engine builds its queries from
it many times a request). It never reads the configuration file: the program's starts load
the settings once and pass them down; `kpi_settings(None)` is the documented defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the engine's start-up does not load pydantic for the configuration
    from servicepulse.config import Settings


def default_hourly_costs() -> dict[str, float]:
    """The hourly cost of an agent without their own, per role: the configuration's
    `default_hourly_cost` defaults (config.HourlyCosts: the role's median salary / 2,080 h),
    their one definition. Imported when first needed: every program's start has loaded the
    configuration by then."""
    from servicepulse.config import HourlyCosts

    return HourlyCosts().as_dict()


def default_frt_targets() -> dict[str, float]:
    """First response's target per channel, seconds: the configuration's `frt_target_s`
    defaults (config.FirstResponseTargets), their one definition; the scorecards' and the
    pages' targets are resolved from the same (servicepulse.kpi.targets)."""
    from servicepulse.config import FirstResponseTargets

    return FirstResponseTargets().as_dict()


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
    frt_targets: dict[str, float] = field(default_factory=default_frt_targets)
    hourly_costs: dict[str, float] = field(default_factory=default_hourly_costs)
    # the organisation's `[targets]` table and industry profile: not read by the engine's
    # queries, but by servicepulse.kpi.targets, so that every view holding these settings
    # (a request's context) judges KPIs by the configured targets
    targets: dict[str, Any] = field(default_factory=dict)
    industry_profile: str = "general"
    # the window (days) every page and command shows when none is asked
    default_window_days: int = 28

    def __post_init__(self) -> None:
        if self.service_level_formula not in SERVICE_LEVEL_FORMULAS:
            raise ValueError(
                f"service_level_formula {self.service_level_formula!r} is not one of "
                f"{', '.join(SERVICE_LEVEL_FORMULAS)}")
        if self.minimum_sample < 1:
            raise ValueError("minimum_sample must be at least 1")


_DEFAULTS = KpiSettings()


def kpi_settings(settings: Settings | KpiSettings | None = None) -> KpiSettings:
    """KpiSettings from the `servicepulse.config.Settings` a start loaded; None: the
    documented defaults (the file is never read here)."""
    if isinstance(settings, KpiSettings):
        return settings
    if settings is None:
        return _DEFAULTS
    return KpiSettings(
        timezone=settings.timezone,
        repeat_window_days=settings.repeat_window_days,
        short_abandon_s=settings.short_abandon_s,
        service_level_thresholds=settings.service_level_threshold_s.as_dict(),
        service_level_formula=settings.service_level_formula.value,
        minimum_sample=settings.minimum_sample,
        gross_margin=settings.gross_margin,
        cltv_horizon_months=settings.cltv_horizon_months,
        frt_targets=settings.frt_target_s.as_dict(),
        hourly_costs=settings.default_hourly_cost.as_dict(),
        default_window_days=settings.default_window_days,
        targets=dict(settings.targets),
        industry_profile=settings.industry_profile.value,
    )
