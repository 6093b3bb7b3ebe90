"""Validation of ``custom_fields`` values against the account's definitions."""

from __future__ import annotations

from typing import Any, Literal

from resolvers.context import RequestContext
from resolvers.errors import ErrorList

AppliesTo = Literal["contacts", "companies"]


async def validate_values(
    ctx: RequestContext,
    *,
    account_id: str,
    applies_to: AppliesTo,
    values: dict[str, Any],
    existing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Check ``values`` against the definitions; return the merged, normalised map.

    Until an account defines custom fields, every key is unknown.
    """
    errors = ErrorList()
    for key in values:
        errors.add(f"custom_fields.{key}", "unknown custom field")
    errors.raise_if_any()
    return dict(existing or {})
