"""Custom fields: per-account definitions, and validation of the values records carry.

Rules chosen where the issue is silent:

* A key is unique per account (across contacts and companies), so ``/custom-fields/{key}``
  names one definition.
* ``key``, ``type`` and ``applies_to`` are fixed at creation; ``label``, ``options`` and
  ``required`` can change. Narrowing ``options`` or turning ``required`` on does not rewrite
  stored values: they are checked again when a write touches ``custom_fields``.
* Deleting a definition leaves stored values as they are: still returned with the record,
  no longer validated, no longer filterable (a filter on the key is a 422), and removable
  with ``{"custom_fields": {"key": null}}``. Nothing is rewritten, so nothing is corrupted.
* On update, ``custom_fields`` merges: the keys sent replace theirs, ``null`` removes a
  key, keys not sent stay.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StringConstraints, field_validator

from db.queries import custom_fields as q
from db.queries.custom_fields import CustomFieldRecord
from db.records import ListFilter
from db.types import utcnow
from resolvers.context import RequestContext
from resolvers.errors import Conflict, ErrorList, NotFound, ValidationFailed
from resolvers.scopes import CONFIG_WRITE, CONTACTS_READ
from resolvers.validation import _Input, parse, provided

AppliesTo = Literal["contacts", "companies"]
FieldType = Literal["text", "number", "boolean", "date", "select", "multi_select"]

#: The largest integer a ``number`` field takes (2**53 - 1, JavaScript's safe integer).
MAX_SAFE_INTEGER = 2**53 - 1

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_DEFINITIONS = 100
MAX_OPTIONS = 100
MAX_OPTION_LENGTH = 100
MAX_TEXT_LENGTH = 2_000
_SELECT_TYPES = ("select", "multi_select")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


def _options(value: list[Any] | None) -> list[str] | None:
    if value is None:
        return None
    seen: dict[str, None] = {}
    for raw in value:
        if not isinstance(raw, str) or not raw.strip():
            raise ValueError("options must be non-empty strings")
        option = raw.strip()
        if len(option) > MAX_OPTION_LENGTH:
            raise ValueError(f"an option can have at most {MAX_OPTION_LENGTH} characters")
        if option in seen:
            raise ValueError(f"duplicate option {option!r}")
        seen[option] = None
    if len(seen) > MAX_OPTIONS:
        raise ValueError(f"at most {MAX_OPTIONS} options")
    return list(seen)


class DefinitionCreate(_Input):
    """Body of a custom field definition."""

    key: Annotated[str, StringConstraints(max_length=64)]
    label: Label
    type: FieldType
    options: Annotated[list[Any], Field(max_length=MAX_OPTIONS * 2)] | None = None
    required: StrictBool = False
    applies_to: AppliesTo

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not KEY_PATTERN.match(value):
            raise ValueError(
                "must start with a lower-case letter, then lower-case letters, digits or _ "
                "(at most 64 characters)"
            )
        return value

    @field_validator("options")
    @classmethod
    def _opts(cls, value: list[Any] | None) -> list[str] | None:
        return _options(value)


class DefinitionUpdate(_Input):
    """Body of a definition change: only label, options and required can change."""

    label: Label | None = None
    options: Annotated[list[Any], Field(max_length=MAX_OPTIONS * 2)] | None = None
    required: StrictBool | None = None

    @field_validator("options")
    @classmethod
    def _opts(cls, value: list[Any] | None) -> list[str] | None:
        return _options(value)


def _check_options(field_type: str, options: list[str] | None) -> list[str]:
    if field_type in _SELECT_TYPES:
        if not options:
            raise ValidationFailed(
                f"options are required for a {field_type} field", field="options"
            )
        return options
    if options:
        raise ValidationFailed(f"a {field_type} field takes no options", field="options")
    return []


async def list_definitions(
    ctx: RequestContext, *, applies_to: AppliesTo | None = None
) -> list[CustomFieldRecord]:
    """The account's custom field definitions, by key."""
    account_id = ctx.require(CONTACTS_READ)
    if applies_to is not None and applies_to not in ("contacts", "companies"):
        raise ValidationFailed("applies_to must be contacts or companies", field="applies_to")
    session = await ctx.uow.reader()
    return await q.list_definitions(session, account_id=account_id, applies_to=applies_to)


async def get_definition(ctx: RequestContext, *, key: str) -> CustomFieldRecord:
    """One definition of the account."""
    account_id = ctx.require(CONTACTS_READ)
    session = await ctx.uow.reader()
    record = await q.get_definition(session, account_id=account_id, key=key)
    if record is None:
        raise NotFound(f"custom field {key} not found")
    return record


async def create_definition(
    ctx: RequestContext, *, data: DefinitionCreate | Mapping[str, Any]
) -> CustomFieldRecord:
    """Define a custom field; a key already defined in the account is a 409."""
    account_id = ctx.require(CONFIG_WRITE)
    body = parse(DefinitionCreate, data)
    options = _check_options(body.type, body.options)
    session = await ctx.uow.writer()
    if await q.get_definition(session, account_id=account_id, key=body.key) is not None:
        raise Conflict(f"custom field {body.key} is already defined", field="key")
    existing = await q.list_definitions(session, account_id=account_id)
    if len(existing) >= MAX_DEFINITIONS:
        raise ValidationFailed(
            f"an account can define at most {MAX_DEFINITIONS} custom fields", field="key"
        )
    now = utcnow()
    await q.insert_definition(
        session,
        account_id=account_id,
        values={
            "key": body.key,
            "label": body.label,
            "type": body.type,
            "options": options,
            "required": body.required,
            "applies_to": body.applies_to,
            "created_at": now,
            "updated_at": now,
        },
    )
    created = await q.get_definition(session, account_id=account_id, key=body.key)
    assert created is not None
    return created


async def update_definition(
    ctx: RequestContext, *, key: str, data: DefinitionUpdate | Mapping[str, Any]
) -> CustomFieldRecord:
    """Change a definition's label, options or required flag."""
    account_id = ctx.require(CONFIG_WRITE)
    if isinstance(data, Mapping):
        for fixed in ("key", "type", "applies_to"):
            if fixed in data:
                raise ValidationFailed(
                    f"{fixed} cannot change; delete the field and define it again", field=fixed
                )
    body = parse(DefinitionUpdate, data)
    changes = provided(body)
    session = await ctx.uow.writer()
    current = await q.get_definition(session, account_id=account_id, key=key)
    if current is None:
        raise NotFound(f"custom field {key} not found")
    values: dict[str, Any] = {}
    for name in ("label", "required"):
        if name in changes:
            if changes[name] is None:
                raise ValidationFailed(f"{name} cannot be null", field=name)
            values[name] = changes[name]
    if "options" in changes:
        values["options"] = _check_options(current.type, body.options)
    if values:
        await q.update_definition(
            session, account_id=account_id, key=key, values={**values, "updated_at": utcnow()}
        )
    updated = await q.get_definition(session, account_id=account_id, key=key)
    assert updated is not None
    return updated


async def delete_definition(ctx: RequestContext, *, key: str) -> str:
    """Remove a definition; stored values stay readable but are no longer validated."""
    account_id = ctx.require(CONFIG_WRITE)
    session = await ctx.uow.writer()
    if not await q.delete_definition(session, account_id=account_id, key=key):
        raise NotFound(f"custom field {key} not found")
    return key


def _value_error(definition: CustomFieldRecord, value: Any) -> tuple[Any, str | None]:
    """``(normalised value, None)`` or ``(None, the rule it broke)``."""
    kind = definition.type
    if kind == "text":
        if not isinstance(value, str):
            return None, "must be a string"
        if len(value) > MAX_TEXT_LENGTH:
            return None, f"must have at most {MAX_TEXT_LENGTH} characters"
        return value, None
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, "must be a number"
        if isinstance(value, float) and not math.isfinite(value):
            return None, "must be a finite number"
        if isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
            # what a JavaScript client (and every JSON parser) can hold exactly
            return None, f"must be an integer between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}"
        return value, None
    if kind == "boolean":
        if not isinstance(value, bool):
            return None, "must be true or false"
        return value, None
    if kind == "date":
        if not isinstance(value, str) or not _DATE.match(value):
            return None, "must be a date like 2026-01-15"
        try:
            date.fromisoformat(value)
        except ValueError:
            return None, "must be a date like 2026-01-15"
        return value, None
    if kind == "select":
        if not isinstance(value, str) or value not in definition.options:
            return None, f"must be one of {', '.join(definition.options)}"
        return value, None
    # multi_select
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None, "must be a list of strings"
    unknown = [v for v in value if v not in definition.options]
    if unknown:
        return None, f"{unknown[0]!r} is not one of {', '.join(definition.options)}"
    return list(dict.fromkeys(value)), None


async def validate_values(
    ctx: RequestContext,
    *,
    account_id: str,
    applies_to: AppliesTo,
    values: dict[str, Any],
    existing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Check ``values`` against the definitions; return the merged, normalised map.

    ``existing`` is given on update: ``values`` merges into it and ``null`` removes a key.
    Errors name ``custom_fields.<key>``: unknown key, wrong type, option not offered,
    required field missing. Stored keys whose definition was deleted are kept unchecked.
    """
    session = await ctx.uow.reader()
    definitions = {
        d.key: d
        for d in await q.list_definitions(session, account_id=account_id, applies_to=applies_to)
    }
    errors = ErrorList()
    merged: dict[str, Any] = dict(existing or {})
    for key, value in values.items():
        if value is None and existing is not None:
            merged.pop(key, None)
            continue
        definition = definitions.get(key)
        if definition is None:
            errors.add(f"custom_fields.{key}", f"unknown custom field for {applies_to}")
            continue
        if value is None:
            if definition.required:
                errors.add(f"custom_fields.{key}", "is required")
            continue
        normalised, problem = _value_error(definition, value)
        if problem is not None:
            errors.add(f"custom_fields.{key}", f"{definition.type} field: {problem}")
            continue
        merged[key] = normalised
    for key, definition in definitions.items():
        if (
            definition.required
            and merged.get(key) is None
            and f"custom_fields.{key}" not in {e.field for e in errors.items}
        ):
            errors.add(f"custom_fields.{key}", "is required")
    errors.raise_if_any()
    return merged


def _typed_filter_value(definition: CustomFieldRecord, raw: str) -> Any:
    """The filter text as the JSON value stored for this field type."""
    field = f"custom_fields[{definition.key}]"
    if definition.type == "number":
        try:
            number = float(raw)
        except ValueError:
            raise ValidationFailed("must be a number", field=field) from None
        if not math.isfinite(number):
            raise ValidationFailed("must be a finite number", field=field)
        return int(number) if number.is_integer() else number
    if definition.type == "boolean":
        if raw.lower() not in ("true", "false"):
            raise ValidationFailed("must be true or false", field=field)
        return raw.lower() == "true"
    if definition.type == "multi_select":
        return [raw]  # matches when the stored list contains the value
    return raw


async def typed_filter(
    ctx: RequestContext, *, account_id: str, applies_to: AppliesTo, flt: ListFilter
) -> ListFilter:
    """Check that each filtered key is defined and type its value; unknown key → 422."""
    if not flt.custom_fields:
        return flt
    session = await ctx.uow.reader()
    definitions = {
        d.key: d
        for d in await q.list_definitions(session, account_id=account_id, applies_to=applies_to)
    }
    typed: dict[str, Any] = {}
    for key, raw in flt.custom_fields.items():
        definition = definitions.get(key)
        if definition is None:
            raise ValidationFailed(
                f"custom_fields[{key}]: not a custom field of {applies_to}",
                field=f"custom_fields[{key}]",
            )
        typed[key] = _typed_filter_value(definition, str(raw))
    flt.custom_fields = typed
    return flt
