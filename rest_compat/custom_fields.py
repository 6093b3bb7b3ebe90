"""``/api/v2/custom-fields``: the account's custom field definitions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from db.queries.custom_fields import CustomFieldRecord
from resolvers import custom_fields
from resolvers.custom_fields import DefinitionCreate, DefinitionUpdate
from resolvers.timestamps import iso_z
from rest_compat.deps import Ctx
from rest_compat.idempotency import Idempotency
from rest_compat.models import COMMON_ERRORS, problems
from rest_compat.responses import JSONBytes

router = APIRouter(prefix="/api/v2/custom-fields", tags=["custom fields"])


class CustomField(BaseModel):
    key: str
    label: str
    type: Literal["text", "number", "boolean", "date", "select", "multi_select"]
    options: list[str]
    required: bool
    applies_to: Literal["contacts", "companies"]
    created_at: datetime
    updated_at: datetime


class CustomFieldList(BaseModel):
    data: list[CustomField]
    total: int
    limit: int
    offset: int


def definition_json(d: CustomFieldRecord) -> dict[str, Any]:
    """A definition as REST returns it."""
    return {
        "key": d.key,
        "label": d.label,
        "type": d.type,
        "options": d.options,
        "required": d.required,
        "applies_to": d.applies_to,
        "created_at": iso_z(d.created_at),
        "updated_at": iso_z(d.updated_at),
    }


@router.get(
    "",
    response_model=CustomFieldList,
    responses=problems(*COMMON_ERRORS),
    summary="List the account's custom field definitions (by key; at most 100 exist)",
)
async def list_definitions(
    ctx: Ctx,
    applies_to: Annotated[
        Literal["contacts", "companies"] | None, Query(description="only those of one kind")
    ] = None,
) -> Response:
    items = await custom_fields.list_definitions(ctx, applies_to=applies_to)
    return JSONBytes(
        {
            "data": [definition_json(d) for d in items],
            "total": len(items),
            "limit": custom_fields.MAX_DEFINITIONS,
            "offset": 0,
        }
    )


@router.post(
    "",
    status_code=201,
    response_model=CustomField,
    responses=problems(*COMMON_ERRORS, 409, 413),
    summary="Define a custom field (config:write)",
)
async def create_definition(ctx: Ctx, body: DefinitionCreate, idem: Idempotency) -> Response:
    async def create() -> Response:
        record = await custom_fields.create_definition(ctx, data=body)
        return JSONBytes(definition_json(record), status_code=201)

    return await idem.respond(ctx, create)


@router.get(
    "/{key}",
    response_model=CustomField,
    responses=problems(*COMMON_ERRORS, 404),
    summary="One custom field definition",
)
async def get_definition(ctx: Ctx, key: str) -> Response:
    return JSONBytes(definition_json(await custom_fields.get_definition(ctx, key=key)))


@router.patch(
    "/{key}",
    response_model=CustomField,
    responses=problems(*COMMON_ERRORS, 404, 413),
    summary="Change a definition's label, options or required flag (config:write)",
)
async def update_definition(
    ctx: Ctx, key: str, body: DefinitionUpdate, idem: Idempotency
) -> Response:
    async def update() -> Response:
        record = await custom_fields.update_definition(ctx, key=key, data=body)
        return JSONBytes(definition_json(record))

    return await idem.respond(ctx, update)


@router.delete(
    "/{key}",
    status_code=204,
    responses=problems(*COMMON_ERRORS, 404),
    summary="Delete a definition; stored values stay readable, no longer validated (config:write)",
)
async def delete_definition(ctx: Ctx, key: str) -> Response:
    await custom_fields.delete_definition(ctx, key=key)
    return Response(status_code=204)
