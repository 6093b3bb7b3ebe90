"""Domain events: written to the outbox in the transaction of the change they describe.

``record_event`` is called by every use case that changes a contact or a company (and by the
sync engine). The event row and one delivery row per matching webhook endpoint are inserted
with the change, so a change without its event (or an event without its change) cannot be
committed. Subscribers and the delivery worker learn about committed events from the outbox.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from db.ids import new_id
from db.queries import contacts as contact_q
from db.queries import events as q
from db.queries import webhooks as wq
from db.records import ContactRecord
from db.types import utcnow
from resolvers.context import RequestContext
from resolvers.errors import ValidationFailed
from resolvers.representations import contact_json

CONTACT_EVENTS = ("contact.created", "contact.updated", "contact.deleted")
COMPANY_EVENTS = ("company.created", "company.updated", "company.deleted", "company.restored")
SYNC_EVENTS = ("sync.completed", "sync.failed")
#: Every event type an endpoint can subscribe to (``ping`` is sent on request only).
EVENT_TYPES: tuple[str, ...] = CONTACT_EVENTS + COMPANY_EVENTS + SYNC_EVENTS
PING = "ping"

_ENDPOINT_CACHE = "cg_webhook_endpoints"
_LISTENING = "cg_events_listening"
_WROTE = "cg_events_written"

#: Callbacks run (in this process) after a transaction that recorded events commits.
_commit_listeners: list[Callable[[], None]] = []


def add_commit_listener(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` after each commit that wrote events; returns a remover."""
    _commit_listeners.append(callback)
    return lambda: _commit_listeners.remove(callback) if callback in _commit_listeners else None


def matches(patterns: Iterable[str], event_type: str) -> bool:
    """Whether an event filter (``*``, ``contact.*``, ``company.deleted``) selects a type."""
    return any(fnmatch.fnmatchcase(event_type, p) for p in patterns)


def validate_filter(patterns: Iterable[str], *, field: str = "events") -> list[str]:
    """Check an event filter; every pattern must select at least one known type."""
    cleaned: list[str] = []
    for raw in patterns:
        pattern = raw.strip()
        if not pattern or not any(fnmatch.fnmatchcase(t, pattern) for t in EVENT_TYPES):
            known = ", ".join(EVENT_TYPES)
            raise ValidationFailed(
                f"unknown event type {raw!r}: use one of {known}, a wildcard such as"
                " 'contact.*', or '*'",
                field=field,
            )
        if pattern not in cleaned:
            cleaned.append(pattern)
    if not cleaned:
        raise ValidationFailed("events must list at least one event type", field=field)
    return cleaned


#: Fields that change with every write (or with other objects): never "changed fields".
_BOOKKEEPING = frozenset({"updated_at", "version", "contact_count"})


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The fields whose value differs, mapped to their PREVIOUS value (bookkeeping aside)."""
    return {k: before.get(k) for k in after if k not in _BOOKKEEPING and before.get(k) != after[k]}


async def record_event(
    ctx_or_session: RequestContext | AsyncSession,
    *,
    account_id: str,
    type: str,
    obj_id: str,
    version: int,
    data: Mapping[str, Any],
    changed_fields: Mapping[str, Any] | None = None,
) -> str:
    """Append an event to the outbox in the current write transaction; returns its id.

    ``data`` is the object as the API returns it (for an erased contact: only its id).
    The caller's transaction decides: if it rolls back (or the savepoint around it does),
    the event and its deliveries disappear with the change.
    """
    if type not in EVENT_TYPES and type != PING:
        raise ValueError(f"unknown event type {type}")
    if isinstance(ctx_or_session, RequestContext):
        session = await ctx_or_session.uow.writer()
    else:
        session = ctx_or_session
    payload: dict[str, Any] = {"account": account_id, "version": version, "object": dict(data)}
    if changed_fields is not None:
        payload["changed_fields"] = dict(changed_fields)
    endpoints = [
        endpoint_id
        for endpoint_id, patterns in await _endpoint_filters(session, account_id)
        if matches(patterns, type)
    ]
    event_id, _ = await _append(session, account_id, type, obj_id, version, payload, endpoints)
    return event_id


async def erase_history(ctx: RequestContext, *, account_id: str, object_id: str) -> None:
    """Make every event about an erased object say nothing beyond its id.

    Pending deliveries read the outbox payload when they are sent, so they carry only the id too.
    """
    session = await ctx.uow.writer()
    await q.redact_object_events(session, account_id=account_id, object_id=object_id)


async def record_contact_writes(
    session: AsyncSession,
    *,
    account_id: str,
    before: Mapping[str, ContactRecord],
    ids: Iterable[str],
) -> None:
    """Events for contacts written in bulk (a sync batch), after the write, same transaction.

    ``before`` holds the live records as they were: a contact in it is ``contact.updated``
    (with its changed fields); one that was not live (new, or revived from a tombstone) is
    ``contact.created``.
    """
    wanted = list(dict.fromkeys(ids))
    after = await contact_q.get_contacts_by_ids(session, account_id=account_id, ids=wanted)
    for contact_id in wanted:
        record = after.get(contact_id)
        if record is None:
            continue
        new = contact_json(record)
        old = before.get(contact_id)
        await record_event(
            session,
            account_id=account_id,
            type="contact.created" if old is None else "contact.updated",
            obj_id=contact_id,
            version=record.version,
            data=new,
            changed_fields=None if old is None else changed_fields(contact_json(old), new),
        )


async def record_contact_removals(
    session: AsyncSession, *, account_id: str, removed: Mapping[str, ContactRecord]
) -> None:
    """``contact.deleted`` (the id only) for contacts a sync just hid; ``removed``: as they were."""
    for contact_id, record in removed.items():
        await record_event(
            session,
            account_id=account_id,
            type="contact.deleted",
            obj_id=contact_id,
            version=record.version + 1,
            data={"id": contact_id},
        )


async def record_ping(session: AsyncSession, *, account_id: str, endpoint_id: str) -> str:
    """A ``ping`` event queued for one endpoint only; returns the delivery id."""
    payload = {"account": account_id, "version": 0, "object": {"endpoint_id": endpoint_id}}
    _, delivery_ids = await _append(
        session, account_id, PING, endpoint_id, 0, payload, [endpoint_id]
    )
    return delivery_ids[0]


async def _append(
    session: AsyncSession,
    account_id: str,
    type: str,
    obj_id: str,
    version: int,
    payload: dict[str, Any],
    endpoint_ids: list[str],
) -> tuple[str, list[str]]:
    """The outbox row and one delivery per endpoint; returns (event id, delivery ids)."""
    await q.serialize_account_events(session, account_id=account_id)
    event_id = new_id("evt")
    now = utcnow()
    seq = await q.insert_event(
        session,
        account_id=account_id,
        event_id=event_id,
        type=type,
        object_id=obj_id,
        version=version,
        payload=payload,
        created_at=now,
    )
    rows = [_delivery_row(e, event_id, seq, type, now) for e in endpoint_ids]
    await wq.insert_deliveries(session, account_id=account_id, rows=rows)
    _listen_for_commit(session)
    return event_id, [str(r["id"]) for r in rows]


def forget_endpoints(session: AsyncSession) -> None:
    """Drop the transaction's cached endpoint list (after an endpoint changed)."""
    session.info.pop(_ENDPOINT_CACHE, None)


def _delivery_row(endpoint_id: str, event_id: str, seq: int, type: str, now: Any) -> dict[str, Any]:
    return {
        "id": new_id("whd"),
        "endpoint_id": endpoint_id,
        "event_id": event_id,
        "seq": seq,
        "event_type": type,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


async def _endpoint_filters(session: AsyncSession, account_id: str) -> list[tuple[str, list[str]]]:
    # Cached for the transaction: a sync recording thousands of events reads them once.
    cache: dict[str, list[tuple[str, list[str]]]] = session.info.setdefault(_ENDPOINT_CACHE, {})
    if account_id not in cache:
        cache[account_id] = await wq.enabled_endpoint_filters(session, account_id=account_id)
    return cache[account_id]


def _listen_for_commit(session: AsyncSession) -> None:
    sync_session = session.sync_session
    sync_session.info[_WROTE] = True
    if sync_session.info.get(_LISTENING):
        return
    # Listeners stay for the session's life (removing one while it runs is not allowed).
    sync_session.info[_LISTENING] = True
    sa_event.listen(sync_session, "after_commit", _after_commit)
    sa_event.listen(sync_session, "after_rollback", _after_rollback)


def _after_commit(sync_session: Session) -> None:
    sync_session.info.pop(_ENDPOINT_CACHE, None)
    if not sync_session.info.pop(_WROTE, False):
        return
    for callback in list(_commit_listeners):
        callback()


def _after_rollback(sync_session: Session) -> None:
    sync_session.info.pop(_ENDPOINT_CACHE, None)
    sync_session.info.pop(_WROTE, None)
