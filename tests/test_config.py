"""Configuration: defaults, file discovery, environment overrides, errors that say what to fix."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from servicepulse.config import (
    ConfigError,
    FirstResponseTargets,
    HourlyCosts,
    IndustryProfile,
    ServiceLevelFormula,
    ServiceLevelThresholds,
    Settings,
    load_settings,
)

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "servicepulse.toml.example"
DOCS = ROOT / "docs" / "configuration.md"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No SERVICEPULSE_* variables from the developer's shell, and an empty working directory."""
    for name in list(os.environ):
        if name.upper().startswith("SERVICEPULSE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file() -> None:
    settings = load_settings()
    assert settings == Settings()
    assert settings.timezone == "UTC"
    assert settings.repeat_window_days == 7
    assert settings.short_abandon_s == 5
    assert settings.service_level_threshold_s.as_dict() == {"phone": 20, "chat": 30}
    assert settings.service_level_formula is ServiceLevelFormula.short_abandons_excluded
    assert settings.frt_target_s.as_dict() == {
        "phone": 20, "chat": 60, "email": 86_400, "social": 3_600}
    assert settings.minimum_sample == 30
    assert settings.gross_margin == 1.0
    assert settings.cltv_horizon_months == 60
    assert settings.industry_profile is IndustryProfile.general
    assert settings.targets == {}


def test_default_hourly_costs_are_salary_over_2080_hours() -> None:
    # DESIGN.md §3: frontline $37,920 / 2,080 h = $18.2308 an hour, ...
    costs = Settings().default_hourly_cost
    assert costs.as_dict() == {
        "frontline": 37_920 / 2080, "technical_support": 57_000 / 2080,
        "customer_success": 80_000 / 2080, "social_media": 50_000 / 2080,
        "account_manager": 70_000 / 2080,
    }
    assert round(costs["frontline"], 4) == 18.2308
    assert costs.get("manager") is None


def test_per_channel_tables_read_like_mappings() -> None:
    thresholds = ServiceLevelThresholds()
    assert thresholds["chat"] == 30
    assert thresholds.get("email") is None
    assert thresholds.get("email", 99.0) == 99.0
    assert dict(thresholds.items()) == {"phone": 20, "chat": 30}
    with pytest.raises(KeyError):
        thresholds["email"]


def test_file_in_the_current_directory(clean_environment: Path) -> None:
    write(clean_environment / "servicepulse.toml", """
timezone = "Europe/London"
repeat_window_days = 3.5
service_level_formula = "answered_only"
industry_profile = "telecom"

[service_level_threshold_s]
chat = 45
email = 3600

[targets]
csat = 85
fcr = { target = 80, stretch = 85 }
""")
    settings = load_settings()
    assert settings.timezone == "Europe/London"
    assert settings.repeat_window_days == 3.5
    assert settings.service_level_formula is ServiceLevelFormula.answered_only
    assert settings.industry_profile is IndustryProfile.telecom
    # entries not in the file keep their defaults
    assert settings.service_level_threshold_s.as_dict() == {"phone": 20, "chat": 45, "email": 3600}
    assert settings.targets == {"csat": 85, "fcr": {"target": 80, "stretch": 85}}
    assert settings.minimum_sample == 30


def test_explicit_path_and_servicepulse_config(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(clean_environment / "servicepulse.toml", "minimum_sample = 10\n")
    other = write(clean_environment / "other.toml", "minimum_sample = 20\n")
    named = write(clean_environment / "named.toml", "minimum_sample = 40\n")
    assert load_settings().minimum_sample == 10
    monkeypatch.setenv("SERVICEPULSE_CONFIG", str(named))
    assert load_settings().minimum_sample == 40  # the variable beats the current directory
    assert load_settings(other).minimum_sample == 20  # an explicit path beats both


def test_environment_overrides_the_file(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(clean_environment / "servicepulse.toml", """
timezone = "Europe/London"
minimum_sample = 10
[service_level_threshold_s]
chat = 45
""")
    monkeypatch.setenv("SERVICEPULSE_TIMEZONE", "America/New_York")
    monkeypatch.setenv("SERVICEPULSE_MINIMUM_SAMPLE", "20")
    monkeypatch.setenv("SERVICEPULSE_SERVICE_LEVEL_THRESHOLD_S__PHONE", "15")
    monkeypatch.setenv("servicepulse_gross_margin", "0.6")  # names are case-insensitive
    monkeypatch.setenv("SERVICEPULSE_TARGETS", '{"csat": 80, "nps": 50}')
    monkeypatch.setenv("SERVICEPULSE_DATABASE_URL", "sqlite:///elsewhere.db")  # not a setting
    settings = load_settings()
    assert settings.timezone == "America/New_York"
    assert settings.minimum_sample == 20
    # one entry from the variable, one from the file, the rest defaults
    assert settings.service_level_threshold_s.as_dict() == {"phone": 15, "chat": 45}
    assert settings.gross_margin == 0.6
    assert settings.targets == {"csat": 80, "nps": 50}


def test_a_default_entry_can_be_removed_with_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEPULSE_FRT_TARGET_S", '{"social": null}')
    assert load_settings().frt_target_s.as_dict() == {"phone": 20, "chat": 60, "email": 86_400}


def _error(path: Path | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return str(caught.value)


def test_bad_values_in_the_file_name_the_file_key_and_what_is_allowed(
    clean_environment: Path,
) -> None:
    path = write(clean_environment / "servicepulse.toml", """
timezone = "Europe/Londres"
minimum_sample = 0
gross_margin = 1.5
service_level_formula = "answered_within"

[frt_target_s]
chat = -1
""")
    message = _error()
    lines = message.splitlines()
    assert lines[0] == "invalid configuration:"
    assert len(lines) == 6
    assert (f"  {path}: timezone = 'Europe/Londres': 'Europe/Londres' is not an IANA time zone "
            "name; allowed: an IANA time zone name such as \"Europe/London\" or \"UTC\"") in lines
    assert (f"  {path}: minimum_sample = 0: Input should be greater than or equal to 1; "
            "allowed: a whole number >= 1: below it a KPI is marked low_sample") in lines
    assert f"  {path}: gross_margin = 1.5: Input should be less than or equal to 1" in message
    assert (f"  {path}: frt_target_s.chat = -1: Input should be greater than or equal to 0; "
            "allowed: seconds >= 0, or leave the channel out to have none") in lines
    assert (f"{path}: service_level_formula = 'answered_within': Input should be "
            "'short_abandons_excluded', 'answered_only', 'all_abandoned', "
            "'abandoned_within_met' or 'abandoned_within_excluded'") in message


def test_unknown_keys_are_errors(clean_environment: Path) -> None:
    path = write(clean_environment / "servicepulse.toml", """
minimum_samples = 10
[service_level_threshold_s]
fax = 10
""")
    message = _error()
    assert (f"{path}: unknown key 'minimum_samples'; known keys here: timezone, "
            "repeat_window_days, short_abandon_s,") in message
    assert (f"{path}: unknown key 'service_level_threshold_s.fax'; known keys here: phone, "
            "chat, email, social, sms, web, in_person") in message


def test_bad_environment_values_name_the_variable(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(clean_environment / "servicepulse.toml", "short_abandon_s = 3\n")
    monkeypatch.setenv("SERVICEPULSE_SHORT_ABANDON_S", "-1")
    monkeypatch.setenv("SERVICEPULSE_SERVICE_LEVEL_THRESHOLD_S__PHONE", "twenty")
    monkeypatch.setenv("SERVICEPULSE_FRT_TARGET_S__FAX", "10")
    message = _error()
    assert ("environment variable SERVICEPULSE_SHORT_ABANDON_S: short_abandon_s = '-1': Input "
            "should be greater than or equal to 0") in message
    assert ("environment variable SERVICEPULSE_SERVICE_LEVEL_THRESHOLD_S__PHONE: "
            "service_level_threshold_s.phone = 'twenty': Input should be a valid number") in message
    assert ("environment variable SERVICEPULSE_FRT_TARGET_S__FAX: unknown key "
            "'frt_target_s.fax'") in message


def test_unreadable_files(clean_environment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = write(clean_environment / "broken.toml", 'timezone = "UTC"\nminimum_sample = \n')
    assert re.fullmatch(
        re.escape(f"{broken}: not valid TOML: ") + r".*line 2.*; see servicepulse\.toml\.example"
        r" for the syntax", _error(broken))
    missing = clean_environment / "missing.toml"
    monkeypatch.setenv("SERVICEPULSE_CONFIG", str(missing))
    assert _error() == (
        f"{missing}: configuration file not found (named by SERVICEPULSE_CONFIG); create it "
        "(see servicepulse.toml.example) or point SERVICEPULSE_CONFIG at an existing one")


def test_the_example_file_spells_out_the_defaults() -> None:
    assert load_settings(EXAMPLE) == Settings()


def test_the_documentation_covers_every_key() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    example = EXAMPLE.read_text(encoding="utf-8")
    for key in Settings.model_fields:
        assert f"| `{key}` |" in docs, f"docs/configuration.md does not document {key}"
        assert re.search(rf"^\[?{key}\]?( =|$)", example, re.MULTILINE), key
    for table in (ServiceLevelThresholds, FirstResponseTargets, HourlyCosts):
        for entry in table.model_fields:
            assert f"`{entry}`" in docs, f"docs/configuration.md does not name {entry}"
    for formula in ServiceLevelFormula:
        assert f"| `{formula.value}`" in docs
    for profile in IndustryProfile:
        assert f"`{profile.value}`" in docs


def test_formula_names_are_the_ones_the_kpi_engine_knows() -> None:
    from servicepulse.kpi.settings import SERVICE_LEVEL_FORMULAS

    assert tuple(formula.value for formula in ServiceLevelFormula) == SERVICE_LEVEL_FORMULAS
