"""Company use cases: list, get, create, update, soft delete, restore."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.ids import new_id
from db.queries import companies as q
from db.records import CompanyRecord, ListFilter
from db.types import utcnow
from resolvers import custom_fields
from resolvers.context import RequestContext
from resolvers.errors import Conflict, NotFound
from resolvers.events import changed_fields, record_event
from resolvers.integrity import unique_guard
from resolvers.pagination import Page, PageRequest, page_of
from resolvers.preconditions import require_version
from resolvers.representations import company_json
from resolvers.scopes import CONTACTS_READ, CONTACTS_WRITE
from resolvers.validation import CompanyCreate, CompanyUpdate, parse, provided


async def with_contact_counts(
    session: AsyncSession, account_id: str, records: Sequence[CompanyRecord]
) -> list[CompanyRecord]:
    """Fill ``contact_count`` for a batch of companies with one statement."""
    counts = await q.contact_counts(
        session, account_id=account_id, company_ids=[r.id for r in records]
    )
    return [replace(r, contact_count=counts.get(r.id, 0)) for r in records]


async def list_companies(
    ctx: RequestContext, *, flt: ListFilter, page: PageRequest, with_counts: bool = True
) -> Page[CompanyRecord]:
    """A page of the account's companies, newest first."""
    account_id = ctx.require(CONTACTS_READ)
    flt = await custom_fields.typed_filter(
        ctx, account_id=account_id, applies_to="companies", flt=flt
    )
    session = await ctx.uow.reader()
    rows = await q.list_companies(
        session,
        account_id=account_id,
        flt=flt,
        limit=page.limit + 1,
        offset=page.offset,
        after=page.after,
    )
    result = page_of(rows, page, None)
    items = (
        await with_contact_counts(session, account_id, result.items)
        if with_counts
        else result.items
    )
    total = (
        await q.count_companies(session, account_id=account_id, flt=flt)
        if page.with_total
        else None
    )
    return replace(result, items=items, total=total)


async def companies_by_ids(ctx: RequestContext, *, ids: Sequence[str]) -> dict[str, CompanyRecord]:
    """Companies by id (soft-deleted too) in one statement on the request's session.

    For a list resolver that already holds the page (root fields run one at a time, so the
    session is not shared); nested resolvers load through DataLoaders instead.
    """
    account_id = ctx.require(CONTACTS_READ)
    session = await ctx.uow.reader()
    return await q.get_companies_by_ids(session, account_id=account_id, ids=ids)


async def get_company(ctx: RequestContext, *, company_id: str) -> CompanyRecord:
    """One company of the account, deleted or not."""
    account_id = ctx.require(CONTACTS_READ)
    session = await ctx.uow.reader()
    return await _load(session, account_id, company_id)


async def create_company(
    ctx: RequestContext, *, data: CompanyCreate | Mapping[str, Any]
) -> CompanyRecord:
    """Create a company; its domain must be free among active companies."""
    account_id = ctx.require(CONTACTS_WRITE)
    body = parse(CompanyCreate, data)
    session = await ctx.uow.writer()
    await _check_domain(session, account_id, body.domain, exclude_id=None)
    values = await custom_fields.validate_values(
        ctx, account_id=account_id, applies_to="companies", values=body.custom_fields or {}
    )
    now = utcnow()
    company_id = new_id("co")
    async with unique_guard():
        await q.insert_company(
            session,
            account_id=account_id,
            values={
                "id": company_id,
                "name": body.name,
                "domain": body.domain,
                "custom_fields": values,
                "created_at": now,
                "updated_at": now,
            },
            tags=body.tags or [],
        )
    created = await _load(session, account_id, company_id)
    await _event(ctx, account_id, "company.created", created)
    return created


async def update_company(
    ctx: RequestContext,
    *,
    company_id: str,
    data: CompanyUpdate | Mapping[str, Any],
    expected_version: int | None = None,
) -> CompanyRecord:
    """Apply a partial update; a deleted company cannot be changed (409), a stale version 412."""
    account_id = ctx.require(CONTACTS_WRITE)
    body = parse(CompanyUpdate, data)
    changes = provided(body)
    session = await ctx.uow.writer()
    current = await _load(session, account_id, company_id, for_update=True)
    require_version("company", company_id, current.version, expected_version)
    if current.deleted_at is not None:
        raise Conflict(f"company {company_id} is deleted; restore it before changing it")
    values: dict[str, Any] = {}
    if "name" in changes:
        values["name"] = body.name
    if "domain" in changes:
        await _check_domain(session, account_id, body.domain, exclude_id=company_id)
        values["domain"] = body.domain
    if "custom_fields" in changes:
        values["custom_fields"] = await custom_fields.validate_values(
            ctx,
            account_id=account_id,
            applies_to="companies",
            values=body.custom_fields or {},
            existing=current.custom_fields,
        )
    tags = (body.tags or []) if "tags" in changes else None
    async with unique_guard():
        await q.update_company(
            session,
            account_id=account_id,
            company_id=company_id,
            values=values,
            tags=tags,
            updated_at=utcnow(),
        )
    updated = await _load(session, account_id, company_id)
    await _event(
        ctx,
        account_id,
        "company.updated",
        updated,
        changes=changed_fields(company_json(current), company_json(updated)),
    )
    return updated


async def delete_company(
    ctx: RequestContext, *, company_id: str, expected_version: int | None = None
) -> CompanyRecord:
    """Soft-delete: the company leaves lists but keeps its contacts and stays readable."""
    account_id = ctx.require(CONTACTS_WRITE)
    session = await ctx.uow.writer()
    current = await _load(session, account_id, company_id, for_update=True)
    require_version("company", company_id, current.version, expected_version)
    if current.deleted_at is None:
        now = utcnow()
        await q.update_company(
            session,
            account_id=account_id,
            company_id=company_id,
            values={"deleted_at": now},
            tags=None,
            updated_at=now,
        )
        deleted = await _load(session, account_id, company_id)
        await _event(ctx, account_id, "company.deleted", deleted)
        return deleted
    return current


async def restore_company(ctx: RequestContext, *, company_id: str) -> CompanyRecord:
    """Undo a soft delete; 409 if another active company took the domain meanwhile."""
    account_id = ctx.require(CONTACTS_WRITE)
    session = await ctx.uow.writer()
    current = await _load(session, account_id, company_id, for_update=True)
    if current.deleted_at is not None:
        await _check_domain(session, account_id, current.domain, exclude_id=company_id)
        async with unique_guard():
            await q.update_company(
                session,
                account_id=account_id,
                company_id=company_id,
                values={"deleted_at": None},
                tags=None,
                updated_at=utcnow(),
            )
        restored = await _load(session, account_id, company_id)
        await _event(ctx, account_id, "company.restored", restored)
        return restored
    return current


async def _event(
    ctx: RequestContext,
    account_id: str,
    type: str,
    record: CompanyRecord,
    *,
    changes: dict[str, Any] | None = None,
) -> None:
    await record_event(
        ctx,
        account_id=account_id,
        type=type,
        obj_id=record.id,
        version=record.version,
        data=company_json(record),
        changed_fields=changes,
    )


async def _load(
    session: AsyncSession, account_id: str, company_id: str, *, for_update: bool = False
) -> CompanyRecord:
    record = await q.get_company(
        session, account_id=account_id, company_id=company_id, for_update=for_update
    )
    if record is None:
        raise NotFound(f"company {company_id} not found")
    return (await with_contact_counts(session, account_id, [record]))[0]


async def _check_domain(
    session: AsyncSession, account_id: str, domain: str | None, *, exclude_id: str | None
) -> None:
    if domain is None:
        return
    owner = await q.domain_owner(session, account_id=account_id, domain=domain)
    if owner is not None and owner != exclude_id:
        raise Conflict(f"another active company already has the domain {domain}", field="domain")
