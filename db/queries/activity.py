"""SQL for the contact activity timeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from db.models import table_of
from db.models_activity import Activity
from db.records import Keyset

activity = table_of(Activity)


@dataclass(frozen=True, slots=True)
class ActivityRecord:
    """One timeline item as the API shows it (attachments are loaded in batches)."""

    id: str
    contact_id: str
    type: str
    subject: str | None
    status: str | None
    channel: str | None
    direction: str | None
    summary: str | None
    occurred_at: datetime
    duration_seconds: int | None
    external_id: str | None
    source: str
    created_at: datetime


_COLUMNS = (
    activity.c.id,
    activity.c.contact_id,
    activity.c.type,
    activity.c.subject,
    activity.c.status,
    activity.c.channel,
    activity.c.direction,
    activity.c.summary,
    activity.c.occurred_at,
    activity.c.duration_seconds,
    activity.c.external_id,
    activity.c.source,
    activity.c.created_at,
)


def _record(row: sa.Row[Any]) -> ActivityRecord:
    return ActivityRecord(*row)  # type: ignore[call-arg]


def _newest_first() -> tuple[ColumnElement[Any], ...]:
    return (activity.c.occurred_at.desc(), activity.c.id.desc())


def _after(position: Keyset) -> ColumnElement[bool]:
    """Items after ``position`` (whose ``created_at`` holds an occurred_at) in timeline order."""
    return sa.or_(
        activity.c.occurred_at < position.created_at,
        sa.and_(activity.c.occurred_at == position.created_at, activity.c.id < position.id),
    )


async def insert_activity(
    session: AsyncSession, *, account_id: str, values: dict[str, Any]
) -> None:
    """Insert one activity item."""
    await session.execute(sa.insert(activity).values(account_id=account_id, **values))


async def get_activity(
    session: AsyncSession, *, account_id: str, activity_id: str
) -> ActivityRecord | None:
    """One activity item of the account, or None."""
    stmt = sa.select(*_COLUMNS).where(
        activity.c.account_id == account_id, activity.c.id == activity_id
    )
    row = (await session.execute(stmt)).first()
    return _record(row) if row else None


async def list_activity(
    session: AsyncSession,
    *,
    account_id: str,
    contact_id: str,
    limit: int,
    offset: int = 0,
    after: Keyset | None = None,
) -> list[ActivityRecord]:
    """One page of a contact's timeline, newest first by occurred_at, then id."""
    stmt = sa.select(*_COLUMNS).where(
        activity.c.account_id == account_id, activity.c.contact_id == contact_id
    )
    if after is not None:
        stmt = stmt.where(_after(after))
    stmt = stmt.order_by(*_newest_first()).limit(limit).offset(offset or None)
    return [_record(r) for r in (await session.execute(stmt)).all()]


async def count_activity(session: AsyncSession, *, account_id: str, contact_id: str) -> int:
    """How many activity items a contact has."""
    stmt = sa.select(sa.func.count()).where(
        activity.c.account_id == account_id, activity.c.contact_id == contact_id
    )
    return int(await session.scalar(stmt) or 0)


async def count_activity_of_contacts(
    session: AsyncSession, *, account_id: str, contact_ids: Sequence[str]
) -> dict[str, int]:
    """Activity counts for a batch of contacts, in one statement."""
    if not contact_ids:
        return {}
    stmt = (
        sa.select(activity.c.contact_id, sa.func.count())
        .where(activity.c.account_id == account_id, activity.c.contact_id.in_(list(contact_ids)))
        .group_by(activity.c.contact_id)
    )
    counts = {row[0]: int(row[1]) for row in (await session.execute(stmt)).all()}
    return {cid: counts.get(cid, 0) for cid in contact_ids}


async def activity_of_contacts(
    session: AsyncSession,
    *,
    account_id: str,
    contact_ids: Sequence[str],
    limit: int,
    after: Keyset | None,
) -> dict[str, list[ActivityRecord]]:
    """The first ``limit`` items of each contact's timeline, in one statement."""
    if not contact_ids:
        return {}
    rank = (
        sa.func.row_number()
        .over(partition_by=activity.c.contact_id, order_by=_newest_first())
        .label("rank")
    )
    inner = sa.select(*_COLUMNS, rank).where(
        activity.c.account_id == account_id, activity.c.contact_id.in_(list(contact_ids))
    )
    if after is not None:
        inner = inner.where(_after(after))
    ranked = inner.subquery()
    stmt = sa.select(*[ranked.c[c.key] for c in _COLUMNS]).where(ranked.c.rank <= limit)
    result: dict[str, list[ActivityRecord]] = {cid: [] for cid in contact_ids}
    for row in (await session.execute(stmt)).all():
        record = _record(row)
        result[record.contact_id].append(record)
    for items in result.values():
        items.sort(key=lambda r: (r.occurred_at, r.id), reverse=True)
    return result


async def delete_activity_of_contact(
    session: AsyncSession, *, account_id: str, contact_id: str
) -> int:
    """Erase every activity item of a contact; returns how many."""
    result = await session.execute(
        sa.delete(activity).where(
            activity.c.account_id == account_id, activity.c.contact_id == contact_id
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
