"""API keys: creation, authentication, listing and revocation."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db.engine import WRITE_TRANSACTION
from db.ids import new_id
from db.queries import keys as q
from db.records import ApiKeyRecord
from db.types import utcnow
from db.uow import UnitOfWork
from resolvers.context import Principal
from resolvers.errors import NotFound, Unauthenticated, ValidationFailed
from resolvers.scopes import ALL_SCOPES

KEY_PREFIX = "ak_live_"
#: Characters of the random part shown in listings and stored for look-up.
VISIBLE_RANDOM = 8
#: ``last_used_at`` is written at most this often per key (cheap on a hot key).
TOUCH_INTERVAL = timedelta(seconds=60)


def hash_key(raw_key: str) -> str:
    """SHA-256 of the key: keys carry 190+ bits of randomness, so no slow KDF is needed."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


def visible_prefix(raw_key: str) -> str:
    """The part of a key that may be shown and stored in clear (``ak_live_`` + 8 chars)."""
    return raw_key[: len(KEY_PREFIX) + VISIBLE_RANDOM]


def parse_scopes(text: str) -> list[str]:
    """Validate a comma-separated scope list."""
    scopes = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in scopes if s not in ALL_SCOPES]
    if unknown or not scopes:
        raise ValidationFailed(
            f"scopes must be a comma-separated subset of {', '.join(ALL_SCOPES)}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else ""),
            field="scopes",
        )
    return list(dict.fromkeys(scopes))


async def create_key(
    uow: UnitOfWork, *, account_name: str, scopes: list[str], name: str = ""
) -> tuple[str, ApiKeyRecord]:
    """Create a key (and its account if new); returns the raw key, shown only now."""
    account_name = account_name.strip()
    if not account_name or len(account_name) > 100:
        raise ValidationFailed("account must be 1-100 characters", field="account")
    session = await uow.writer()
    now = utcnow()
    account_id = await q.account_id_by_name(session, name=account_name)
    if account_id is None:
        account_id = new_id("acc")
        await q.insert_account(session, account_id=account_id, name=account_name, created_at=now)
    raw = KEY_PREFIX + secrets.token_urlsafe(32).replace("-", "x").replace("_", "y")
    key_id = new_id("key")
    await q.insert_key(
        session,
        values={
            "id": key_id,
            "account_id": account_id,
            "name": name,
            "prefix": visible_prefix(raw),
            "key_hash": hash_key(raw),
            "scopes": ",".join(scopes),
            "created_at": now,
        },
    )
    records = [k for k in await q.list_keys(session, account_name=account_name) if k.id == key_id]
    return raw, records[0]


async def list_keys(uow: UnitOfWork, *, account_name: str | None = None) -> list[ApiKeyRecord]:
    """Every key (never a secret), optionally of one account."""
    return await q.list_keys(await uow.reader(), account_name=account_name)


async def revoke_keys(uow: UnitOfWork, *, prefix: str) -> int:
    """Revoke the keys whose visible prefix starts with ``prefix``."""
    if len(prefix) < len(KEY_PREFIX) + 4:
        raise ValidationFailed(
            f"give at least {len(KEY_PREFIX) + 4} characters of the key prefix", field="prefix"
        )
    count = await q.revoke_keys(await uow.writer(), prefix=prefix, revoked_at=utcnow())
    if count == 0:
        raise NotFound(f"no live key starts with {prefix}")
    return count


async def authenticate(engine: AsyncEngine, raw_key: str | None) -> Principal:
    """The principal a presented key stands for; 401 for a missing, unknown or revoked key."""
    if not raw_key:
        raise Unauthenticated("a valid API key is required in the X-API-Key header")
    if not raw_key.startswith(KEY_PREFIX) or len(raw_key) > 200:
        raise Unauthenticated("the API key is not valid")
    presented = hash_key(raw_key)
    async with AsyncSession(engine) as session:
        candidates = await q.keys_by_prefix(session, prefix=visible_prefix(raw_key))
        await session.rollback()
    match: ApiKeyRecord | None = None
    for record, stored in candidates:
        if hmac.compare_digest(stored, presented):
            match = record
    if match is None or match.revoked_at is not None:
        raise Unauthenticated("the API key is not valid or was revoked")
    now = utcnow()
    if match.last_used_at is None or now - match.last_used_at > TOUCH_INTERVAL:
        async with AsyncSession(engine) as session:
            await session.connection(execution_options=WRITE_TRANSACTION)
            await q.touch_key(session, key_id=match.id, used_at=now)
            await session.commit()
    return Principal(match.account_id, match.id, match.prefix, frozenset(match.scopes))
