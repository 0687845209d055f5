"""Configuration: `servicepulse.toml` plus `SERVICEPULSE_*` environment variables (see
docs/configuration.md).

`load_settings()` reads the file named by its argument, else by SERVICEPULSE_CONFIG, else
`./servicepulse.toml` when there is one (no file at all is fine: defaults). Environment
variables override the file: SERVICEPULSE_<KEY> for a key, SERVICEPULSE_<KEY>__<SUBKEY> for one
entry of a table (SERVICEPULSE_SERVICE_LEVEL_THRESHOLD_S__PHONE=15), JSON for a whole table.
`Settings()` built directly gives the defaults overlaid by the environment (pydantic-settings).

The file is read by pydantic-settings' own `TomlConfigSettingsSource`, the lowest-priority
source. `load_settings()` is called only by the program's two starts (the command line's
context object and the web app factory), once a process; everything else is given the
`Settings` they loaded (tests/test_settings_once.py checks it).

Every key is documented in docs/configuration.md; a bad value raises `ConfigError` naming the
file or variable, the key, the value and what is allowed.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from servicepulse.errors import InvalidRequest

CONFIG_FILE_NAME = "servicepulse.toml"
CONFIG_PATH_VARIABLE = "SERVICEPULSE_CONFIG"
ENV_PREFIX = "SERVICEPULSE_"
ENV_NESTED_DELIMITER = "__"


class ConfigError(InvalidRequest):
    """A configuration file or variable that cannot be used; the message says how to fix it."""


class ServiceLevelFormula(StrEnum):
    """The service-level variants of docs/kpis.md (centres count it differently)."""

    # answered within the threshold / (answered + abandoned after the short-abandon threshold)
    short_abandons_excluded = "short_abandons_excluded"
    # answered within / answered
    answered_only = "answered_only"
    # answered within / (answered + all abandoned)
    all_abandoned = "all_abandoned"
    # (answered within + abandoned within) / (answered + abandoned)
    abandoned_within_met = "abandoned_within_met"
    # answered within / (answered + abandoned after the service-level threshold)
    abandoned_within_excluded = "abandoned_within_excluded"


class IndustryProfile(StrEnum):
    """docs/scorecards.md: how targets and weights lean."""

    general = "general"
    ecommerce = "ecommerce"
    telecom = "telecom"
    b2b = "b2b"


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"{value!r} is not an IANA time zone name") from error
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]


def _not_after_today(value: date) -> date:
    if value > datetime.now(UTC).date():
        raise ValueError(f"{value.isoformat()} is in the future")
    return value

_SECONDS = "seconds >= 0, or leave the channel out to have none"
Seconds = Annotated[float | None, Field(ge=0, allow_inf_nan=False, description=_SECONDS)]
_COST = "money an hour >= 0, or leave the role out to have none"
HourlyCost = Annotated[float | None, Field(ge=0, allow_inf_nan=False, description=_COST)]


class _Table(BaseModel):
    """A fixed table of optional numbers, read like a mapping of the entries that are set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def as_dict(self) -> dict[str, float]:
        return {key: value for key, value in self.model_dump().items() if value is not None}

    def __getitem__(self, key: str) -> float:
        value = self.as_dict().get(key)
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: float | None = None) -> float | None:
        return self.as_dict().get(key, default)

    def items(self) -> Iterator[tuple[str, float]]:
        return iter(self.as_dict().items())


class ServiceLevelThresholds(_Table):
    """Seconds within which an answer counts as within service level, per channel."""

    phone: Seconds = 20.0
    chat: Seconds = 30.0
    email: Seconds = None
    social: Seconds = None
    sms: Seconds = None
    web: Seconds = None
    in_person: Seconds = None


class FirstResponseTargets(_Table):
    """First-response-time target per channel, seconds (docs/scorecards.md)."""

    phone: Seconds = 20.0
    chat: Seconds = 60.0
    email: Seconds = 86_400.0
    social: Seconds = 3_600.0
    sms: Seconds = None
    web: Seconds = None
    in_person: Seconds = None


class HourlyCosts(_Table):
    """Hourly cost per role for agents without their own: the median salary over 2,080 h."""

    frontline: HourlyCost = 37_920 / 2080
    technical_support: HourlyCost = 57_000 / 2080
    customer_success: HourlyCost = 80_000 / 2080
    social_media: HourlyCost = 50_000 / 2080
    account_manager: HourlyCost = 70_000 / 2080
    team_lead: HourlyCost = None  # no median salary is documented for these two roles
    manager: HourlyCost = None


class WebhookSecrets(BaseModel):
    """Signing secrets of the helpdesk webhooks (docs/connectors.md, "Webhooks"); a webhook
    without its secret answers 503."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zendesk: SecretStr | None = None
    chatwoot: SecretStr | None = None


# the canonical channels (servicepulse.records.models.Channel; config sits below records)
CHANNEL_NAMES = ("phone", "email", "chat", "social", "sms", "web", "in_person")


def _check_channel(value: str) -> str:
    if value not in CHANNEL_NAMES:
        raise ValueError(f"{value!r} is not a channel: use one of {', '.join(CHANNEL_NAMES)}")
    return value


CanonicalChannel = Annotated[str, AfterValidator(_check_channel)]


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _check_weekday(value: str) -> str:
    if value.lower() not in WEEKDAYS:
        raise ValueError(f"{value!r} is not a weekday: use one of {', '.join(WEEKDAYS)}")
    return value.lower()


Weekday = Annotated[str, AfterValidator(_check_weekday)]


class DigestCadence(StrEnum):
    """How often a team digest goes out (docs/digests.md)."""

    daily = "daily"
    weekly = "weekly"


class DigestSettings(BaseModel):
    """Scheduled team digests (docs/digests.md): which teams, when, to whom. Delivery reuses
    the alerts' SMTP settings (`[alerts] smtp_*`) and webhook secret."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    teams: list[str] = Field(
        default_factory=list,
        description="a list of team ids; empty: every team with recipients or webhooks")
    cadence: DigestCadence = Field(DigestCadence.weekly, description="daily or weekly")
    weekday: Weekday = Field(
        "monday", description="the day a weekly digest goes out: monday ... sunday")
    hour: int = Field(8, ge=0, le=23,
                      description="the local hour (0-23) from which the digest goes out")
    timezone: TimeZoneName | None = Field(
        None, description="an IANA time zone name; default: the organisation's `timezone`")
    recipients: dict[str, list[str]] = Field(
        default_factory=dict,
        description="a table: team id (or \"all\") -> list of e-mail addresses")
    webhooks: dict[str, list[str]] = Field(
        default_factory=dict,
        description="a table: team id (or \"all\") -> list of webhook URLs (Slack-compatible "
                    "JSON)")


class _TomlFile(TomlConfigSettingsSource):
    """The library's TOML source, with one addition it lacks: a file that cannot be parsed or
    read is a `ConfigError` naming the file, the line and what to do (the library lets
    tomllib's bare "Expected '=' after a key (at line 2, column 4)" or an OSError escape)."""

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        try:
            return super()._read_file(file_path)
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(
                f"{file_path}: not valid TOML: {error}; see servicepulse.toml.example for the "
                "syntax") from None
        except OSError as error:
            raise ConfigError(f"{file_path}: cannot be read: {error.strerror}") from None


class Settings(BaseSettings):
    """Everything ServicePulse can be configured with. Immutable; see docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        case_sensitive=False,
        extra="forbid",
        frozen=True,
        env_file=None,
        validate_default=True,
    )

    timezone: TimeZoneName = Field(
        "UTC", description="an IANA time zone name such as \"Europe/London\" or \"UTC\"")
    repeat_window_days: float = Field(
        7.0, gt=0, le=366, allow_inf_nan=False,
        description="days after a contact within which a new inbound contact of the same "
                    "customer is a repeat: a number > 0 and <= 366")
    short_abandon_s: float = Field(
        5.0, ge=0, allow_inf_nan=False,
        description="seconds >= 0; abandons quicker than this count neither as offered nor "
                    "as abandoned")
    service_level_threshold_s: ServiceLevelThresholds = Field(
        default_factory=ServiceLevelThresholds,
        description="a table of seconds per channel (phone, chat, email, social, sms, web, "
                    "in_person)")
    service_level_formula: ServiceLevelFormula = Field(
        ServiceLevelFormula.short_abandons_excluded,
        description="one of " + ", ".join(formula.value for formula in ServiceLevelFormula))
    frt_target_s: FirstResponseTargets = Field(
        default_factory=FirstResponseTargets,
        description="a table of seconds per channel (phone, chat, email, social, sms, web, "
                    "in_person)")
    default_window_days: int = Field(
        28, ge=1, le=366,
        description="a whole number of days from 1 to 366: the window every page and command "
                    "shows when none is asked (the last whole days with data)")
    minimum_sample: int = Field(
        30, ge=1,
        description="a whole number >= 1: below it a KPI is marked low_sample")
    gross_margin: float = Field(
        1.0, gt=0, le=1, allow_inf_nan=False,
        description="the share of revenue kept, a number > 0 and <= 1")
    cltv_horizon_months: float = Field(
        60.0, gt=0, le=1200, allow_inf_nan=False,
        description="months, a number > 0 and <= 1200: the longest customer life CLTV assumes")
    default_hourly_cost: HourlyCosts = Field(
        default_factory=HourlyCosts,
        description="a table of hourly costs per role (frontline, technical_support, "
                    "customer_success, social_media, account_manager)")
    industry_profile: IndustryProfile = Field(
        IndustryProfile.general,
        description="one of " + ", ".join(profile.value for profile in IndustryProfile))
    targets: dict[str, Any] = Field(
        default_factory=dict,
        description="a free table of KPI targets over the KPI definitions' defaults, which "
                    "the dashboards, scorecards and alerts judge by")
    # Scorecards area (issue 5): alert rules and their delivery, read and checked by
    # servicepulse.scorecards.alerts (see docs/scorecards.md).
    alerts: dict[str, Any] = Field(
        default_factory=dict,
        description="a table: [[alerts.rules]] and smtp_* / webhook_secret delivery settings "
                    "(read by the scorecards)")
    # Scheduled digests (issue 19 item 4): read by servicepulse.scorecards.digest.
    digests: DigestSettings = Field(
        default_factory=DigestSettings,
        description="a table: teams, cadence, weekday, hour, timezone, recipients, webhooks "
                    "(docs/digests.md)")

    # Connectors area (issue 6 item 8): read by servicepulse.web.routes.webhooks.
    webhook_secrets: WebhookSecrets = Field(
        default_factory=WebhookSecrets,
        description="a table of signing secrets (zendesk, chatwoot), strings")
    # Issue 22: read by servicepulse.ingest.connectors.zendesk (imports and webhooks).
    zendesk_channels: dict[str, CanonicalChannel] = Field(
        default_factory=dict,
        description="a table: Zendesk via.channel (e.g. api, 29) -> one of " + ", ".join(
            CHANNEL_NAMES))

    # Accounts (issue 15): read by servicepulse.web.users.AccountSettings (docs/web.md).
    login_failures_per_user: int = Field(
        5, ge=1, le=1000,
        description="a whole number from 1 to 1000: failed sign-ins of one username within "
                    "login_failure_window_minutes after which its sign-ins are refused")
    login_failures_per_address: int = Field(
        20, ge=1, le=100_000,
        description="a whole number from 1 to 100000: failed sign-ins from one client "
                    "address within login_failure_window_minutes after which its sign-ins "
                    "are refused")
    login_failure_window_minutes: float = Field(
        15.0, gt=0, le=1440, allow_inf_nan=False,
        description="minutes, a number > 0 and <= 1440: how long a failed sign-in counts")
    token_lifetime_days: float = Field(
        365.0, ge=0, le=36_500, allow_inf_nan=False,
        description="days, a number >= 0 and <= 36500 (0: never expire): the lifetime of an "
                    "API token created without --expires-in")
    cookie_secure: bool = Field(
        False,
        description="true or false: true marks the session cookie Secure (sent over HTTPS "
                    "only); set it whenever the service is reached over HTTPS")

    # Plausible values (issue 15, docs/records.md): read by servicepulse.records.plausible, set
    # once per process by the CLI (docs/records.md, "Plausible values").
    plausible_from: Annotated[date, AfterValidator(_not_after_today)] = Field(
        date(1970, 1, 1), ge=date(1900, 1, 1),
        description="a date (YYYY-MM-DD) from 1900-01-01 up to today: times before it are "
                    "implausible and quarantined")
    plausible_years_ahead: int = Field(
        10, ge=0, le=1000,
        description="a whole number of years from 0 to 1000: times after the day this many "
                    "years after today are implausible and quarantined")
    max_duration_s: float = Field(
        86_400.0, gt=0, allow_inf_nan=False,
        description="seconds, a number > 0: longer talk_s, hold_s, wrap_s or handle_s values "
                    "are implausible and quarantined")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Arguments, then SERVICEPULSE_* variables, then the TOML file the class names in its
        # model_config (`toml_file`: none for Settings itself, see `_reading`); no .env files.
        return init_settings, env_settings, _TomlFile(settings_cls)


def config_path(path: Path | None = None) -> Path | None:
    """The configuration file to read: `path`, else $SERVICEPULSE_CONFIG, else ./servicepulse.toml
    when it exists, else None."""
    if path is not None:
        return Path(path)
    named = os.environ.get(CONFIG_PATH_VARIABLE)
    if named:
        return Path(named)
    default = Path.cwd() / CONFIG_FILE_NAME
    return default if default.is_file() else None


def _check_exists(path: Path, named_by: str) -> None:
    """A file named (given, or by SERVICEPULSE_CONFIG) must exist: the library's source skips
    a missing file silently, which would run on defaults without a word."""
    if not path.exists():
        raise ConfigError(
            f"{path}: configuration file not found ({named_by}); create it (see "
            f"servicepulse.toml.example) or point {CONFIG_PATH_VARIABLE} at an existing one")


@cache
def _reading(path: Path) -> type[Settings]:
    """`Settings` with `path` as its lowest-priority source. pydantic-settings names a
    source's file in the class's configuration (`settings_customise_sources` is a class
    method), so a file chosen at run time takes a subclass; one per file, built once."""
    return type("Settings", (Settings,), {
        "__module__": __name__, "__doc__": Settings.__doc__,
        "model_config": SettingsConfigDict(toml_file=path)})


def _field_info(location: tuple[int | str, ...]) -> tuple[FieldInfo | None, type[BaseModel] | None]:
    """The field a validation error points at, and the model that holds it."""
    model: type[BaseModel] | None = Settings
    info: FieldInfo | None = None
    for part in location:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return info, model
        info = model.model_fields[part]
        annotation = info.annotation
        holder = model
        model = annotation if isinstance(annotation, type) and issubclass(
            annotation, BaseModel) else None
        if model is None:
            return info, holder
    return info, model


def _environment_variable(location: tuple[int | str, ...]) -> str | None:
    """The SERVICEPULSE_* variable that set the value at `location`, if one did."""
    names = {name.upper(): name for name in os.environ}
    parts = [str(part) for part in location]
    for length in range(len(parts), 0, -1):
        candidate = (ENV_PREFIX + ENV_NESTED_DELIMITER.join(parts[:length])).upper()
        if candidate in names:
            return names[candidate]
    return None


def _describe(error: dict[str, Any], file: Path | None) -> str:
    location: tuple[int | str, ...] = tuple(error["loc"])
    key = ".".join(str(part) for part in location)
    variable = _environment_variable(location)
    where = (f"environment variable {variable}" if variable
             else str(file) if file is not None else "settings")
    if error["type"] == "extra_forbidden":
        _, holder = _field_info(location[:-1]) if len(location) > 1 else (None, Settings)
        known = ", ".join(holder.model_fields) if holder is not None else ""
        return f"{where}: unknown key {key!r}; known keys here: {known}"
    info, _ = _field_info(location)
    allowed = f"; allowed: {info.description}" if info is not None and info.description else ""
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {key} = {error.get('input')!r}: {message}{allowed}"


def load_settings(path: Path | None = None) -> Settings:
    """Settings from the configuration file (see `config_path`) and SERVICEPULSE_* variables.

    Raises ConfigError, with one line per problem, when a value is not allowed.
    """
    file = config_path(path)
    if file is not None:
        named_by = ("given" if path is not None
                    else f"named by {CONFIG_PATH_VARIABLE}" if os.environ.get(CONFIG_PATH_VARIABLE)
                    else "in the current directory")
        _check_exists(file, named_by)
    try:
        settings = Settings() if file is None else _reading(file.absolute())()
    except ValidationError as error:
        problems = [_describe(dict(item), file) for item in error.errors()]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from None
    if type(settings) is Settings:
        return settings
    # a Settings proper, not the per-file subclass: equal to one built with the same values
    # (pydantic compares the classes), and what every signature names
    return Settings.model_construct(settings.model_fields_set, **dict(settings))
