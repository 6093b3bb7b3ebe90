"""SQL for accounts and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Account, ApiKey, table_of
from db.records import ApiKeyRecord

account = table_of(Account)
api_key = table_of(ApiKey)

_KEY_COLUMNS = (
    api_key.c.id,
    api_key.c.account_id,
    account.c.name.label("account_name"),
    api_key.c.name,
    api_key.c.prefix,
    api_key.c.scopes,
    api_key.c.created_at,
    api_key.c.last_used_at,
    api_key.c.revoked_at,
)


def _record(row: sa.Row[Any]) -> ApiKeyRecord:
    values = row._asdict()
    values.pop("key_hash", None)
    values["scopes"] = [s for s in values["scopes"].split(",") if s]
    return ApiKeyRecord(**values)


async def account_id_by_name(session: AsyncSession, *, name: str) -> str | None:
    """The id of the account called ``name``."""
    return await session.scalar(sa.select(account.c.id).where(account.c.name == name))


async def insert_account(
    session: AsyncSession, *, account_id: str, name: str, created_at: datetime
) -> None:
    """Create an account."""
    await session.execute(
        sa.insert(account).values(id=account_id, name=name, created_at=created_at)
    )


async def insert_key(session: AsyncSession, *, values: dict[str, Any]) -> None:
    """Store a new key (hash and prefix only)."""
    await session.execute(sa.insert(api_key).values(**values))


async def keys_by_prefix(session: AsyncSession, *, prefix: str) -> list[tuple[ApiKeyRecord, str]]:
    """Candidate keys for a presented key, with their stored hashes."""
    stmt = (
        sa.select(*_KEY_COLUMNS, api_key.c.key_hash)
        .select_from(api_key.join(account, account.c.id == api_key.c.account_id))
        .where(api_key.c.prefix == prefix)
    )
    rows = (await session.execute(stmt)).all()
    return [(_record(r), r.key_hash) for r in rows]


async def list_keys(
    session: AsyncSession, *, account_name: str | None = None
) -> list[ApiKeyRecord]:
    """Every key, optionally of one account, oldest first."""
    stmt = sa.select(*_KEY_COLUMNS).select_from(
        api_key.join(account, account.c.id == api_key.c.account_id)
    )
    if account_name is not None:
        stmt = stmt.where(account.c.name == account_name)
    stmt = stmt.order_by(api_key.c.created_at, api_key.c.id)
    return [_record(r) for r in (await session.execute(stmt)).all()]


async def revoke_keys(session: AsyncSession, *, prefix: str, revoked_at: datetime) -> int:
    """Revoke the live keys whose visible prefix starts with ``prefix``; returns how many."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    result = await session.execute(
        sa.update(api_key)
        .where(api_key.c.prefix.like(f"{escaped}%", escape="\\"), api_key.c.revoked_at.is_(None))
        .values(revoked_at=revoked_at)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def touch_key(session: AsyncSession, *, key_id: str, used_at: datetime) -> None:
    """Record that a key was used."""
    await session.execute(
        sa.update(api_key).where(api_key.c.id == key_id).values(last_used_at=used_at)
    )
