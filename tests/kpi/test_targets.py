"""Targets: defaults, industry profiles, organisation/role/team/channel levels, errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from servicepulse.config import Settings
from servicepulse.kpi.definitions import KPIS, DefaultTarget, KpiDefinition
from servicepulse.kpi.settings import kpi_settings
from servicepulse.kpi.targets import (
    DEFAULT_TARGETS,
    NOT_IN_ENGINE,
    ResolvedTargets,
    TargetError,
    check_targets,
    resolve_targets,
)


def _judged(targets: ResolvedTargets, kpi: str, channel: str | None = None) -> DefaultTarget:
    """What `kpi` (on `channel`) is judged by."""
    found = targets.get(kpi, channel)
    assert found is not None
    return found.judged_by


def test_defaults_are_design_section_4() -> None:
    targets = resolve_targets(Settings())
    assert _judged(targets, "csat") == DefaultTarget("higher", 80.0)
    assert _judged(targets, "nps") == DefaultTarget("higher", 50.0, floor=-100.0)
    assert _judged(targets, "fcr") == DefaultTarget("higher", 70.0, stretch=80.0)
    assert _judged(targets, "occupancy") == DefaultTarget("band", low=75.0, high=85.0)
    assert _judged(targets, "abandon_rate") == DefaultTarget("lower", 5.0)
    assert _judged(targets, "aht") == DefaultTarget("relative")
    # first response: judged per channel, the chat stretch on chat's own target only
    assert _judged(targets, "frt") == DefaultTarget("lower")
    assert _judged(targets, "frt", "chat") == DefaultTarget("lower", 60.0, stretch=30.0)
    assert _judged(targets, "frt", "email") == DefaultTarget("lower", 86_400.0)
    assert _judged(targets, "frt", "social").target == 3_600
    assert _judged(targets, "service_level").target == 80
    assert _judged(targets, "contacts").weight == 0  # volume never scores
    assert {t.set_by for t in targets.kpis.values()} == {"default"}
    assert {t.kpi for t in targets.kpis.values()} == set(targets.kpis)


def test_profiles_retarget_and_reweight() -> None:
    telecom = resolve_targets(Settings(industry_profile="telecom"))
    assert _judged(telecom, "fcr") == DefaultTarget("higher", 80.0, stretch=80.0, weight=2.0)
    assert telecom.get("fcr").set_by == "industry profile telecom"
    assert _judged(telecom, "nps").weight == 2 and _judged(telecom, "csat").weight == 1
    ecommerce = resolve_targets(Settings(industry_profile="ecommerce"))
    assert _judged(ecommerce, "csat").weight == 2 and _judged(ecommerce, "frt", "chat").weight == 2
    # a profile's weight on a channel target leaves who set the channel's target alone
    assert ecommerce.get("frt", "chat").set_by == "default"
    b2b = resolve_targets(Settings(industry_profile="b2b"))
    assert {name: _judged(b2b, name).weight for name in ("ces", "retention_rate", "nps", "fcr")
            } == {"ces": 2, "retention_rate": 2, "nps": 2, "fcr": 1}


def test_levels_later_wins_and_say_who_set_it() -> None:
    settings = Settings(industry_profile="telecom", targets={
        "csat": 85,
        "fcr": {"target": 75, "weight": 3},
        "channel": {"chat": {"frt": 45}},
        "role": {"frontline": {"csat": 88, "occupancy": {"low": 70, "high": 90}}},
        "team": {"T1": {"csat": 90, "channel": {"email": {"frt": 3600}}}},
    })
    organisation = resolve_targets(settings)
    assert (_judged(organisation, "csat").target, organisation.get("csat").set_by) == (
        85, "organisation")
    # the organisation's 75 replaces telecom's 80; the weight is the organisation's too
    assert _judged(organisation, "fcr") == DefaultTarget("higher", 75.0, stretch=80.0, weight=3.0)
    # the chat target is the organisation's, its stretch kept from the default
    assert _judged(organisation, "frt", "chat") == DefaultTarget("lower", 45.0, stretch=30.0)
    assert organisation.get("frt", "chat").set_by == "organisation, channel chat"
    role = resolve_targets(settings, role="frontline")
    assert (_judged(role, "csat").target, role.get("csat").set_by) == (88, "role frontline")
    assert _judged(role, "occupancy") == DefaultTarget("band", low=70.0, high=90.0)
    both = resolve_targets(settings, role="frontline", team="T1")
    assert (_judged(both, "csat").target, both.get("csat").set_by) == (90, "team T1")
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


def test_defaults_are_the_definitions_targets() -> None:
    """Each default is its KPI definition's `target`; a KPI without one cannot be targeted."""
    for name, target in DEFAULT_TARGETS.items():
        default = KPIS[name].target if name in KPIS else NOT_IN_ENGINE[name]
        assert default is not None
        assert (target.kpi, target.set_by) == (name, "default")
        # the definition's, but for the channel stretch: first response's channel targets
        # carry it (their own `stretch`), a resolved target does not
        assert target.judged_by == replace(default, channel_stretch={})
    assert KPIS["frt"].target is not None and KPIS["frt"].target.channel_stretch == {"chat": 30}
    assert KPIS["ces"].target == DefaultTarget("higher", 5.0, floor=1.0)
    assert KPIS["asa"].target is None and "asa" not in DEFAULT_TARGETS
    with pytest.raises(TargetError, match="targets: asa: unknown KPI"):
        resolve_targets(Settings(targets={"asa": 30}))
    # listed in the order `targets show` has always printed them
    assert list(DEFAULT_TARGETS)[:5] == ["csat", "nps", "fcr", "iqs", "frt"]
    assert list(DEFAULT_TARGETS)[-2:] == ["contacts", "upsell_revenue"]


def test_a_target_judging_against_the_kpis_direction_is_refused() -> None:
    with pytest.raises(ValueError, match="a lower target on a KPI whose direction is higher"):
        KpiDefinition("csat2", "CSAT", "percent", "higher", KPIS["csat"].statistic, "",
                      target=DefaultTarget("lower", 20.0))


def test_frt_channel_defaults_are_the_configured_frt_target_s() -> None:
    """First response's per-channel targets are `frt_target_s` (what the engine's
    within-target share uses): configured, they move the scorecards' targets too."""
    settings = Settings(frt_target_s={"chat": 45, "sms": 600})
    resolved = resolve_targets(settings)
    chat, sms, email = (resolved.get("frt", channel) for channel in ("chat", "sms", "email"))
    assert (chat.judged_by.target, chat.judged_by.stretch, chat.set_by) == (
        45, 30, "configuration frt_target_s")
    assert (sms.judged_by.target, sms.judged_by.stretch, sms.set_by) == (
        600, None, "configuration frt_target_s")
    assert (email.judged_by.target, email.set_by) == (86_400, "default")
    assert ("frt", "phone") not in resolved.channels  # phone: its service level
    # the engine's settings (a request context's) resolve to the same
    assert resolve_targets(kpi_settings(settings)) == resolved


def test_settings_of_the_context_resolve_as_the_configuration() -> None:
    settings = Settings(industry_profile="b2b", targets={
        "csat": 85, "role": {"frontline": {"csat": 88}}, "channel": {"email": {"frt": 3600}}})
    context = kpi_settings(settings)
    assert (context.targets, context.industry_profile) == (dict(settings.targets), "b2b")
    for role in (None, "frontline"):
        assert resolve_targets(context, role=role) == resolve_targets(settings, role=role)
    assert _judged(resolve_targets(context), "csat").target == 85
    assert _judged(resolve_targets(context), "nps").weight == 2  # b2b


def test_without_settings_the_defaults_and_no_file_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "servicepulse.toml"
    path.write_text("[targets]\ncsat = 99\n")
    monkeypatch.setenv("SERVICEPULSE_CONFIG", str(path))
    monkeypatch.chdir(tmp_path)
    assert _judged(resolve_targets(), "csat").target == 80
    assert resolve_targets() == resolve_targets(Settings())
