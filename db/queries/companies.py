"""SQL for companies."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from db.models import Company, CompanyTag, Contact, table_of
from db.queries.common import before_keyset, dialect_of, has_any_tag, newest_first, replace_tags
from db.queries.custom_fields import custom_field_matches
from db.queries.search import substring_match
from db.records import CompanyRecord, Keyset, ListFilter

company = table_of(Company)
company_tag = table_of(CompanyTag)
contact = table_of(Contact)

_COLUMNS = (
    company.c.id,
    company.c.name,
    company.c.domain,
    company.c.tags,
    company.c.custom_fields,
    company.c.created_at,
    company.c.updated_at,
    company.c.deleted_at,
    company.c.version,
)


def _record(row: sa.Row[Any], contact_count: int = 0) -> CompanyRecord:
    return CompanyRecord(*row, contact_count=contact_count)  # type: ignore[call-arg]


def _where(dialect: str, account_id: str, flt: ListFilter) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [company.c.account_id == account_id]
    if not flt.include_deleted:
        clauses.append(company.c.deleted_at.is_(None))
    if flt.search:
        clauses.append(
            substring_match(dialect, company, "company_fts", ("name", "domain"), flt.search)
        )
    if flt.tags:
        clauses.append(has_any_tag(company_tag, "company_id", company.c.id, account_id, flt.tags))
    for key, value in flt.custom_fields.items():
        # ``value`` was typed against the key's definition by the domain layer.
        clauses.append(custom_field_matches(dialect, company.c.custom_fields, key, value))
    return clauses


async def list_companies(
    session: AsyncSession,
    *,
    account_id: str,
    flt: ListFilter,
    limit: int,
    offset: int = 0,
    after: Keyset | None = None,
) -> list[CompanyRecord]:
    """One page of companies, newest first (contact counts filled by the caller in a batch)."""
    stmt = sa.select(*_COLUMNS).where(*_where(dialect_of(session), account_id, flt))
    if after is not None:
        stmt = stmt.where(before_keyset(company, after))
    stmt = stmt.order_by(*newest_first(company)).limit(limit).offset(offset or None)
    return [_record(r) for r in (await session.execute(stmt)).all()]


async def count_companies(session: AsyncSession, *, account_id: str, flt: ListFilter) -> int:
    """How many companies match ``flt``."""
    stmt = (
        sa.select(sa.func.count())
        .select_from(company)
        .where(*_where(dialect_of(session), account_id, flt))
    )
    return int(await session.scalar(stmt) or 0)


async def get_company(
    session: AsyncSession, *, account_id: str, company_id: str, for_update: bool = False
) -> CompanyRecord | None:
    """One company of the account (deleted ones too), or None."""
    stmt = sa.select(*_COLUMNS).where(
        company.c.account_id == account_id, company.c.id == company_id
    )
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).first()
    return _record(row) if row else None


async def get_companies_by_ids(
    session: AsyncSession, *, account_id: str, ids: Sequence[str]
) -> dict[str, CompanyRecord]:
    """Companies by id (deleted ones too), in one statement."""
    if not ids:
        return {}
    stmt = sa.select(*_COLUMNS).where(
        company.c.account_id == account_id, company.c.id.in_(list(ids))
    )
    return {r.id: _record(r) for r in (await session.execute(stmt)).all()}


async def contact_counts(
    session: AsyncSession, *, account_id: str, company_ids: Sequence[str]
) -> dict[str, int]:
    """Live contacts per company, for a batch of companies, in one statement."""
    if not company_ids:
        return {}
    stmt = (
        sa.select(contact.c.company_id, sa.func.count())
        .where(
            contact.c.account_id == account_id,
            contact.c.company_id.in_(list(company_ids)),
            contact.c.deleted_at.is_(None),
        )
        .group_by(contact.c.company_id)
    )
    counts: dict[str, int] = {row[0]: int(row[1]) for row in (await session.execute(stmt)).all()}
    return {cid: counts.get(cid, 0) for cid in company_ids}


async def domain_owner(session: AsyncSession, *, account_id: str, domain: str) -> str | None:
    """The id of the active company that has ``domain``, if any."""
    stmt = sa.select(company.c.id).where(
        company.c.account_id == account_id,
        company.c.domain == domain,
        company.c.deleted_at.is_(None),
    )
    return await session.scalar(stmt)


async def is_active(session: AsyncSession, *, account_id: str, company_id: str) -> bool:
    """True when the company exists in the account and is not deleted."""
    stmt = sa.select(company.c.id).where(
        company.c.account_id == account_id,
        company.c.id == company_id,
        company.c.deleted_at.is_(None),
    )
    return (await session.scalar(stmt)) is not None


async def insert_company(
    session: AsyncSession, *, account_id: str, values: dict[str, Any], tags: Sequence[str]
) -> None:
    """Insert a company with its tags."""
    await session.execute(
        sa.insert(company).values(account_id=account_id, tags=list(tags), **values)
    )
    await replace_tags(
        session, company_tag, "company_id", account_id=account_id, owner_id=values["id"], tags=tags
    )


async def update_company(
    session: AsyncSession,
    *,
    account_id: str,
    company_id: str,
    values: dict[str, Any],
    tags: Sequence[str] | None,
    updated_at: datetime,
) -> None:
    """Apply only the given columns and bump the version."""
    if tags is not None:
        values = {**values, "tags": list(tags)}
        await replace_tags(
            session,
            company_tag,
            "company_id",
            account_id=account_id,
            owner_id=company_id,
            tags=tags,
        )
    await session.execute(
        sa.update(company)
        .where(company.c.account_id == account_id, company.c.id == company_id)
        .values(**values, updated_at=updated_at, version=company.c.version + 1)
    )
