"""SQL for contacts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from db.models import Account, Company, Contact, ContactTag, table_of
from db.queries.common import before_keyset, dialect_of, has_any_tag, newest_first, replace_tags
from db.queries.custom_fields import custom_field_matches
from db.queries.search import is_common, is_indexed, substring_match
from db.records import ContactRecord, Keyset, ListFilter

contact = table_of(Contact)
company = table_of(Company)
contact_tag = table_of(ContactTag)
account = table_of(Account)

_COLUMNS = (
    contact.c.id,
    contact.c.name,
    contact.c.email,
    contact.c.phone,
    contact.c.company_id,
    company.c.name.label("company_name"),
    contact.c.tags,
    contact.c.custom_fields,
    contact.c.created_at,
    contact.c.updated_at,
    contact.c.version,
)

_FROM = contact.outerjoin(
    company,
    sa.and_(company.c.id == contact.c.company_id, company.c.account_id == contact.c.account_id),
)


def _record(row: sa.Row[Any]) -> ContactRecord:
    return ContactRecord(*row)  # type: ignore[call-arg]


def _where(
    dialect: str, account_id: str, flt: ListFilter, *, walk: bool = False
) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [
        contact.c.account_id == account_id,
        contact.c.deleted_at.is_(None),
    ]
    if flt.search:
        clauses.append(
            substring_match(
                dialect, contact, "contact_fts", ("name", "email"), flt.search, walk=walk
            )
        )
    if flt.company_id is not None:
        clauses.append(contact.c.company_id == flt.company_id)
    if flt.tags:
        clauses.append(has_any_tag(contact_tag, "contact_id", contact.c.id, account_id, flt.tags))
    for key, value in flt.custom_fields.items():
        clauses.append(_custom_field_equals(dialect, key, value))
    return clauses


def _custom_field_equals(dialect: str, key: str, value: Any) -> ColumnElement[bool]:
    # ``value`` was typed against the key's definition by the domain layer.
    return custom_field_matches(dialect, contact.c.custom_fields, key, value)


async def list_contacts(
    session: AsyncSession,
    *,
    account_id: str,
    flt: ListFilter,
    limit: int,
    offset: int = 0,
    after: Keyset | None = None,
) -> list[ContactRecord]:
    """One page of contacts, newest first, with the company name joined in.

    A common search term walks the ``created_at`` order (see ``search.is_common``); a deep
    ``offset`` first finds the key of that row through the index, then reads the page by key.
    """
    dialect = dialect_of(session)
    walk = bool(
        flt.search
        and is_indexed(dialect, flt.search)
        and await is_common(session, "contact_fts", flt.search)
    )
    where = _where(dialect, account_id, flt, walk=walk)
    if after is not None:
        where.append(before_keyset(contact, after))
    if offset >= DEEP_OFFSET:
        boundary = await _key_at(session, where, offset)
        if boundary is None:
            return []
        where.append(_at_or_before(boundary))
        offset = 0
    stmt = sa.select(*_COLUMNS).select_from(_FROM).where(*where)
    stmt = stmt.order_by(*newest_first(contact)).limit(limit).offset(offset or None)
    rows = (await session.execute(stmt)).all()
    return [_record(r) for r in rows]


#: From this offset on, a REST page is read by key after an index-only boundary look-up.
DEEP_OFFSET = 1_000


async def _key_at(
    session: AsyncSession, where: list[ColumnElement[bool]], offset: int
) -> Keyset | None:
    """The (created_at, id) of the row at ``offset``: only index columns, so an index-only scan."""
    stmt = (
        sa.select(contact.c.created_at, contact.c.id)
        .where(*where)
        .order_by(*newest_first(contact))
        .limit(1)
        .offset(offset)
    )
    row = (await session.execute(stmt)).first()
    return Keyset(created_at=row[0], id=row[1]) if row else None


def _at_or_before(key: Keyset) -> ColumnElement[bool]:
    """Rows at ``key`` or after it in (created_at desc, id desc) order."""
    return sa.and_(
        contact.c.created_at <= key.created_at,
        sa.or_(
            contact.c.created_at < key.created_at,
            sa.and_(contact.c.created_at == key.created_at, contact.c.id <= key.id),
        ),
    )


async def count_contacts(session: AsyncSession, *, account_id: str, flt: ListFilter) -> int:
    """How many contacts match ``flt``; the unfiltered total comes from the account's counter."""
    if not (flt.search or flt.tags or flt.company_id or flt.custom_fields):
        value = await session.scalar(
            sa.select(account.c.contact_count).where(account.c.id == account_id)
        )
        return int(value or 0)
    if flt.tags and not (flt.search or flt.company_id or flt.custom_fields):
        return await _count_tagged(session, account_id, flt.tags)
    stmt = (
        sa.select(sa.func.count())
        .select_from(contact)
        .where(*_where(dialect_of(session), account_id, flt))
    )
    return int(await session.scalar(stmt) or 0)


async def _count_tagged(session: AsyncSession, account_id: str, tags: list[str]) -> int:
    """Contacts with any of ``tags``, from the tag index alone, minus tagged sync tombstones.

    Counting through ``contact`` probes every row (seconds at a million); the tag table's
    primary key (account_id, tag, contact_id) counts the members, and the partial tombstone
    index finds the few rows to take away.
    """
    members = contact_tag.c.contact_id
    tagged = sa.select(
        sa.func.count(sa.distinct(members)) if len(tags) > 1 else sa.func.count()
    ).where(contact_tag.c.account_id == account_id, contact_tag.c.tag.in_(tags))
    tombstones = (
        sa.select(sa.func.count())
        .select_from(contact)
        .where(
            contact.c.account_id == account_id,
            contact.c.deleted_at.is_not(None),
            has_any_tag(contact_tag, "contact_id", contact.c.id, account_id, tags),
        )
    )
    value = await session.scalar(sa.select(tagged.scalar_subquery() - tombstones.scalar_subquery()))
    return int(value or 0)


async def get_contact(
    session: AsyncSession, *, account_id: str, contact_id: str
) -> ContactRecord | None:
    """One live contact of the account, or None."""
    stmt = (
        sa.select(*_COLUMNS)
        .select_from(_FROM)
        .where(
            contact.c.account_id == account_id,
            contact.c.id == contact_id,
            contact.c.deleted_at.is_(None),
        )
    )
    row = (await session.execute(stmt)).first()
    return _record(row) if row else None


async def get_contacts_by_ids(
    session: AsyncSession, *, account_id: str, ids: Sequence[str]
) -> dict[str, ContactRecord]:
    """Live contacts by id, in one statement."""
    if not ids:
        return {}
    stmt = (
        sa.select(*_COLUMNS)
        .select_from(_FROM)
        .where(
            contact.c.account_id == account_id,
            contact.c.id.in_(list(ids)),
            contact.c.deleted_at.is_(None),
        )
    )
    return {r.id: _record(r) for r in (await session.execute(stmt)).all()}


async def lock_contact(session: AsyncSession, *, account_id: str, contact_id: str) -> int | None:
    """Lock a live contact's row for update (PostgreSQL; SQLite holds the write lock) -> its version."""
    stmt = (
        sa.select(contact.c.version)
        .where(
            contact.c.account_id == account_id,
            contact.c.id == contact_id,
            contact.c.deleted_at.is_(None),
        )
        .with_for_update()
    )
    value = await session.scalar(stmt)
    return int(value) if value is not None else None


async def email_owner(session: AsyncSession, *, account_id: str, email_norm: str) -> str | None:
    """The id of the live contact that has this (normalised) email, if any."""
    stmt = sa.select(contact.c.id).where(
        contact.c.account_id == account_id,
        contact.c.email_norm == email_norm,
        contact.c.deleted_at.is_(None),
    )
    return await session.scalar(stmt)


async def insert_contact(
    session: AsyncSession, *, account_id: str, values: dict[str, Any], tags: Sequence[str]
) -> None:
    """Insert a contact with its tags and bump the account's counter."""
    await session.execute(
        sa.insert(contact).values(account_id=account_id, tags=list(tags), **values)
    )
    await replace_tags(
        session, contact_tag, "contact_id", account_id=account_id, owner_id=values["id"], tags=tags
    )
    await _bump_count(session, account_id, 1)


async def update_contact(
    session: AsyncSession,
    *,
    account_id: str,
    contact_id: str,
    values: dict[str, Any],
    tags: Sequence[str] | None,
    updated_at: datetime,
) -> None:
    """Apply only the given columns (so concurrent changes to other fields survive)."""
    if tags is not None:
        values = {**values, "tags": list(tags)}
        await replace_tags(
            session,
            contact_tag,
            "contact_id",
            account_id=account_id,
            owner_id=contact_id,
            tags=tags,
        )
    await session.execute(
        sa.update(contact)
        .where(contact.c.account_id == account_id, contact.c.id == contact_id)
        .values(**values, updated_at=updated_at, version=contact.c.version + 1)
    )


async def delete_contact(session: AsyncSession, *, account_id: str, contact_id: str) -> bool:
    """Erase a contact row (tags cascade) and decrement the counter; False when absent."""
    result = await session.execute(
        sa.delete(contact).where(
            contact.c.account_id == account_id,
            contact.c.id == contact_id,
            contact.c.deleted_at.is_(None),
        )
    )
    deleted = (result.rowcount or 0) > 0  # type: ignore[attr-defined]
    if deleted:
        await _bump_count(session, account_id, -1)
    return deleted


async def _bump_count(session: AsyncSession, account_id: str, delta: int) -> None:
    await session.execute(
        sa.update(account)
        .where(account.c.id == account_id)
        .values(contact_count=account.c.contact_count + delta)
    )


async def bump_contact_count(session: AsyncSession, *, account_id: str, delta: int) -> None:
    """Adjust the account's live-contact counter (for tombstoning and reviving by sync)."""
    await _bump_count(session, account_id, delta)
