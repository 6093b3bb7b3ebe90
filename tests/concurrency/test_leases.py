"""The per-account sync lease (ON CONFLICT upsert) under truly concurrent takers.

Each taker is its own unit of work on its own connection, as replicas are: exactly one may
win a free lease, and exactly one may take over an expired one.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import Account, table_of
from db.queries import sync as sync_q
from db.uow import UnitOfWork

TAKERS = 8
account = table_of(Account)


async def _account(engine: AsyncEngine) -> str:
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(account).values(
                id="acc_lease", name="lease", created_at=datetime.now(UTC), contact_count=0
            )
        )
    return "acc_lease"


async def _take(engine: AsyncEngine, account_id: str, holder: str, now: datetime) -> bool:
    uow = UnitOfWork(engine)
    try:
        session = await uow.writer()
        won = await sync_q.acquire_lease(
            session,
            account_id=account_id,
            holder=holder,
            now=now,
            expires_at=now + timedelta(minutes=5),
        )
        await uow.commit()
        return won
    finally:
        await uow.close()


async def test_one_taker_wins_a_free_lease(engine: AsyncEngine) -> None:
    account_id = await _account(engine)
    now = datetime.now(UTC)
    won = await asyncio.gather(
        *(_take(engine, account_id, f"replica-{n}", now) for n in range(TAKERS))
    )
    assert sum(won) == 1, won
    async with engine.connect() as conn:
        holder = await conn.scalar(sa.text("SELECT holder FROM sync_lease"))
    assert holder == f"replica-{won.index(True)}"


async def test_one_taker_wins_an_expired_lease_and_a_live_one_holds(engine: AsyncEngine) -> None:
    account_id = await _account(engine)
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    assert await _take(engine, account_id, "crashed", long_ago)  # expired 55 minutes ago
    now = datetime.now(UTC)
    won = await asyncio.gather(
        *(_take(engine, account_id, f"replica-{n}", now) for n in range(TAKERS))
    )
    assert sum(won) == 1, won
    # While it is live, nobody else gets it.
    again = await asyncio.gather(
        *(_take(engine, account_id, f"late-{n}", now) for n in range(TAKERS))
    )
    assert not any(again)
