"""Every KPI of docs/kpis.md, each defined once, here.

A definition names its label, unit, direction (is higher better?), the records it reads, its
statistic (a kind from `servicepulse.kpi.kinds` holding one small Ibis expression over the
rows of a source in `servicepulse.kpi.sources`) and optional extra figures reported beside
the value. The engine does grouping, periods, filters and statistics for all of them, so
adding a KPI is adding one entry to KPIS.

Each definition also carries its default target (`DefaultTarget`): what a scorecard judges
the KPI against before an industry profile or the configuration's `[targets]` table changes it
(the resolution is `servicepulse.kpi.targets`). A KPI without one cannot be given a target.

Rates and shares are percentages (0-100), durations seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any, Literal

import numpy as np
from ibis import _

from servicepulse.kpi.columns import Measures, json_ints
from servicepulse.kpi.kinds import (
    Distribution,
    Figures,
    Mean,
    Nps,
    Proportion,
    Ratio,
    Statistic,
    StatisticKind,
    Total,
    proportion_figures,
)
from servicepulse.kpi.settings import KpiSettings
from servicepulse.kpi.sources import SOURCES

Unit = Literal["count", "percent", "seconds", "score", "points", "currency", "per_hour"]
Direction = Literal["higher", "lower", "band", "none"]
# How a target judges a KPI: against a fixed number (higher/lower is better), inside a band,
# against the team's median (relative: AHT, judged only with quality) or not at all (info:
# shown, never scored).
TargetDirection = Literal["higher", "lower", "band", "relative", "info"]


@dataclass(frozen=True)
class DefaultTarget:
    """A KPI's default target, in the KPI's unit. `floor` is the worst value of the KPI's
    scale, so that attainment of a higher-is-better KPI is (value − floor) / (target − floor);
    `weight` is its weight in the balanced score (0: never scores). A KPI judged per channel
    (first response) has no `target` of its own: its channel targets are the configuration's
    `frt_target_s`, with `channel_stretch` beside them. Resolved (a profile's and the
    configuration's overrides applied), it is what a `kpi.targets.Target` is `judged_by`."""

    direction: TargetDirection
    target: float | None = None
    stretch: float | None = None
    low: float | None = None  # band KPIs (occupancy)
    high: float | None = None
    floor: float = 0.0
    weight: float = 1.0
    channel_stretch: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class KpiDefinition:
    name: str
    label: str
    unit: Unit
    direction: Direction
    statistic: Statistic
    description: str
    extras: dict[str, Statistic] = field(default_factory=dict)
    target: DefaultTarget | None = None  # None: no target can be set (shown only)

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"KPI name {self.name!r} must be an identifier")
        if self.target is not None and self.target.direction in ("higher", "lower", "band") \
                and self.target.direction != self.direction:
            # a target judging the other way than the KPI is better would reward the worse
            raise ValueError(f"KPI {self.name}: a {self.target.direction} target on a KPI "
                             f"whose direction is {self.direction}")
        for statistic in (self.statistic, *self.extras.values()):
            for source in _sources_of(statistic):
                if source not in SOURCES:
                    raise ValueError(f"KPI {self.name}: unknown source {source!r}")
        if set(self.extras) & {"value", "n", "ci", "low_sample", "previous", "change"}:
            raise ValueError(f"KPI {self.name}: an extra's name clashes with a result field")

    @property
    def sources(self) -> set[str]:
        found: set[str] = set()
        for statistic in (self.statistic, *self.extras.values()):
            found |= _sources_of(statistic)
        return found

    @property
    def dimensions(self) -> set[str]:
        """Dimensions every source of the KPI can group by."""
        sets = [set(SOURCES[source].dimensions) for source in self.sources]
        return set.intersection(*sets) if sets else set()

    @property
    def reads(self) -> tuple[str, ...]:
        kinds: list[str] = []
        for source in sorted(self.sources):
            kinds += [kind for kind in SOURCES[source].reads if kind not in kinds]
        return tuple(kinds)


def _sources_of(statistic: Statistic) -> set[str]:
    if isinstance(statistic, Ratio):
        return statistic.sources
    return {statistic.source}


@dataclass(frozen=True)
class CountedProportion(Ratio):
    """A share whose successes and population come from a formula over totals (service
    level variants, retention): reported like a Proportion, with a Wilson interval."""

    kind: StatisticKind = field(default="proportion", init=False)

    def figures(self, prefix: str, measures: Measures, settings: KpiSettings) -> Figures:
        successes, n = self.evaluate(prefix, measures, settings)
        valid = ~np.isnan(successes) & (n > 0)
        counted = np.where(valid, n, 0)
        whole = np.where(valid, np.clip(np.nan_to_num(successes), 0, counted), 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            shares = 100 * successes / n
        figures = proportion_figures(whole.astype(np.int64), counted, value=shares)
        reported_n = np.maximum(n, 0)
        figures.n = reported_n
        figures.fields["n"] = partial(json_ints, reported_n)
        return figures


def _count(source: str, population: object) -> Total:
    return Total(source, population=population)


def _sum(source: str, value: object, population: object = None) -> Total:
    return Total(source, population=population, value=value)


# --- formulas over totals: totals[name] = (sum, rows) of every group, as arrays -----------

Totals = dict[str, tuple[np.ndarray, np.ndarray]]


def _service_level(totals: Totals, settings: KpiSettings) -> tuple[np.ndarray, np.ndarray]:
    within, answered = totals["answered_within"][0], totals["answered"][0]
    abandoned, abandoned_within = totals["abandoned"][0], totals["abandoned_within"][0]
    abandoned_long = totals["abandoned_after_short"][0]
    formula = settings.service_level_formula
    if formula == "answered_only":
        return within, answered
    if formula == "all_abandoned":
        return within, answered + abandoned
    if formula == "abandoned_within_met":
        return within + abandoned_within, answered + abandoned
    if formula == "abandoned_within_excluded":
        return within, answered + abandoned - abandoned_within
    return within, answered + abandoned_long  # short_abandons_excluded (the default)


def _retention(totals: Totals, settings: KpiSettings) -> tuple[np.ndarray, np.ndarray]:
    start, end, acquired = (totals[name][0] for name in ("start", "end", "acquired"))
    return end - acquired, start


def _share(numerator: str, denominator: str, scale: float = 100.0, n_from: str | None = None):
    def formula(totals: Totals, settings: KpiSettings) -> tuple[np.ndarray, np.ndarray]:
        top, bottom = totals[numerator][0], totals[denominator][0]
        n = totals[n_from or denominator][1]
        return np.where(bottom == 0, np.nan, scale * top / bottom), n

    return formula


def _utilization(totals: Totals, settings: KpiSettings) -> tuple[np.ndarray, np.ndarray]:
    busy, shift, logged_in = (totals[name][0] for name in ("busy", "shift", "logged_in"))
    scheduled = shift > 0
    base = np.where(scheduled, shift, logged_in)  # without shifts: logged-in time
    n = np.where(scheduled, totals["shift"][1], totals["logged_in"][1])
    return np.where(base == 0, np.nan, 100 * busy / base), n


def _adherence(totals: Totals, settings: KpiSettings) -> tuple[np.ndarray, np.ndarray]:
    adherent = (totals["in_shift_work"][0] - totals["in_other_work"][0]
                + totals["in_other_adherent"][0])
    scheduled, shifts = totals["scheduled"]
    return np.where(scheduled == 0, np.nan, 100 * adherent / scheduled), shifts


def _conformance(totals: Totals, settings: KpiSettings) -> tuple[np.ndarray, np.ndarray]:
    scheduled, shifts = totals["scheduled"]
    planned_work = scheduled - totals["planned_other"][0]
    return (np.where(planned_work <= 0, np.nan, 100 * totals["worked"][0] / planned_work),
            np.where(planned_work <= 0, 0, shifts))


def _schedule(*parts: str) -> dict[str, Total]:
    return {part: _sum("schedule", _.seconds, _.part == part) for part in parts}


def _cltv(totals: Totals, settings: KpiSettings) -> tuple[np.ndarray, np.ndarray]:
    customers, revenue, churned = (totals[name][0] for name in ("active", "revenue", "churned"))
    revenue_a_month = revenue / customers / 12
    churn_a_month = churned / customers / 12
    months = np.where(churn_a_month == 0, settings.cltv_horizon_months,
                      np.minimum(1 / churn_a_month, settings.cltv_horizon_months))
    value = revenue_a_month * settings.gross_margin * months
    return np.where(customers == 0, np.nan, value), np.where(customers == 0, 0, customers)


# --- populations ---------------------------------------------------------------------------

INBOUND = _.inbound
VOICE_INBOUND = _.inbound & _.voice
SERVICE_LEVEL_OFFERED = _.inbound & _.voice & _.sl_threshold_s.notnull()
FRT_POPULATION = _.inbound & _.frt_s.notnull()
RESOLVED = _.resolved
HANDLED = _.handled
CSAT = _.kind == "csat"
# `frt_within_target` reports each channel's FRT beside the share within target, so that no
# view needs one median across channels (a channel without a target has no share)
# (every channel of the records, those with a default target first)
FRT_CHANNELS = ("phone", "chat", "email", "social", "sms", "web", "in_person")
FRT_JUDGED = FRT_POPULATION & _.frt_target_s.notnull()
NPS = _.kind == "nps"
CES = _.kind == "ces"
SCORED = _.scored  # texts VADER scored (sentiment): the others are `unscored`, never neutral


def _definitions() -> list[KpiDefinition]:
    return [
        KpiDefinition(
            "contacts", "Contacts", "count", "none",
            Total("interactions"),
            "Interactions created in the period; inbound and outbound reported apart.",
            extras={"inbound": _count("interactions", _.inbound),
                    "outbound": _count("interactions", _.outbound)},
            target=DefaultTarget("info", weight=0.0)),
        KpiDefinition(
            "frt", "First response time", "seconds", "lower",
            Distribution("interactions", population=FRT_POPULATION, value=_.frt_s),
            "Inbound interactions with an agent response: first_response_at − created_at "
            "(phone and chat: answered_at − created_at). Value = median; mean, p90.",
            extras={
                "within_target": Proportion(
                    "interactions", population=FRT_POPULATION & _.frt_target_s.notnull(),
                    success=_.frt_s <= _.frt_target_s),
                "business_hours": Distribution(
                    "interactions", population=FRT_POPULATION, value=_.frt_business_s),
            },
            target=DefaultTarget("lower", channel_stretch={"chat": 30.0})),
        KpiDefinition(
            "frt_within_target", "First response within target", "percent", "higher",
            Proportion("interactions", population=FRT_JUDGED, success=_.frt_s <= _.frt_target_s),
            "Share of inbound first responses within their own channel's target (frt_target_s: "
            "chat 60 s, email 24 h, social 1 h, phone 20 s); channels without a target are left "
            "out. Comparable across channels, so it is the all-channel figure of first "
            "response. Beside it, per channel: `<channel>` (median, mean, p90, n of frt) and "
            "`<channel>_within_target` (null without a target).",
            extras={
                **{channel: Distribution("interactions", value=_.frt_s,
                                         population=FRT_POPULATION & (_.channel == channel))
                   for channel in FRT_CHANNELS},
                **{f"{channel}_within_target": Proportion(
                    "interactions", population=FRT_JUDGED & (_.channel == channel),
                    success=_.frt_s <= _.frt_target_s) for channel in FRT_CHANNELS},
            }),
        KpiDefinition(
            "asa", "Average speed of answer", "seconds", "lower",
            Mean("interactions", population=VOICE_INBOUND & _.answered, value=_.wait_s),
            "Mean of answered_at − created_at over answered inbound phone and chat "
            "interactions."),
        KpiDefinition(
            "aht", "Average handle time", "seconds", "none",
            Mean("interactions", population=_.handled, value=_.handle_time_s),
            "Mean of talk_s + hold_s + wrap_s over handled phone and chat interactions; other "
            "channels mean handle_s where given. Handled interactions without handle data are "
            "left out and counted in `without_handle_data`.",
            extras={"without_handle_data": _count(
                "interactions", _.handled & _.handle_time_s.isnull())},
            target=DefaultTarget("relative")),
        KpiDefinition(
            "fcr", "First contact resolution", "percent", "higher",
            Proportion("interactions", population=INBOUND & RESOLVED,
                       success=(_.reopens == 0) & (_.transfers == 0) & ~_.escalated
                       & ~_.fcr_repeat),
            "Share of resolved inbound interactions with no reopen, transfer, escalation and "
            "no further inbound contact of the same customer (any channel; same category "
            "where both have one) within the repeat window after created_at. Without "
            "customer_id the repeat check is skipped (counted in `without_customer`).",
            extras={"without_customer": _count(
                "interactions", INBOUND & RESOLVED & ~_.has_customer)},
            target=DefaultTarget("higher", 70.0, stretch=80.0)),
        KpiDefinition(
            "repeat_contact_rate", "Repeat contact rate", "percent", "lower",
            Proportion("interactions", population=INBOUND & _.has_customer, success=_.repeat),
            "Share of inbound interactions (with a customer) followed by another inbound "
            "interaction of the same customer within the repeat window.",
            extras={"without_customer": _count("interactions", INBOUND & ~_.has_customer)},
            target=DefaultTarget("lower", 15.0)),
        KpiDefinition(
            "resolution_rate", "Resolution rate", "percent", "higher",
            Proportion("interactions", population=None, success=RESOLVED),
            "Interactions created in the period that are resolved / interactions created.",
            target=DefaultTarget("higher", 85.0)),
        KpiDefinition(
            "ttr", "Time to resolution", "seconds", "lower",
            Distribution("resolved", population=None, value=_.ttr_s),
            "resolved_at − created_at for interactions resolved in the period (attributed "
            "at resolved_at). Value = median; mean, p90.",
            extras={"business_hours": Distribution("resolved", population=None,
                                                   value=_.ttr_business_s)},
            target=DefaultTarget("lower", 86_400.0)),
        KpiDefinition(
            "reopen_rate", "Reopen rate", "percent", "lower",
            Proportion("interactions", population=RESOLVED, success=_.reopens > 0),
            "Share of resolved interactions with reopens > 0."),
        KpiDefinition(
            "transfer_rate", "Transfer rate", "percent", "lower",
            Proportion("interactions", population=HANDLED, success=_.transfers > 0),
            "Share of handled interactions with transfers > 0."),
        KpiDefinition(
            "escalation_rate", "Escalation rate", "percent", "lower",
            Proportion("interactions", population=HANDLED, success=_.escalated),
            "Share of handled interactions that were escalated.",
            target=DefaultTarget("lower", 10.0)),
        KpiDefinition(
            "abandon_rate", "Abandon rate", "percent", "lower",
            Proportion("interactions", population=VOICE_INBOUND & ~_.short_abandon,
                       success=_.abandoned),
            "Abandoned / offered inbound phone and chat interactions; abandons before the "
            "short-abandon threshold count in neither.",
            target=DefaultTarget("lower", 5.0)),
        KpiDefinition(
            "service_level", "Service level", "percent", "higher",
            CountedProportion(parts={
                "answered_within": _count("interactions",
                                          SERVICE_LEVEL_OFFERED & _.answered_within),
                "answered": _count("interactions", SERVICE_LEVEL_OFFERED & _.answered),
                "abandoned": _count("interactions", SERVICE_LEVEL_OFFERED & _.abandoned),
                "abandoned_within": _count("interactions",
                                           SERVICE_LEVEL_OFFERED & _.abandoned_within),
                "abandoned_after_short": _count(
                    "interactions", SERVICE_LEVEL_OFFERED & _.abandoned & ~_.short_abandon),
            }, formula=_service_level),
            "Answered within the channel threshold / (answered + abandoned after the "
            "short-abandon threshold); the formula is the setting service_level_formula.",
            target=DefaultTarget("higher", 80.0)),
        KpiDefinition(
            "csat", "Customer satisfaction", "percent", "higher",
            Proportion("surveys", population=CSAT, success=_.score >= _.scale_max - 1),
            "Share of CSAT answers in the top two points of the scale; also the mean score.",
            extras={"mean": Mean("surveys", population=CSAT, value=_.score)},
            target=DefaultTarget("higher", 80.0)),
        KpiDefinition(
            "nps", "Net promoter score", "points", "higher",
            Nps("surveys", population=NPS, promoter=_.score >= 9, detractor=_.score <= 6),
            "% promoters (9-10) − % detractors (0-6) over NPS answers.",
            target=DefaultTarget("higher", 50.0, floor=-100.0)),
        KpiDefinition(
            "ces", "Customer effort score", "score", "higher",
            Mean("surveys", population=CES, value=_.score),
            "Mean CES on 1-7 (7 = very easy); also the share answering 5-7.",
            extras={"share_5_7": Proportion("surveys", population=CES, success=_.score >= 5)},
            target=DefaultTarget("higher", 5.0, floor=1.0)),
        KpiDefinition(
            "occupancy", "Occupancy", "percent", "band",
            Ratio("agent_time", parts={
                "busy": _sum("agent_time", _.seconds, _.busy),
                "base": _sum("agent_time", _.seconds, _.busy | _.available),
            }, formula=_share("busy", "base")),
            "(handling + after_call_work) / (handling + after_call_work + available) time.",
            target=DefaultTarget("band", low=75.0, high=85.0)),
        KpiDefinition(
            "utilization", "Utilization", "percent", "band",
            Ratio("agent_time", parts={
                "busy": _sum("agent_time", _.seconds, _.busy),
                "shift": _sum("agent_time", _.seconds, _.shift),
                "logged_in": _sum("agent_time", _.seconds, _.logged_in),
            }, formula=_utilization),
            "(handling + after_call_work) / scheduled shift time; without shifts, / logged-in "
            "time (every state but offline)."),
        KpiDefinition(
            "adherence", "Schedule adherence", "percent", "higher",
            Ratio("schedule", parts=_schedule("scheduled", "in_shift_work", "in_other_work",
                                              "in_other_adherent"), formula=_adherence),
            "Scheduled shift time during which the agent's state is of the planned kind "
            "(available, handling, after_call_work: work; break; training; meeting; offline "
            "or no state: none) / scheduled shift time; n = shifts.",
            target=DefaultTarget("higher", 90.0)),
        KpiDefinition(
            "conformance", "Schedule conformance", "percent", "higher",
            Ratio("schedule", parts=_schedule("scheduled", "planned_other", "worked"),
                  formula=_conformance),
            "Time in work states in the period (inside or outside shifts) / scheduled work "
            "time (shift time less planned breaks, trainings and meetings); n = shifts.",
            target=DefaultTarget("higher", 95.0)),
        KpiDefinition(
            "contacts_per_hour", "Contacts per hour", "per_hour", "none",
            Ratio("interactions", parts={
                "handled": _count("interactions", HANDLED),
                "logged_in": _sum("agent_time", _.seconds, _.logged_in),
            }, formula=_share("handled", "logged_in", 3600.0, n_from="handled")),
            "Handled interactions / logged-in hours."),
        KpiDefinition(
            "cost_per_contact", "Cost per contact", "currency", "lower",
            Ratio("interactions", parts={
                "cost": _sum("agent_time", _.cost, _.logged_in),
                "handled": _count("interactions", HANDLED),
            }, formula=_share("cost", "handled", 1.0)),
            "Agent cost (hourly_cost × logged-in hours; default from the role's median "
            "salary / 2,080 h) / handled interactions."),
        KpiDefinition(
            "retention_rate", "Retention rate", "percent", "higher",
            CountedProportion("customers", parts={
                "start": _count("customers", _.at_start),
                "end": _count("customers", _.at_end),
                "acquired": _count("customers", _.acquired),
            }, formula=_retention),
            "(E − N) / S × 100: S customers active at the period's start, E at its end, N "
            "acquired during it.",
            target=DefaultTarget("higher", 90.0)),
        KpiDefinition(
            "churn_rate", "Churn rate", "percent", "lower",
            Proportion("customers", population=_.at_start, success=_.churned),
            "Customers (of S) churned during the period / S."),
        KpiDefinition(
            "cltv", "Customer lifetime value", "currency", "higher",
            Ratio("customer_value", parts={
                "active": _count("customer_value", _.active),
                "revenue": _sum("customer_value", _.revenue, _.active),
                "churned": _count("customer_value", _.churned),
            }, formula=_cltv),
            "Average revenue a customer a month over the 12 months before the period's end "
            "(purchases + renewals + upsells − returns) × gross margin × min(1 / monthly "
            "churn rate, horizon).",
            target=DefaultTarget("info")),
        KpiDefinition(
            "engagement_rate", "Engagement rate", "percent", "higher",
            Ratio("social_posts", parts={
                "engagements": _sum("social_posts", _.engagements),
                "impressions": _sum("social_posts", _.impressions.cast("float64")),
            }, formula=_share("engagements", "impressions", n_from="engagements")),
            "(likes + comments + shares + clicks + saves) / impressions × 100.",
            extras={"by_reach": Ratio("social_posts", parts={
                "engagements": _sum("social_posts", _.engagements),
                "reach": _sum("social_posts", _.reach.cast("float64")),
            }, formula=_share("engagements", "reach", n_from="engagements"))},
            target=DefaultTarget("higher", 1.0)),
        KpiDefinition(
            "reach", "Reach", "count", "higher",
            Total("social_posts", value=_.reach), "Sum of reach over social posts.",
            target=DefaultTarget("info", weight=0.0)),
        KpiDefinition(
            "impressions", "Impressions", "count", "higher",
            Total("social_posts", value=_.impressions), "Sum of impressions over social posts.",
            target=DefaultTarget("info", weight=0.0)),
        KpiDefinition(
            "backlog", "Backlog", "count", "lower",
            Total("flow", value=_.delta, n_is_value=True),
            "Interactions open (neither resolved nor abandoned) at the period's end."),
        KpiDefinition(
            "iqs", "Internal quality score", "percent", "higher",
            Mean("qa_reviews", population=~_.calibration, value=_.iqs),
            "Mean IQS (0-100) of the QA reviews made in the period (at), calibration reviews "
            "left out, attributed to the reviewed interaction's agent, team and channel; n = "
            "reviews. One review's IQS: 0 if a critical category scores its scale minimum, "
            "else 100 × Σ weight × (score − min) / (max − min) / Σ weight. Per category: "
            "iqs_<category>.",
            target=DefaultTarget("higher", 85.0)),
        KpiDefinition(
            "sentiment", "Sentiment", "score", "higher",
            Mean("texts", population=SCORED, value=_.score),
            "Mean VADER compound score (-1..1) of customer texts (customer messages, survey "
            "comments, social mentions) in the period; n = scored texts. positive / neutral / "
            "negative are percentages of n; texts in languages VADER does not read are counted "
            "in `unscored`, never as neutral. Social mentions count under the channel social.",
            extras={
                "positive": Proportion("texts", population=SCORED,
                                       success=_.label == "positive"),
                "neutral": Proportion("texts", population=SCORED, success=_.label == "neutral"),
                "negative": Proportion("texts", population=SCORED,
                                       success=_.label == "negative"),
                "unscored": Total("texts", population=~SCORED),
            },
            target=DefaultTarget("higher", 0.2, floor=-1.0)),
    ]


# --- per QA category: iqs_<category>, for any category of any form --------------------------
# Categories are data (each QA form names its own), so their KPIs are not listed: any name
# iqs_<category> is a KPI, made when asked for, and a category nobody scored has no rows.
QA_CATEGORY_KPI = re.compile(r"iqs_([a-z][a-z0-9_]*)")


@cache
def qa_category_kpi(name: str) -> KpiDefinition | None:
    """The KPI `iqs_<category>`: the mean of the category's scores on 0-100 of its scale
    over non-calibration reviews; None if `name` is not of that form."""
    match = QA_CATEGORY_KPI.fullmatch(name)
    if match is None:
        return None
    category = match.group(1)
    return KpiDefinition(
        name, f"IQS {category.replace('_', ' ')}", "percent", "higher",
        Mean("qa_scores", population=(_.qa_category == category) & ~_.calibration,
             value=_.percent),
        f"Mean score of the QA category {category} over the non-calibration reviews made in "
        "the period, each as 0-100 of the category's scale ((score − min) / (max − min)); "
        "n = reviews that scored it.")


class KpiCatalogue(dict[str, KpiDefinition]):
    """Every KPI by name: those defined above (what iterating lists: "all KPIs"), and any
    `iqs_<category>`, made on demand (`in`, `[]` and `get` know them)."""

    def __missing__(self, name: str) -> KpiDefinition:
        definition = qa_category_kpi(name) if isinstance(name, str) else None
        if definition is None:
            raise KeyError(name)
        return definition

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name) or (
            isinstance(name, str) and qa_category_kpi(name) is not None)

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default


KPIS: KpiCatalogue = KpiCatalogue({definition.name: definition
                                   for definition in _definitions()})

