"""``/api/v2/contacts``: list, create, get, update, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from resolvers import contacts
from resolvers.filters import list_filter
from resolvers.pagination import DEFAULT_PAGE, MAX_PAGE, PageRequest
from resolvers.validation import ContactCreate, ContactUpdate
from rest_compat.deps import Ctx
from rest_compat.idempotency import Idempotency
from rest_compat.models import COMMON_ERRORS, Contact, ContactList, problems
from rest_compat.params import custom_field_params, split_tags
from rest_compat.preconditions import IfMatchHeader, expected_version, with_etag
from rest_compat.responses import JSONBytes
from rest_compat.serializers import contact_json, envelope

router = APIRouter(prefix="/api/v2/contacts", tags=["contacts"])


@router.get(
    "",
    response_model=ContactList,
    responses=problems(*COMMON_ERRORS),
    summary="List contacts",
)
async def list_contacts(
    ctx: Ctx,
    request: Request,
    search: Annotated[
        str | None, Query(description="Case-insensitive substring of name or email")
    ] = None,
    company_id: Annotated[str | None, Query(description="Only contacts of this company")] = None,
    tags: Annotated[
        str | None, Query(description="Comma-separated; matches ANY of the tags")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """Newest first; `custom_fields[key]=value` filters on a custom field."""
    flt = list_filter(
        search=search,
        company_id=company_id,
        tags=split_tags(tags),
        custom_field_filters=custom_field_params(request),
    )
    page = await contacts.list_contacts(ctx, flt=flt, page=PageRequest.rest(limit, offset))
    return JSONBytes(envelope(page, contact_json))


@router.post(
    "",
    status_code=201,
    response_model=Contact,
    responses=problems(*COMMON_ERRORS, 409, 413),
    summary="Create a contact",
)
async def create_contact(ctx: Ctx, body: ContactCreate, idem: Idempotency) -> Response:
    async def create() -> Response:
        record = await contacts.create_contact(ctx, data=body)
        return with_etag(JSONBytes(contact_json(record), status_code=201), record.version)

    return await idem.respond(ctx, create)


@router.get(
    "/{contact_id}",
    response_model=Contact,
    responses=problems(*COMMON_ERRORS, 404),
    summary="Get a contact",
)
async def get_contact(ctx: Ctx, contact_id: str) -> Response:
    record = await contacts.get_contact(ctx, contact_id=contact_id)
    return with_etag(JSONBytes(contact_json(record)), record.version)


@router.patch(
    "/{contact_id}",
    response_model=Contact,
    responses=problems(*COMMON_ERRORS, 404, 409, 412, 413),
    summary="Update a contact (partial; null clears a field; tags replaces the list)",
)
async def update_contact(
    ctx: Ctx,
    contact_id: str,
    body: ContactUpdate,
    idem: Idempotency,
    if_match: IfMatchHeader = None,
) -> Response:
    async def update() -> Response:
        record = await contacts.update_contact(
            ctx, contact_id=contact_id, data=body, expected_version=expected_version(if_match)
        )
        return with_etag(JSONBytes(contact_json(record)), record.version)

    return await idem.respond(ctx, update)


@router.delete(
    "/{contact_id}",
    status_code=204,
    responses=problems(*COMMON_ERRORS, 404, 412),
    summary="Erase a contact with its activity and attachments (GDPR)",
)
async def delete_contact(ctx: Ctx, contact_id: str, if_match: IfMatchHeader = None) -> Response:
    await contacts.delete_contact(
        ctx, contact_id=contact_id, expected_version=expected_version(if_match)
    )
    return Response(status_code=204)
