"""``/api/v2/companies``: list, create, get, update, soft delete, restore."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from resolvers import companies
from resolvers.filters import list_filter
from resolvers.pagination import DEFAULT_PAGE, MAX_PAGE, PageRequest
from resolvers.validation import CompanyCreate, CompanyUpdate
from rest_compat.deps import Ctx
from rest_compat.idempotency import Idempotency
from rest_compat.models import COMMON_ERRORS, Company, CompanyList, problems
from rest_compat.params import custom_field_params, split_tags
from rest_compat.preconditions import IfMatchHeader, expected_version, with_etag
from rest_compat.responses import JSONBytes
from rest_compat.serializers import company_json, envelope

router = APIRouter(prefix="/api/v2/companies", tags=["companies"])


@router.get(
    "", response_model=CompanyList, responses=problems(*COMMON_ERRORS), summary="List companies"
)
async def list_companies(
    ctx: Ctx,
    request: Request,
    search: Annotated[
        str | None, Query(description="Case-insensitive substring of name or domain")
    ] = None,
    tags: Annotated[
        str | None, Query(description="Comma-separated; matches ANY of the tags")
    ] = None,
    include_deleted: Annotated[bool, Query(description="Also list soft-deleted companies")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """Newest first; `custom_fields[key]=value` filters on a custom field."""
    flt = list_filter(
        search=search,
        tags=split_tags(tags),
        custom_field_filters=custom_field_params(request),
        include_deleted=include_deleted,
    )
    page = await companies.list_companies(ctx, flt=flt, page=PageRequest.rest(limit, offset))
    return JSONBytes(envelope(page, company_json))


@router.post(
    "",
    status_code=201,
    response_model=Company,
    responses=problems(*COMMON_ERRORS, 409, 413),
    summary="Create a company",
)
async def create_company(ctx: Ctx, body: CompanyCreate, idem: Idempotency) -> Response:
    async def create() -> Response:
        record = await companies.create_company(ctx, data=body)
        return with_etag(JSONBytes(company_json(record), status_code=201), record.version)

    return await idem.respond(ctx, create)


@router.get(
    "/{company_id}",
    response_model=Company,
    responses=problems(*COMMON_ERRORS, 404),
    summary="Get a company (soft-deleted ones too)",
)
async def get_company(ctx: Ctx, company_id: str) -> Response:
    record = await companies.get_company(ctx, company_id=company_id)
    return with_etag(JSONBytes(company_json(record)), record.version)


@router.patch(
    "/{company_id}",
    response_model=Company,
    responses=problems(*COMMON_ERRORS, 404, 409, 412, 413),
    summary="Update a company (partial); a deleted company answers 409",
)
async def update_company(
    ctx: Ctx,
    company_id: str,
    body: CompanyUpdate,
    idem: Idempotency,
    if_match: IfMatchHeader = None,
) -> Response:
    async def update() -> Response:
        record = await companies.update_company(
            ctx, company_id=company_id, data=body, expected_version=expected_version(if_match)
        )
        return with_etag(JSONBytes(company_json(record)), record.version)

    return await idem.respond(ctx, update)


@router.delete(
    "/{company_id}",
    status_code=204,
    responses=problems(*COMMON_ERRORS, 404, 412),
    summary="Soft-delete a company (it keeps its contacts and can be restored)",
)
async def delete_company(ctx: Ctx, company_id: str, if_match: IfMatchHeader = None) -> Response:
    await companies.delete_company(
        ctx, company_id=company_id, expected_version=expected_version(if_match)
    )
    return Response(status_code=204)


@router.post(
    "/{company_id}/restore",
    response_model=Company,
    responses=problems(*COMMON_ERRORS, 404, 409),
    summary="Restore a soft-deleted company",
)
async def restore_company(ctx: Ctx, company_id: str, idem: Idempotency) -> Response:
    async def restore() -> Response:
        record = await companies.restore_company(ctx, company_id=company_id)
        return with_etag(JSONBytes(company_json(record)), record.version)

    return await idem.respond(ctx, restore)
