"""The JSON Schema of the canonical record format: any one record is one of the fourteen kinds."""

from __future__ import annotations

from typing import Any, Union

from pydantic import TypeAdapter

from servicepulse.records.models import RECORD_MODELS

# What the records accept as a time (docs/records.md): ISO 8601, date alone allowed (midnight),
# offset optional (none = UTC). JSON Schema's "date-time" format demands an offset, so it
# would reject valid records; this pattern says what is really accepted.
ISO_TIME_PATTERN = (
    r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?)?$"
)
ISO_TIME_DESCRIPTION = "ISO 8601 time; without an offset it is UTC"


def _honest_times(node: Any) -> None:
    """Replace every `"format": "date-time"` with the pattern of what validation accepts."""
    if isinstance(node, dict):
        if node.get("format") == "date-time":
            del node["format"]
            node["pattern"] = ISO_TIME_PATTERN
            node.setdefault("description", ISO_TIME_DESCRIPTION)
        for value in node.values():
            _honest_times(value)
    elif isinstance(node, list):
        for value in node:
            _honest_times(value)


_ANNOTATIONS = ("title", "description", "default")


def _nullable_optionals(definition: dict[str, Any]) -> None:
    """parse_record reads null as absent, so every optional field also accepts null."""
    required = set(definition.get("required", ()))
    for name, prop in definition.get("properties", {}).items():
        if name in required or any(
            option.get("type") == "null" for option in prop.get("anyOf", ())
        ):
            continue
        annotations = {key: prop.pop(key) for key in _ANNOTATIONS if key in prop}
        definition["properties"][name] = {"anyOf": [prop, {"type": "null"}], **annotations}


def record_json_schema() -> dict[str, Any]:
    # any one of the kinds, told apart by "type"
    kinds: Any = Union[tuple(RECORD_MODELS.values())]  # noqa: UP007
    union: TypeAdapter[Any] = TypeAdapter(kinds)
    schema = union.json_schema(by_alias=True)
    # `type` has a default in the models (so code can build them without it), but a line of
    # a file must say its kind: required in every kind's schema.
    for model in RECORD_MODELS.values():
        definition = schema["$defs"][model.__name__]
        required = definition.setdefault("required", [])
        if "type" not in required:
            required.insert(0, "type")
        _nullable_optionals(definition)
    _honest_times(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ServicePulse canonical record"
    schema["description"] = (
        "One line of a ServicePulse JSON Lines file. \"type\" names the kind; times are ISO 8601 "
        "(no offset = UTC); durations are seconds."
    )
    return schema
