"""Targets: defaults, industry profiles, organisation/role/team/channel levels, errors."""

from __future__ import annotations

import pytest

from servicepulse.config import Settings
from servicepulse.kpi.targets import TargetError, check_targets, resolve_targets


def test_defaults_are_design_section_4() -> None:
    targets = resolve_targets(Settings())
    assert targets.get("csat").target == 80 and targets.get("csat").direction == "higher"
    assert targets.get("nps").target == 50 and targets.get("nps").floor == -100
    assert (targets.get("fcr").target, targets.get("fcr").stretch) == (70, 80)
    assert (targets.get("occupancy").low, targets.get("occupancy").high) == (75, 85)
    abandon = targets.get("abandon_rate")
    assert (abandon.target, abandon.direction) == (5, "lower")
    assert targets.get("aht").direction == "relative"
    assert (targets.get("frt", "chat").target, targets.get("frt", "chat").stretch) == (60, 30)
    assert targets.get("frt", "email").target == 86_400
    assert targets.get("frt", "social").target == 3_600
    assert targets.get("service_level").target == 80
    assert targets.get("contacts").weight == 0  # volume never scores
    assert {t.set_by for t in targets.kpis.values()} == {"default"}


def test_profiles_retarget_and_reweight() -> None:
    telecom = resolve_targets(Settings(industry_profile="telecom"))
    assert telecom.get("fcr").target == 80
    assert telecom.get("fcr").set_by == "industry profile telecom"
    assert telecom.get("nps").weight == 2 and telecom.get("csat").weight == 1
    ecommerce = resolve_targets(Settings(industry_profile="ecommerce"))
    assert ecommerce.get("csat").weight == 2 and ecommerce.get("frt", "chat").weight == 2
    b2b = resolve_targets(Settings(industry_profile="b2b"))
    assert {name: b2b.get(name).weight for name in ("ces", "retention_rate", "nps", "fcr")} == {
        "ces": 2, "retention_rate": 2, "nps": 2, "fcr": 1}


def test_levels_later_wins_and_say_who_set_it() -> None:
    settings = Settings(industry_profile="telecom", targets={
        "csat": 85,
        "fcr": {"target": 75, "weight": 3},
        "channel": {"chat": {"frt": 45}},
        "role": {"frontline": {"csat": 88, "occupancy": {"low": 70, "high": 90}}},
        "team": {"T1": {"csat": 90, "channel": {"email": {"frt": 3600}}}},
    })
    organisation = resolve_targets(settings)
    csat = organisation.get("csat")
    assert (csat.target, csat.set_by) == (85, "organisation")
    # the organisation's 75 replaces telecom's 80; the weight is the organisation's too
    assert (organisation.get("fcr").target, organisation.get("fcr").weight) == (75, 3)
    assert organisation.get("frt", "chat").target == 45
    assert organisation.get("frt", "chat").set_by == "organisation, channel chat"
    assert organisation.get("frt", "chat").stretch == 30  # kept from the default
    role = resolve_targets(settings, role="frontline")
    assert (role.get("csat").target, role.get("csat").set_by) == (88, "role frontline")
    assert (role.get("occupancy").low, role.get("occupancy").high) == (70, 90)
    both = resolve_targets(settings, role="frontline", team="T1")
    assert (both.get("csat").target, both.get("csat").set_by) == (90, "team T1")
    assert both.get("frt", "email").set_by == "team T1, channel email"
    other_team = resolve_targets(settings, role="technical_support", team="T2")
    assert other_team.get("csat").set_by == "organisation"


@pytest.mark.parametrize(("table", "message"), [
    ({"csatt": 80}, "targets: csatt: unknown KPI"),
    ({"csat": "high"}, "targets: csat = 'high': give a number"),
    ({"csat": {"goal": 80}}, "unknown key(s) goal"),
    ({"occupancy": 80}, "occupancy is a band; set low and high"),
    ({"occupancy": {"low": 90, "high": 80}}, "low (90) is above high (80)"),
    ({"channel": {"fax": {"frt": 10}}}, "channel.fax: unknown channel"),
    ({"role": {"wizard": {"csat": 80}}}, "role.wizard: unknown role"),
    ({"team": {"T1": {"fcr": {"weight": -1}}}}, "team.T1.fcr.weight = -1: must be >= 0"),
])
def test_bad_entries_say_what_and_where(table: dict, message: str) -> None:
    with pytest.raises(TargetError) as error:
        check_targets(Settings(targets=table))
    assert message in str(error.value)
