"""SQL for attachments (the bytes live in the blob store, keyed by the attachment id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import table_of
from db.models_activity import Attachment

attachment = table_of(Attachment)


@dataclass(frozen=True, slots=True)
class AttachmentRecord:
    """An attachment's metadata as the API shows it."""

    id: str
    contact_id: str
    activity_id: str | None
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime


_COLUMNS = (
    attachment.c.id,
    attachment.c.contact_id,
    attachment.c.activity_id,
    attachment.c.filename,
    attachment.c.content_type,
    attachment.c.size,
    attachment.c.sha256,
    attachment.c.created_at,
)
_NEWEST_FIRST = (attachment.c.created_at.desc(), attachment.c.id.desc())


def _record(row: sa.Row[Any]) -> AttachmentRecord:
    return AttachmentRecord(*row)  # type: ignore[call-arg]


async def insert_attachment(
    session: AsyncSession, *, account_id: str, values: dict[str, Any]
) -> None:
    """Insert one attachment row."""
    await session.execute(sa.insert(attachment).values(account_id=account_id, **values))


async def get_attachment(
    session: AsyncSession, *, account_id: str, attachment_id: str
) -> AttachmentRecord | None:
    """One attachment of the account, or None."""
    stmt = sa.select(*_COLUMNS).where(
        attachment.c.account_id == account_id, attachment.c.id == attachment_id
    )
    row = (await session.execute(stmt)).first()
    return _record(row) if row else None


async def list_attachments(
    session: AsyncSession, *, account_id: str, contact_id: str, limit: int, offset: int = 0
) -> list[AttachmentRecord]:
    """One page of a contact's attachments, newest first."""
    stmt = (
        sa.select(*_COLUMNS)
        .where(attachment.c.account_id == account_id, attachment.c.contact_id == contact_id)
        .order_by(*_NEWEST_FIRST)
        .limit(limit)
        .offset(offset or None)
    )
    return [_record(r) for r in (await session.execute(stmt)).all()]


async def count_attachments(session: AsyncSession, *, account_id: str, contact_id: str) -> int:
    """How many attachments a contact has."""
    stmt = sa.select(sa.func.count()).where(
        attachment.c.account_id == account_id, attachment.c.contact_id == contact_id
    )
    return int(await session.scalar(stmt) or 0)


async def attachments_of_activities(
    session: AsyncSession, *, account_id: str, activity_ids: Sequence[str]
) -> dict[str, list[AttachmentRecord]]:
    """Attachments of a batch of activity items, in one statement."""
    if not activity_ids:
        return {}
    stmt = (
        sa.select(*_COLUMNS)
        .where(
            attachment.c.account_id == account_id,
            attachment.c.activity_id.in_(list(activity_ids)),
        )
        .order_by(*_NEWEST_FIRST)
    )
    result: dict[str, list[AttachmentRecord]] = {aid: [] for aid in activity_ids}
    for row in (await session.execute(stmt)).all():
        record = _record(row)
        if record.activity_id is not None:
            result[record.activity_id].append(record)
    return result


async def attachments_of_contacts(
    session: AsyncSession, *, account_id: str, contact_ids: Sequence[str]
) -> dict[str, list[AttachmentRecord]]:
    """All attachments of a batch of contacts, newest first, in one statement."""
    if not contact_ids:
        return {}
    stmt = (
        sa.select(*_COLUMNS)
        .where(
            attachment.c.account_id == account_id,
            attachment.c.contact_id.in_(list(contact_ids)),
        )
        .order_by(*_NEWEST_FIRST)
    )
    result: dict[str, list[AttachmentRecord]] = {cid: [] for cid in contact_ids}
    for row in (await session.execute(stmt)).all():
        record = _record(row)
        result[record.contact_id].append(record)
    return result


async def delete_attachments_of_contact(
    session: AsyncSession, *, account_id: str, contact_id: str
) -> list[str]:
    """Erase a contact's attachment rows; returns their ids (whose bytes must go too)."""
    ids: list[str] = list(
        (
            await session.scalars(
                sa.select(attachment.c.id).where(
                    attachment.c.account_id == account_id, attachment.c.contact_id == contact_id
                )
            )
        ).all()
    )
    if ids:
        await session.execute(
            sa.delete(attachment).where(
                attachment.c.account_id == account_id, attachment.c.contact_id == contact_id
            )
        )
    return ids
