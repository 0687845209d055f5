"""Customer health for customer success and account managers (docs/scorecards.md).

Per customer account, over the recent window (the `default_window_days` setting up to `end`,
exclusive) and the window before it (the contact trend only when the data covers it whole):
CSAT and the latest NPS answer, the contact trend, open escalations, repeat contacts, orders
and returns/cancellations. They combine into a health score: 100 minus the penalties below,
each given as a reason with its numbers. Accounts under AT_RISK are at risk.
Only accounts with something in the window (or an open escalation) are scored; churned
accounts are left out (they are counted).

The KPI engine groups by agent, team, channel and the like but not by customer, so these
per-account figures are set-based aggregates over the store's tables (pandas over the rows of
the two windows), using the KPI definitions' rules: a survey is the customer's it names, else
its interaction's; CSAT counts the top two points of the scale; a repeat is an inbound contact
within the repeat window after another inbound contact of the same customer.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy
from sqlalchemy import func, select

from servicepulse.store import tables

WINDOW_DAYS = 28  # without settings: the default of default_window_days
AT_RISK = 60.0
PENALTY = {
    "csat": 30.0,  # × shortfall of the CSAT share below the CSAT target, relative
    "detractor": 15.0,  # latest NPS answer 0-6
    "escalation": 10.0, "escalation_max": 20.0,  # each open escalation
    "repeat": 5.0, "repeat_max": 15.0,  # each repeat contact in the window
    "surge": 10.0,  # contacts at least 1.5× the window before, and at least 3
    "return": 10.0, "return_max": 20.0,  # each return or exchange
    "cancellation": 25.0,
    "lapsed": 10.0,  # bought or renewed in the window before, not in this one
}


def _epoch(day: date, zone: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()


def _contact_span(engine: sqlalchemy.Engine) -> tuple[float | None, float | None]:
    """The times of the first and the last interaction (None, None: none)."""
    column = tables.interactions.c.created_at
    with engine.connect() as connection:
        first = connection.execute(select(func.min(column))).scalar()
        last = connection.execute(select(func.max(column))).scalar()
    return (None if first is None else float(first), None if last is None else float(last))


def _default_end(last: float | None, zone: ZoneInfo) -> date:
    """The day of the last interaction (exclusive: the data covers it only up to that
    record), never past today (not over): the window holds whole days, as every page's."""
    today = datetime.now(zone).date()
    if last is None:
        return today
    return min(datetime.fromtimestamp(last, zone).date(), today)


def _default_window_days(settings: Any) -> int:
    """The settings' window (the program's, loaded at its start); without: the default."""
    days = getattr(settings, "default_window_days", None)
    return int(days) if days is not None else WINDOW_DAYS


def customer_health(engine: sqlalchemy.Engine, *, end: date | None = None,
                    customers: list[str] | None = None, settings: Any = None,
                    window_days: int | None = None) -> dict[str, Any]:
    """Every active account's health over `window_days` (default: the `default_window_days`
    setting) up to `end` (exclusive; default: the last whole day of data).

    The contact trend compares the window with the one before only when the data covers
    that one whole (its first interaction is no later than the earlier window's start):
    otherwise every account would be "up from 0" for want of history, and the document
    says `"history": false` with a note instead."""
    from servicepulse.kpi.settings import kpi_settings
    from servicepulse.kpi.targets import resolve_targets

    resolved = kpi_settings(settings)
    # the organisation's CSAT target: the definition's unless the configuration sets one
    # (no target: no CSAT penalty)
    csat_target = resolve_targets(settings).kpis["csat"].judged_by.target or 0.0
    zone = ZoneInfo(resolved.timezone)
    window_days = window_days or _default_window_days(settings)
    first_contact, last_contact = _contact_span(engine)
    end = end or _default_end(last_contact, zone)
    start = end - timedelta(days=window_days)
    before = start - timedelta(days=window_days)
    t_end, t_start, t_before = _epoch(end, zone), _epoch(start, zone), _epoch(before, zone)
    history = first_contact is not None and first_contact <= t_before
    history_note = None if history else (
        "No contact trend: the data holds no contacts before "
        + (datetime.fromtimestamp(first_contact, zone).date().isoformat()
           if first_contact is not None else "the window")
        + f", so the {window_days} days before the window cannot be compared")
    i, s, o, c = tables.interactions, tables.surveys, tables.orders, tables.customers

    def chosen(column: Any) -> Any:
        return column.in_(customers) if customers else sqlalchemy.true()

    with engine.connect() as connection:
        contacts = pd.DataFrame(connection.execute(
            select(i.c.customer_id, i.c.created_at, i.c.direction).where(
                i.c.customer_id.is_not(None), i.c.created_at >= t_before,
                i.c.created_at < t_end, chosen(i.c.customer_id))).all(),
            columns=["customer", "created_at", "direction"])
        escalations = pd.DataFrame(connection.execute(
            select(i.c.customer_id, func.count()).where(
                i.c.customer_id.is_not(None), i.c.escalated.is_(True),
                i.c.resolved_at.is_(None), i.c.abandoned_at.is_(None),
                i.c.created_at < t_end, chosen(i.c.customer_id)).group_by(i.c.customer_id)
        ).all(), columns=["customer", "open_escalations"])
        survey_customer = func.coalesce(s.c.customer_id, i.c.customer_id)
        surveys = pd.DataFrame(connection.execute(
            select(survey_customer, s.c.kind, s.c.score, s.c.scale_max, s.c.submitted_at)
            .select_from(s.outerjoin(i, s.c.interaction_id == i.c.id)).where(
                survey_customer.is_not(None), s.c.submitted_at >= t_start,
                s.c.submitted_at < t_end, chosen(survey_customer))).all(),
            columns=["customer", "kind", "score", "scale_max", "submitted_at"])
        orders = pd.DataFrame(connection.execute(
            select(o.c.customer_id, o.c.kind, o.c.at, o.c.amount).where(
                o.c.at >= t_before, o.c.at < t_end, chosen(o.c.customer_id))).all(),
            columns=["customer", "kind", "ordered_at", "amount"])
        people = pd.DataFrame(connection.execute(
            select(c.c.id, c.c.name, c.c.segment, c.c.churned_at).where(chosen(c.c.id))).all(),
            columns=["customer", "name", "segment", "churned_at"])
    recent = contacts[contacts.created_at >= t_start]
    earlier = contacts[contacts.created_at < t_start]
    inbound = contacts[contacts.direction == "inbound"].sort_values(["customer", "created_at"])
    gap = inbound.groupby("customer")["created_at"].diff()
    inbound = inbound.assign(repeat=gap <= resolved.repeat_window_days * 86_400)
    repeats = inbound[(inbound.created_at >= t_start) & inbound.repeat].groupby(
        "customer").size()
    csat = surveys[surveys.kind == "csat"].assign(
        top=lambda f: f.score >= f.scale_max - 1).groupby("customer")["top"].agg(["sum", "count"])
    nps = surveys[surveys.kind == "nps"].sort_values("submitted_at").groupby(
        "customer")["score"].last()
    recent_orders = orders[orders.ordered_at >= t_start]
    buying = {"purchase", "renewal", "upsell"}
    bought_now = set(recent_orders[recent_orders.kind.isin(buying)].customer)
    bought_before = set(orders[(orders.ordered_at < t_start) & orders.kind.isin(buying)].customer)
    returns = recent_orders[recent_orders.kind.isin({"return", "exchange"})].groupby(
        "customer").size()
    cancellations = recent_orders[recent_orders.kind == "cancellation"].groupby(
        "customer").size()
    revenue = recent_orders.assign(signed=lambda f: f.amount.where(
        f.kind.isin(buying), -f.amount.where(f.kind == "return", 0.0))).groupby(
        "customer")["signed"].sum()
    # plain dicts from here: one lookup per account and figure (pandas' scalar access
    # costs microseconds each, seconds over a centre's accounts)
    now_counts = recent.groupby("customer").size().to_dict()
    before_counts = earlier.groupby("customer").size().to_dict()
    open_escalations = dict(zip(escalations.customer, escalations.open_escalations,
                                strict=True))
    csat_top, csat_answers = csat["sum"].to_dict(), csat["count"].to_dict()
    latest_nps = nps.to_dict()
    repeat_counts, return_counts = repeats.to_dict(), returns.to_dict()
    cancellation_counts, revenues = cancellations.to_dict(), revenue.to_dict()
    names = dict(zip(people.customer, people.name, strict=True))
    segments = dict(zip(people.customer, people.segment, strict=True))
    churned_at = {customer: at for customer, at in zip(people.customer, people.churned_at,
                                                        strict=True) if pd.notna(at)}
    active = (set(now_counts) | set(csat_answers) | set(latest_nps)
              | set(recent_orders.customer) | set(open_escalations))
    churned = {cid for cid in active if cid in churned_at and churned_at[cid] < t_end}
    accounts = []
    for customer in sorted(active - churned):
        figures = {
            "contacts": int(now_counts.get(customer, 0)),
            "contacts_before": int(before_counts.get(customer, 0)) if history else None,
            "csat": (round(100 * csat_top[customer] / csat_answers[customer], 1)
                     if customer in csat_answers else None),
            "csat_answers": int(csat_answers.get(customer, 0)),
            "latest_nps": float(latest_nps[customer]) if customer in latest_nps else None,
            "open_escalations": int(open_escalations.get(customer, 0)),
            "repeat_contacts": int(repeat_counts.get(customer, 0)),
            "returns": int(return_counts.get(customer, 0)),
            "cancellations": int(cancellation_counts.get(customer, 0)),
            "revenue": round(float(revenues.get(customer, 0.0)), 2),
            "lapsed": customer in bought_before and customer not in bought_now,
        }
        score, reasons = health_score(figures, csat_target)
        accounts.append({"customer": customer, "name": names.get(customer),
                         "segment": segments.get(customer),
                         "score": score, "at_risk": score < AT_RISK, "reasons": reasons,
                         **figures})
    accounts.sort(key=lambda a: (a["score"], a["customer"]))
    return {"from": start.isoformat(), "to": end.isoformat(), "window_days": window_days,
            "history": history, "history_note": history_note, "accounts": accounts,
            "at_risk": sum(1 for a in accounts if a["at_risk"]),
            "churned_left_out": len(churned)}


def health_score(f: dict[str, Any], csat_target: float) -> tuple[float, list[str]]:
    """100 minus the penalties of PENALTY, with a reason for each; `csat_target` is the
    organisation's CSAT target (servicepulse.kpi.targets)."""
    score, reasons = 100.0, []
    if f["csat"] is not None and f["csat"] < csat_target:
        penalty = PENALTY["csat"] * (csat_target - f["csat"]) / csat_target
        score -= penalty
        reasons.append(f"CSAT {f['csat']:.0f}% on {f['csat_answers']} answers "
                       f"(target {csat_target:g}%) −{penalty:.0f}")
    if f["latest_nps"] is not None and f["latest_nps"] <= 6:
        score -= PENALTY["detractor"]
        reasons.append(f"latest NPS answer {f['latest_nps']:g} (detractor) "
                       f"−{PENALTY['detractor']:.0f}")
    if f["open_escalations"]:
        penalty = min(PENALTY["escalation"] * f["open_escalations"], PENALTY["escalation_max"])
        score -= penalty
        reasons.append(f"{f['open_escalations']} open escalation(s) −{penalty:.0f}")
    if f["repeat_contacts"]:
        penalty = min(PENALTY["repeat"] * f["repeat_contacts"], PENALTY["repeat_max"])
        score -= penalty
        reasons.append(f"{f['repeat_contacts']} repeat contact(s) −{penalty:.0f}")
    if (f["contacts_before"] is not None and f["contacts"] >= 3
            and f["contacts"] >= 1.5 * max(f["contacts_before"], 1)):
        score -= PENALTY["surge"]
        reasons.append(f"contacts up from {f['contacts_before']} to {f['contacts']} "
                       f"−{PENALTY['surge']:.0f}")
    if f["returns"]:
        penalty = min(PENALTY["return"] * f["returns"], PENALTY["return_max"])
        score -= penalty
        reasons.append(f"{f['returns']} return(s) or exchange(s) −{penalty:.0f}")
    if f["cancellations"]:
        score -= PENALTY["cancellation"]
        reasons.append(f"{f['cancellations']} cancellation(s) −{PENALTY['cancellation']:.0f}")
    if f["lapsed"]:
        score -= PENALTY["lapsed"]
        reasons.append(f"bought or renewed before, not in this window −{PENALTY['lapsed']:.0f}")
    return round(max(score, 0.0), 1), reasons
