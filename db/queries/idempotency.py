"""SQL for idempotency records (see resolvers/idempotency.py for the protocol)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import table_of
from db.models_idempotency import IdempotencyRecord
from db.queries.common import dialect_of

record = table_of(IdempotencyRecord)


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One idempotency record as the domain layer sees it."""

    fingerprint: str
    state: str
    status: int | None
    headers: dict[str, str]
    body: str | None
    expires_at: datetime


def _where(account_id: str, key_id: str, idempotency_key: str) -> list[Any]:
    return [
        record.c.account_id == account_id,
        record.c.key_id == key_id,
        record.c.idempotency_key == idempotency_key,
    ]


async def try_lock(
    session: AsyncSession, *, account_id: str, key_id: str, idempotency_key: str
) -> bool:
    """PostgreSQL: take a transaction-scoped advisory lock on the key without waiting.

    False means another transaction is processing the same key right now. SQLite needs no
    lock: the request already holds the database write lock (BEGIN IMMEDIATE).
    """
    if dialect_of(session) != "postgresql":
        return True
    token = f"idem:{account_id}:{key_id}:{idempotency_key}"
    got = await session.scalar(
        sa.select(sa.func.pg_try_advisory_xact_lock(sa.func.hashtextextended(token, 0)))
    )
    return bool(got)


async def get(
    session: AsyncSession, *, account_id: str, key_id: str, idempotency_key: str
) -> StoredRecord | None:
    """The record of this key, expired or not, or None."""
    stmt = sa.select(
        record.c.fingerprint,
        record.c.state,
        record.c.response_status,
        record.c.response_headers,
        record.c.response_body,
        record.c.expires_at,
    ).where(*_where(account_id, key_id, idempotency_key))
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    return StoredRecord(
        fingerprint=row[0],
        state=row[1],
        status=row[2],
        headers=dict(row[3] or {}),
        body=row[4],
        expires_at=row[5],
    )


async def delete(
    session: AsyncSession, *, account_id: str, key_id: str, idempotency_key: str
) -> None:
    """Remove this key's record (it expired)."""
    await session.execute(sa.delete(record).where(*_where(account_id, key_id, idempotency_key)))


async def insert_in_progress(
    session: AsyncSession,
    *,
    account_id: str,
    key_id: str,
    idempotency_key: str,
    fingerprint: str,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    """Claim the key in the request's transaction (the unique index stops a second claim)."""
    await session.execute(
        sa.insert(record).values(
            account_id=account_id,
            key_id=key_id,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            state="in_progress",
            response_headers={},
            created_at=created_at,
            expires_at=expires_at,
        )
    )


async def mark_done(
    session: AsyncSession,
    *,
    account_id: str,
    key_id: str,
    idempotency_key: str,
    status: int,
    headers: dict[str, str],
    body: str,
) -> None:
    """Store the response; it commits together with the effect."""
    await session.execute(
        sa.update(record)
        .where(*_where(account_id, key_id, idempotency_key))
        .values(state="done", response_status=status, response_headers=headers, response_body=body)
    )


async def purge_expired(session: AsyncSession, *, now: datetime, limit: int = 10_000) -> int:
    """Delete up to ``limit`` expired records of every account; returns how many."""
    doomed = sa.select(record.c.id).where(record.c.expires_at < now).limit(limit).scalar_subquery()
    result = await session.execute(sa.delete(record).where(record.c.id.in_(doomed)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def forget_responses_mentioning(
    session: AsyncSession, *, account_id: str, needle: str
) -> int:
    """Delete stored responses that contain ``needle`` (an erased contact's id)."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    result = await session.execute(
        sa.delete(record).where(
            record.c.account_id == account_id,
            record.c.response_body.like(f"%{escaped}%", escape="\\"),
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
