"""The JSON Schema of the canonical record format: any one record is one of the twelve kinds."""

from __future__ import annotations

from typing import Any, Union

from pydantic import TypeAdapter

from servicepulse.records.models import RECORD_MODELS


def record_json_schema() -> dict[str, Any]:
    # any one of the kinds, told apart by "type"
    union: TypeAdapter[Any] = TypeAdapter(Union[tuple(RECORD_MODELS.values())])  # noqa: UP007
    schema = union.json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ServicePulse canonical record"
    schema["description"] = (
        "One line of a ServicePulse JSON Lines file. \"type\" names the kind; times are ISO 8601 "
        "(no offset = UTC); durations are seconds."
    )
    return schema
