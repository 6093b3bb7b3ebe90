"""Batched look-ups for nested GraphQL fields (one statement per batch, never per row)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from db.queries.common import before_keyset
from db.queries.contacts import _COLUMNS, _FROM, _record, contact
from db.records import ContactRecord, Keyset


async def contacts_of_companies(
    session: AsyncSession,
    *,
    account_id: str,
    company_ids: Sequence[str],
    limit: int,
    after: Keyset | None,
) -> dict[str, list[ContactRecord]]:
    """The first ``limit`` live contacts of each company, newest first, in one statement."""
    if not company_ids:
        return {}
    rank = (
        sa.func.row_number()
        .over(
            partition_by=contact.c.company_id,
            order_by=(contact.c.created_at.desc(), contact.c.id.desc()),
        )
        .label("rank")
    )
    inner = (
        sa.select(*_COLUMNS, rank)
        .select_from(_FROM)
        .where(
            contact.c.account_id == account_id,
            contact.c.company_id.in_(list(company_ids)),
            contact.c.deleted_at.is_(None),
        )
    )
    if after is not None:
        inner = inner.where(before_keyset(contact, after))
    ranked = inner.subquery()
    stmt = sa.select(*[ranked.c[c.key] for c in _COLUMNS]).where(ranked.c.rank <= limit)
    result: dict[str, list[ContactRecord]] = {cid: [] for cid in company_ids}
    for row in (await session.execute(stmt)).all():
        record = _record(row)
        if record.company_id is not None:
            result[record.company_id].append(record)
    for items in result.values():
        items.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    return result
