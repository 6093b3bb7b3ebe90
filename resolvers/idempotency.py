"""Idempotency keys: a keyed write runs once; a retry gets the first response back.

Protocol (REST ``Idempotency-Key`` header, GraphQL ``idempotencyKey`` argument):

1. A key is 1-255 printable ASCII characters, scoped to the API key that sent it.
2. While a request with a key runs, a duplicate *in this process* gets 409 at once; on
   PostgreSQL a duplicate in *another* process gets 409 too (a non-blocking advisory lock
   on the key). On SQLite, another process's duplicate waits for the write lock, which the
   first request holds until it commits, and then replays.
3. The first request inserts an ``in_progress`` row in its own write transaction, runs the
   effect, and turns the row into ``done`` with the response, all in one transaction: the
   effect and the stored response commit together or not at all. A failed request (any
   error) rolls back its row too, so a retry runs again.
4. A later request with the same key and the same fingerprint (method, path, canonical
   body) gets the stored response; a different fingerprint → 422.
5. Records live 24 hours. An expired record is deleted when its key is used again, and
   :func:`purge_expired` (run periodically by ``serve``) deletes the rest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import WRITE_TRANSACTION
from db.queries import idempotency as q
from db.types import utcnow
from resolvers.context import RequestContext
from resolvers.errors import Conflict, Unauthenticated, ValidationFailed

TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
#: Printable ASCII, no leading or trailing space (HTTP would strip it anyway).
KEY_PATTERN = r"^[!-~](?:[ -~]{0,253}[!-~])?$"
_KEY = re.compile(KEY_PATTERN)

T = TypeVar("T")

#: Keys being processed by this process right now: (account, api key, idempotency key).
_in_flight: set[tuple[str, str, str]] = set()


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response worth replaying: status, a few headers, and the body text."""

    status: int
    headers: dict[str, str]
    body: str


def check_key(raw: str | None, *, field: str = "Idempotency-Key") -> str | None:
    """The key if it is well-formed, None if absent; 422 naming ``field`` otherwise."""
    if raw is None:
        return None
    if not _KEY.match(raw):
        raise ValidationFailed(
            f"{field} must be 1-{MAX_KEY_LENGTH} printable ASCII characters", field=field
        )
    return raw


def fingerprint(method: str, path: str, body: bytes | str | Mapping[str, Any] | None) -> str:
    """SHA-256 of the method, the path and the body (JSON bodies canonicalised)."""
    canonical: bytes
    if body is None or body in (b"", ""):
        canonical = b""
    elif isinstance(body, Mapping):
        canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    else:
        raw = body.encode() if isinstance(body, str) else body
        try:
            canonical = orjson.dumps(orjson.loads(raw), option=orjson.OPT_SORT_KEYS)
        except orjson.JSONDecodeError:
            canonical = raw
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _in_progress(field: str) -> Conflict:
    return Conflict(f"a request with this {field} is still in progress; retry later", field=field)


@asynccontextmanager
async def _claimed(token: tuple[str, str, str], field: str) -> AsyncIterator[None]:
    if token in _in_flight:
        raise _in_progress(field)
    _in_flight.add(token)
    try:
        yield
    finally:
        _in_flight.discard(token)


async def run_once(
    ctx: RequestContext,
    *,
    key: str,
    fingerprint: str,
    effect: Callable[[], Awaitable[StoredResponse]],
    field: str = "Idempotency-Key",
) -> tuple[StoredResponse, bool]:
    """Run ``effect`` once per key; returns (response, replayed).

    Must run inside the request's unit of work (and savepoint, for GraphQL): the record is
    written with the effect and commits with it.
    """
    principal = ctx.principal
    if principal is None:
        raise ctx.auth_error or Unauthenticated("a valid API key is required")
    account_id, key_id = principal.account_id, principal.key_id
    async with _claimed((account_id, key_id, key), field):
        session = await ctx.uow.writer()
        if not await q.try_lock(session, account_id=account_id, key_id=key_id, idempotency_key=key):
            raise _in_progress(field)
        now = utcnow()
        found = await q.get(session, account_id=account_id, key_id=key_id, idempotency_key=key)
        if found is not None and found.expires_at <= now:
            await q.delete(session, account_id=account_id, key_id=key_id, idempotency_key=key)
            found = None
        if found is not None:
            return _replay(found, fingerprint, field), True
        try:
            async with session.begin_nested():
                await q.insert_in_progress(
                    session,
                    account_id=account_id,
                    key_id=key_id,
                    idempotency_key=key,
                    fingerprint=fingerprint,
                    created_at=now,
                    expires_at=now + TTL,
                )
        except IntegrityError:
            # Another process committed this key between our read and our insert.
            found = await q.get(session, account_id=account_id, key_id=key_id, idempotency_key=key)
            if found is None:
                raise
            return _replay(found, fingerprint, field), True
        response = await effect()
        await q.mark_done(
            session,
            account_id=account_id,
            key_id=key_id,
            idempotency_key=key,
            status=response.status,
            headers=response.headers,
            body=response.body,
        )
        return response, False


def _replay(found: q.StoredRecord, fingerprint: str, field: str) -> StoredResponse:
    if found.fingerprint != fingerprint:
        raise ValidationFailed(
            f"this {field} was used for a different request (operation or arguments)",
            field=field,
        )
    if found.state != "done" or found.status is None or found.body is None:
        raise _in_progress(field)
    return StoredResponse(found.status, found.headers, found.body)


async def purge_expired(engine: AsyncEngine, *, now: datetime | None = None) -> int:
    """Delete every expired record (in batches); returns how many. Safe to run anywhere."""
    from sqlalchemy.ext.asyncio import AsyncSession

    total = 0
    moment = now or utcnow()
    while True:
        async with AsyncSession(engine) as session:
            await session.connection(execution_options=WRITE_TRANSACTION)
            deleted = await q.purge_expired(session, now=moment, limit=5_000)
            await session.commit()
        total += deleted
        if deleted < 5_000:
            return total


# ---------------------------------------------------------------- records as stored bodies


def record_json(record: Any) -> str:
    """A frozen record dataclass as JSON text (datetimes as ISO 8601)."""
    return orjson.dumps(dataclasses.asdict(record)).decode()


def record_from_json(cls: type[T], text: str) -> T:
    """Rebuild a record dataclass from :func:`record_json` output."""
    data: dict[str, Any] = orjson.loads(text)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        value = data.get(f.name)
        if isinstance(value, str) and "datetime" in str(f.type):
            data[f.name] = datetime.fromisoformat(value)
    return cls(**data)


async def forget_erased(ctx: RequestContext, *, account_id: str, object_id: str) -> None:
    """Drop stored responses that would replay an erased person's data (GDPR erasure)."""
    session = await ctx.uow.writer()
    await q.forget_responses_mentioning(session, account_id=account_id, needle=object_id)
