"""Contact use cases: list, get, create, update, delete (a GDPR erasure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from db.ids import new_id
from db.queries import companies as company_q
from db.queries import contacts as q
from db.records import ContactRecord, ListFilter
from db.types import utcnow
from resolvers import attachments, custom_fields
from resolvers.context import RequestContext
from resolvers.errors import Conflict, NotFound, ValidationFailed
from resolvers.events import changed_fields, erase_history, record_event
from resolvers.idempotency import forget_erased
from resolvers.integrity import unique_guard
from resolvers.pagination import Page, PageRequest, page_of
from resolvers.preconditions import require_version
from resolvers.representations import contact_json
from resolvers.scopes import CONTACTS_READ, CONTACTS_WRITE
from resolvers.validation import ContactCreate, ContactUpdate, email_key, parse, provided


async def list_contacts(
    ctx: RequestContext, *, flt: ListFilter, page: PageRequest
) -> Page[ContactRecord]:
    """A page of the account's contacts, newest first."""
    account_id = ctx.require(CONTACTS_READ)
    flt = await custom_fields.typed_filter(
        ctx, account_id=account_id, applies_to="contacts", flt=flt
    )
    session = await ctx.uow.reader()
    rows = await q.list_contacts(
        session,
        account_id=account_id,
        flt=flt,
        limit=page.limit + 1,
        offset=page.offset,
        after=page.after,
    )
    total = (
        await q.count_contacts(session, account_id=account_id, flt=flt) if page.with_total else None
    )
    return page_of(rows, page, total)


async def get_contact(ctx: RequestContext, *, contact_id: str) -> ContactRecord:
    """One contact of the account; another account's id is a 404 too."""
    account_id = ctx.require(CONTACTS_READ)
    session = await ctx.uow.reader()
    record = await q.get_contact(session, account_id=account_id, contact_id=contact_id)
    if record is None:
        raise NotFound(f"contact {contact_id} not found")
    return record


async def create_contact(
    ctx: RequestContext, *, data: ContactCreate | Mapping[str, Any]
) -> ContactRecord:
    """Create a contact after checking every rule."""
    account_id = ctx.require(CONTACTS_WRITE)
    body = parse(ContactCreate, data)
    session = await ctx.uow.writer()
    await _check_company(ctx, account_id, body.company_id)
    email_norm = await _check_email(ctx, account_id, body.email, exclude_id=None)
    values = await custom_fields.validate_values(
        ctx, account_id=account_id, applies_to="contacts", values=body.custom_fields or {}
    )
    now = utcnow()
    contact_id = new_id("ct")
    async with unique_guard():
        await q.insert_contact(
            session,
            account_id=account_id,
            values={
                "id": contact_id,
                "name": body.name,
                "email": body.email,
                "email_norm": email_norm,
                "phone": body.phone,
                "company_id": body.company_id,
                "custom_fields": values,
                "created_at": now,
                "updated_at": now,
            },
            tags=body.tags or [],
        )
    created = await q.get_contact(session, account_id=account_id, contact_id=contact_id)
    assert created is not None
    await record_event(
        ctx,
        account_id=account_id,
        type="contact.created",
        obj_id=created.id,
        version=created.version,
        data=contact_json(created),
    )
    return created


async def update_contact(
    ctx: RequestContext,
    *,
    contact_id: str,
    data: ContactUpdate | Mapping[str, Any],
    expected_version: int | None = None,
) -> ContactRecord:
    """Apply a partial update; only the fields sent change (412 if ``expected_version`` is stale)."""
    account_id = ctx.require(CONTACTS_WRITE)
    body = parse(ContactUpdate, data)
    changes = provided(body)
    session = await ctx.uow.writer()
    version = await q.lock_contact(session, account_id=account_id, contact_id=contact_id)
    if version is None:
        raise NotFound(f"contact {contact_id} not found")
    require_version("contact", contact_id, version, expected_version)
    current = await q.get_contact(session, account_id=account_id, contact_id=contact_id)
    assert current is not None
    values: dict[str, Any] = {}
    if "name" in changes:
        values["name"] = body.name
    if "phone" in changes:
        values["phone"] = body.phone
    if "company_id" in changes:
        await _check_company(ctx, account_id, body.company_id)
        values["company_id"] = body.company_id
    if "email" in changes:
        values["email"] = body.email
        values["email_norm"] = await _check_email(
            ctx, account_id, body.email, exclude_id=contact_id
        )
    if "custom_fields" in changes:
        values["custom_fields"] = await custom_fields.validate_values(
            ctx,
            account_id=account_id,
            applies_to="contacts",
            values=body.custom_fields or {},
            existing=current.custom_fields,
        )
    tags = (body.tags or []) if "tags" in changes else None
    async with unique_guard():
        await q.update_contact(
            session,
            account_id=account_id,
            contact_id=contact_id,
            values=values,
            tags=tags,
            updated_at=utcnow(),
        )
    updated = await q.get_contact(session, account_id=account_id, contact_id=contact_id)
    assert updated is not None
    after = contact_json(updated)
    await record_event(
        ctx,
        account_id=account_id,
        type="contact.updated",
        obj_id=contact_id,
        version=updated.version,
        data=after,
        changed_fields=changed_fields(contact_json(current), after),
    )
    return updated


async def delete_contact(
    ctx: RequestContext, *, contact_id: str, expected_version: int | None = None
) -> str:
    """Erase a contact and everything of the person (tags, activity, attachments)."""
    account_id = ctx.require(CONTACTS_WRITE)
    session = await ctx.uow.writer()
    version = await q.lock_contact(session, account_id=account_id, contact_id=contact_id)
    if version is not None:
        require_version("contact", contact_id, version, expected_version)
    # The timeline goes first (its rows name the files whose bytes must go too).
    blob_keys = (
        await attachments.erase_rows_of_contact(ctx, account_id=account_id, contact_id=contact_id)
        if version is not None
        else []
    )
    if version is None or not await q.delete_contact(
        session, account_id=account_id, contact_id=contact_id
    ):
        raise NotFound(f"contact {contact_id} not found")
    # Nothing of an erased person remains beyond the id: not in earlier events, not in
    # responses kept for idempotent replays, not in the event announcing the erasure.
    await erase_history(ctx, account_id=account_id, object_id=contact_id)
    await forget_erased(ctx, account_id=account_id, object_id=contact_id)
    await record_event(
        ctx,
        account_id=account_id,
        type="contact.deleted",
        obj_id=contact_id,
        version=version + 1,
        data={"id": contact_id},
    )
    # Bytes last, once the row deletes are flushed (see attachments.erase_blobs on rollback).
    await attachments.erase_blobs(ctx, blob_keys)
    return contact_id


async def _check_company(ctx: RequestContext, account_id: str, company_id: str | None) -> None:
    if company_id is None:
        return
    session = await ctx.uow.writer()
    if not await company_q.is_active(session, account_id=account_id, company_id=company_id):
        raise ValidationFailed(
            f"company_id must name an active company of this account ({company_id} does not)",
            field="company_id",
        )


async def _check_email(
    ctx: RequestContext, account_id: str, email: str | None, *, exclude_id: str | None
) -> str | None:
    if email is None:
        return None
    key = email_key(email)
    session = await ctx.uow.writer()
    owner = await q.email_owner(session, account_id=account_id, email_norm=key)
    if owner is not None and owner != exclude_id:
        raise Conflict(f"another contact already has the email {email}", field="email")
    return key
