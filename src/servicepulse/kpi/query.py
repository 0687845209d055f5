"""A KPI question: which KPIs, grouped how, over which dates, filtered to what."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from servicepulse.errors import InvalidRequest
from servicepulse.kpi.sources import DIMENSIONS

PeriodName = Literal["day", "week", "month", "quarter", "all"]


class KpiQuery(BaseModel):
    """`by` dimensions, `period`, local dates [from_, to) in the organisation's time zone
    (`to` exclusive), KPI names (None = all) and filters (dimension -> allowed values)."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    by: list[str] = Field(default_factory=list)
    period: PeriodName = "all"
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    kpis: list[str] | None = None
    filters: dict[str, list[str]] = Field(default_factory=dict)
    # False: no period before the first to compare with (`previous`, `change` and
    # `significant` come back empty); the figures of the periods asked are the same, and
    # the database reads only their rows (the wallboard's today, without yesterday)
    compare: bool = True

    @field_validator("by")
    @classmethod
    def _check_by(cls, value: list[str]) -> list[str]:
        for name in value:
            if name == "period":
                raise ValueError("group by period with `period`, not `by`")
            if name not in DIMENSIONS:
                raise ValueError(f"cannot group by {name!r}: use {', '.join(DIMENSIONS)}")
        if len(set(value)) != len(value):
            raise ValueError("a dimension is named twice in `by`")
        return value

    @field_validator("filters")
    @classmethod
    def _check_filters(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, allowed in value.items():
            if name not in DIMENSIONS:
                raise ValueError(f"cannot filter on {name!r}: use {', '.join(DIMENSIONS)}")
            if not allowed:
                raise ValueError(f"filter {name!r} lists no values")
        return value

    @field_validator("kpis")
    @classmethod
    def _check_kpis(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        from servicepulse.kpi.definitions import KPIS

        unknown = [name for name in value if name not in KPIS]
        if unknown:
            raise ValueError(f"unknown KPI {', '.join(unknown)}: known are {', '.join(KPIS)} "
                             "and iqs_<category> for any QA form category")
        return value

    @model_validator(mode="after")
    def _check_dates(self) -> KpiQuery:
        if self.from_ and self.to and self.to <= self.from_:
            raise ValueError(f"`to` ({self.to}) must be after `from` ({self.from_}): it is "
                             "exclusive")
        return self


def kpi_query(data: Mapping[str, Any]) -> KpiQuery:
    """The query of values a caller gave (a request's parameters): what the validators refuse
    (an unknown KPI or dimension, a backwards window) is an InvalidRequest, with the
    validators' own words."""
    try:
        return KpiQuery.model_validate(data)
    except ValidationError as error:
        raise InvalidRequest.of(error) from None
