"""Custom scalars: DateTime in the API's one format, and JSON for custom fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

from resolvers.timestamps import iso_z


def _parse_datetime(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("DateTime needs a time zone (use a Z suffix)")
    return parsed


#: The annotation types; their GraphQL definitions are registered by SCALAR_MAP (the schema's
#: ``StrawberryConfig.scalar_map``, which strawberry recommends over wrapping the type).
DateTime = NewType("DateTime", datetime)
JSON = NewType("JSON", object)

SCALAR_MAP: dict[object, ScalarDefinition] = {
    DateTime: strawberry.scalar(
        name="DateTime",
        description="ISO 8601 in UTC with a Z suffix, e.g. 2026-01-15T10:00:00.000Z",
        serialize=iso_z,
        parse_value=_parse_datetime,
    ),
    JSON: strawberry.scalar(
        name="JSON",
        description="A JSON object (custom field values)",
        serialize=lambda v: v,
        parse_value=lambda v: v,
    ),
}
