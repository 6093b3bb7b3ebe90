"""SQL for the event outbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import table_of
from db.models_events import EventOutbox
from db.queries.common import dialect_of

outbox = table_of(EventOutbox)

#: Advisory-lock class for "events of one account" (two-int form: class, hashtext(account)).
_ADVISORY_CLASS = 8

_COLUMNS = (
    outbox.c.seq,
    outbox.c.id,
    outbox.c.account_id,
    outbox.c.type,
    outbox.c.object_id,
    outbox.c.version,
    outbox.c.payload,
    outbox.c.created_at,
)


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One committed event."""

    seq: int
    id: str
    account_id: str
    type: str
    object_id: str
    version: int
    payload: dict[str, Any]
    created_at: datetime


def _record(row: sa.Row[Any]) -> EventRecord:
    return EventRecord(**row._mapping)


async def serialize_account_events(session: AsyncSession, *, account_id: str) -> None:
    """Make the account's event sequence numbers follow commit order.

    SQLite has one writer, so rowids already do. On PostgreSQL a transaction-scoped advisory
    lock per account is taken before the sequence number is drawn and held until commit, so
    within an account a smaller ``seq`` always commits first (what ordered delivery needs).
    """
    if dialect_of(session) == "postgresql":
        await session.execute(
            sa.text("SELECT pg_advisory_xact_lock(:cls, hashtext(:account))"),
            {"cls": _ADVISORY_CLASS, "account": account_id},
        )


async def insert_event(
    session: AsyncSession,
    *,
    account_id: str,
    event_id: str,
    type: str,
    object_id: str,
    version: int,
    payload: dict[str, Any],
    created_at: datetime,
) -> int:
    """Append an event to the outbox; returns its sequence number."""
    seq = await session.scalar(
        sa.insert(outbox)
        .values(
            id=event_id,
            account_id=account_id,
            type=type,
            object_id=object_id,
            version=version,
            payload=payload,
            created_at=created_at,
        )
        .returning(outbox.c.seq)
    )
    assert seq is not None
    return int(seq)


async def get_event(session: AsyncSession, *, account_id: str, event_id: str) -> EventRecord | None:
    """One event of the account."""
    row = (
        await session.execute(
            sa.select(*_COLUMNS).where(outbox.c.account_id == account_id, outbox.c.id == event_id)
        )
    ).first()
    return _record(row) if row is not None else None


async def list_events(
    session: AsyncSession, *, account_id: str, after_seq: int = 0, limit: int = 100
) -> list[EventRecord]:
    """The account's events in commit order, after ``after_seq``."""
    stmt = (
        sa.select(*_COLUMNS)
        .where(outbox.c.account_id == account_id, outbox.c.seq > after_seq)
        .order_by(outbox.c.seq)
        .limit(limit)
    )
    return [_record(r) for r in (await session.execute(stmt)).all()]


# The two functions below read across accounts on purpose: they feed the process-wide
# event hub, which routes each event to the subscribers of its own account only.


async def last_seq_all_accounts(session: AsyncSession) -> int:
    """The highest sequence number written so far (0 for an empty outbox)."""
    return int(await session.scalar(sa.select(sa.func.coalesce(sa.func.max(outbox.c.seq), 0))) or 0)


async def tail_all_accounts(
    session: AsyncSession, *, after_seq: int, limit: int = 500
) -> list[EventRecord]:
    """Events of every account after ``after_seq``, in sequence order."""
    stmt = sa.select(*_COLUMNS).where(outbox.c.seq > after_seq).order_by(outbox.c.seq).limit(limit)
    return [_record(r) for r in (await session.execute(stmt)).all()]


async def events_by_seq_all_accounts(
    session: AsyncSession, *, seqs: Sequence[int]
) -> list[EventRecord]:
    """The events with these sequence numbers (announced by NOTIFY), in sequence order."""
    if not seqs:
        return []
    stmt = sa.select(*_COLUMNS).where(outbox.c.seq.in_(list(seqs))).order_by(outbox.c.seq)
    return [_record(r) for r in (await session.execute(stmt)).all()]


async def redact_object_events(session: AsyncSession, *, account_id: str, object_id: str) -> int:
    """Cut every event about ``object_id`` down to its id and version (GDPR erasure)."""
    rows = (
        await session.execute(
            sa.select(outbox.c.seq, outbox.c.version).where(
                outbox.c.account_id == account_id, outbox.c.object_id == object_id
            )
        )
    ).all()
    for seq, version in rows:
        await session.execute(
            sa.update(outbox)
            .where(outbox.c.seq == seq)
            .values(
                payload={"account": account_id, "version": version, "object": {"id": object_id}}
            )
        )
    return len(rows)
