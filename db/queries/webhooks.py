"""SQL for webhook endpoints and their deliveries (including the workers' leases)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import table_of
from db.models_events import (
    OPEN_DELIVERY_STATUSES,
    EventOutbox,
    WebhookDelivery,
    WebhookEndpoint,
)
from db.queries.common import dialect_of

endpoint = table_of(WebhookEndpoint)
delivery = table_of(WebhookDelivery)
outbox = table_of(EventOutbox)


def is_open(table: sa.FromClause) -> sa.ColumnElement[bool]:
    """``status IN ('pending', 'failed')`` with literal values, as in the partial index's
    predicate: a planner uses a partial index only for a query that states its predicate."""
    return table.c.status.in_([sa.literal_column(f"'{s}'") for s in OPEN_DELIVERY_STATUSES])


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    """A webhook endpoint as the API shows it (never its secrets)."""

    id: str
    account_id: str
    url: str
    events: list[str]
    enabled: bool
    description: str
    disabled_reason: str | None
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One event for one endpoint, as the delivery log shows it."""

    id: str
    account_id: str
    endpoint_id: str
    event_id: str
    seq: int
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_duration_ms: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery a worker holds the lease of, with what it needs to send it."""

    id: str
    account_id: str
    endpoint_id: str
    event_id: str
    event_type: str
    attempts: int
    url: str
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    failing_since: datetime | None
    payload: dict[str, Any]
    event_created_at: datetime


_ENDPOINT_COLUMNS = (
    endpoint.c.id,
    endpoint.c.account_id,
    endpoint.c.url,
    endpoint.c.events,
    endpoint.c.enabled,
    endpoint.c.description,
    endpoint.c.disabled_reason,
    endpoint.c.failing_since,
    endpoint.c.previous_secret_expires_at,
    endpoint.c.created_at,
    endpoint.c.updated_at,
)

_DELIVERY_COLUMNS = (
    delivery.c.id,
    delivery.c.account_id,
    delivery.c.endpoint_id,
    delivery.c.event_id,
    delivery.c.seq,
    delivery.c.event_type,
    delivery.c.status,
    delivery.c.attempts,
    delivery.c.next_attempt_at,
    delivery.c.last_status_code,
    delivery.c.last_duration_ms,
    delivery.c.last_error,
    delivery.c.last_attempt_at,
    delivery.c.delivered_at,
    delivery.c.created_at,
)


# ---------------------------------------------------------------- endpoints


async def list_endpoints(
    session: AsyncSession, *, account_id: str, limit: int, offset: int
) -> list[EndpointRecord]:
    """The account's endpoints, newest first."""
    stmt = (
        sa.select(*_ENDPOINT_COLUMNS)
        .where(endpoint.c.account_id == account_id)
        .order_by(endpoint.c.created_at.desc(), endpoint.c.id.desc())
        .limit(limit)
        .offset(offset or None)
    )
    return [EndpointRecord(**r._mapping) for r in (await session.execute(stmt)).all()]


async def count_endpoints(session: AsyncSession, *, account_id: str) -> int:
    """How many endpoints the account has."""
    stmt = (
        sa.select(sa.func.count()).select_from(endpoint).where(endpoint.c.account_id == account_id)
    )
    return int(await session.scalar(stmt) or 0)


async def get_endpoint(
    session: AsyncSession, *, account_id: str, endpoint_id: str, for_update: bool = False
) -> EndpointRecord | None:
    """One endpoint of the account."""
    stmt = sa.select(*_ENDPOINT_COLUMNS).where(
        endpoint.c.account_id == account_id, endpoint.c.id == endpoint_id
    )
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).first()
    return EndpointRecord(**row._mapping) if row is not None else None


async def enabled_endpoint_filters(
    session: AsyncSession, *, account_id: str
) -> list[tuple[str, list[str]]]:
    """``(id, event filter)`` of the account's enabled endpoints (for the event fan-out)."""
    stmt = sa.select(endpoint.c.id, endpoint.c.events).where(
        endpoint.c.account_id == account_id, endpoint.c.enabled.is_(True)
    )
    return [(r[0], list(r[1])) for r in (await session.execute(stmt)).all()]


async def insert_endpoint(
    session: AsyncSession, *, account_id: str, values: dict[str, Any]
) -> None:
    """Insert an endpoint."""
    await session.execute(sa.insert(endpoint).values(account_id=account_id, **values))


async def update_endpoint(
    session: AsyncSession, *, account_id: str, endpoint_id: str, values: dict[str, Any]
) -> None:
    """Apply the given columns to one endpoint."""
    await session.execute(
        sa.update(endpoint)
        .where(endpoint.c.account_id == account_id, endpoint.c.id == endpoint_id)
        .values(**values)
    )


async def delete_endpoint(session: AsyncSession, *, account_id: str, endpoint_id: str) -> bool:
    """Delete an endpoint and its delivery log; False when absent."""
    await session.execute(
        sa.delete(delivery).where(
            delivery.c.account_id == account_id, delivery.c.endpoint_id == endpoint_id
        )
    )
    result = await session.execute(
        sa.delete(endpoint).where(endpoint.c.account_id == account_id, endpoint.c.id == endpoint_id)
    )
    return (result.rowcount or 0) > 0  # type: ignore[attr-defined]


# ---------------------------------------------------------------- deliveries


async def insert_deliveries(
    session: AsyncSession, *, account_id: str, rows: Sequence[dict[str, Any]]
) -> None:
    """Queue deliveries (one per endpoint) of one event."""
    if rows:
        await session.execute(
            sa.insert(delivery), [{"account_id": account_id, **row} for row in rows]
        )


async def list_deliveries(
    session: AsyncSession, *, account_id: str, endpoint_id: str, limit: int, offset: int
) -> list[DeliveryRecord]:
    """An endpoint's deliveries, newest event first."""
    stmt = (
        sa.select(*_DELIVERY_COLUMNS)
        .where(delivery.c.account_id == account_id, delivery.c.endpoint_id == endpoint_id)
        .order_by(delivery.c.seq.desc())
        .limit(limit)
        .offset(offset or None)
    )
    return [DeliveryRecord(**r._mapping) for r in (await session.execute(stmt)).all()]


async def count_deliveries(session: AsyncSession, *, account_id: str, endpoint_id: str) -> int:
    """How many deliveries an endpoint has."""
    stmt = (
        sa.select(sa.func.count())
        .select_from(delivery)
        .where(delivery.c.account_id == account_id, delivery.c.endpoint_id == endpoint_id)
    )
    return int(await session.scalar(stmt) or 0)


async def get_delivery(
    session: AsyncSession, *, account_id: str, endpoint_id: str, delivery_id: str
) -> DeliveryRecord | None:
    """One delivery of one endpoint of the account."""
    row = (
        await session.execute(
            sa.select(*_DELIVERY_COLUMNS).where(
                delivery.c.account_id == account_id,
                delivery.c.endpoint_id == endpoint_id,
                delivery.c.id == delivery_id,
            )
        )
    ).first()
    return DeliveryRecord(**row._mapping) if row is not None else None


async def requeue_delivery(
    session: AsyncSession, *, account_id: str, delivery_id: str, now: datetime
) -> None:
    """Make a delivery due again now (a manual retry or replay)."""
    await session.execute(
        sa.update(delivery)
        .where(delivery.c.account_id == account_id, delivery.c.id == delivery_id)
        .values(status="pending", next_attempt_at=now, lease_owner=None, lease_expires_at=None)
    )


# ---------------------------------------------------------------- the workers' queue
# These functions serve every account at once (one queue per deployment); each row they
# touch is identified by its primary key, and each result carries its own account id.


async def claim_due(
    session: AsyncSession,
    *,
    owner: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    only_endpoint: tuple[str, str] | None = None,
) -> list[ClaimedDelivery]:
    """Lease up to ``limit`` due deliveries, at most one per endpoint: the oldest open one.

    One atomic ``UPDATE … WHERE id IN (…) AND lease expired``: two workers never hold the
    same delivery (on PostgreSQL the candidates are locked ``FOR UPDATE SKIP LOCKED``; on
    SQLite the single writer makes the statement atomic). The attempt counter is bumped in
    the same statement, so an attempt is made by exactly one worker.
    """
    # Each endpoint's head: its oldest open delivery, one seek in the partial index of open
    # deliveries (``ix_webhook_delivery_open``; its predicate is written out literally so
    # that both planners match it). Finished rows are never read, however many there are.
    head = delivery.alias("head")
    head_id = (
        sa.select(head.c.id)
        .where(
            head.c.account_id == endpoint.c.account_id,
            head.c.endpoint_id == endpoint.c.id,
            is_open(head),
        )
        .order_by(head.c.seq)
        .limit(1)
        .correlate(endpoint)
        .scalar_subquery()
    )
    lease_free = sa.or_(delivery.c.lease_expires_at.is_(None), delivery.c.lease_expires_at < now)
    postgres = dialect_of(session) == "postgresql"
    # PostgreSQL: stated on the locked row itself, not only in the head subquery. A row another
    # worker finished after this statement's snapshot is re-checked against the locked row's
    # own predicates alone, so without this a delivered delivery whose lease was just cleared
    # could be claimed and sent again. (SQLite runs the statement alone, on current data; there
    # the extra term made the planner walk every open delivery instead of the endpoints.)
    still_open = [is_open(delivery)] if postgres else []
    candidates = (
        sa.select(delivery.c.id)
        .select_from(endpoint)
        .join(delivery, delivery.c.id == head_id)
        .where(
            endpoint.c.enabled.is_(True),
            *still_open,
            delivery.c.next_attempt_at <= now,
            lease_free,
        )
        .order_by(delivery.c.next_attempt_at, delivery.c.seq)
        .limit(limit)
    )
    if only_endpoint is not None:
        # The next one of an endpoint whose delivery just finished.
        account_id, endpoint_id = only_endpoint
        candidates = candidates.where(
            endpoint.c.account_id == account_id, endpoint.c.id == endpoint_id
        ).limit(1)
    if postgres:
        candidates = candidates.with_for_update(skip_locked=True, of=delivery)
    claimed = (
        (
            await session.execute(
                sa.update(delivery)
                .where(delivery.c.id.in_(candidates.scalar_subquery()), *still_open, lease_free)
                .values(
                    lease_owner=owner,
                    lease_expires_at=lease_until,
                    attempts=delivery.c.attempts + 1,
                )
                .returning(delivery.c.id)
            )
        )
        .scalars()
        .all()
    )
    if not claimed:
        return []
    stmt = (
        sa.select(
            delivery.c.id,
            delivery.c.account_id,
            delivery.c.endpoint_id,
            delivery.c.event_id,
            delivery.c.event_type,
            delivery.c.attempts,
            endpoint.c.url,
            endpoint.c.secret,
            endpoint.c.previous_secret,
            endpoint.c.previous_secret_expires_at,
            endpoint.c.failing_since,
            outbox.c.payload,
            outbox.c.created_at.label("event_created_at"),
        )
        .join(endpoint, endpoint.c.id == delivery.c.endpoint_id)
        .join(outbox, outbox.c.seq == delivery.c.seq)
        .where(delivery.c.id.in_(list(claimed)))
        .order_by(delivery.c.seq)
    )
    return [ClaimedDelivery(**r._mapping) for r in (await session.execute(stmt)).all()]


async def finish_attempt(
    session: AsyncSession, *, delivery_id: str, owner: str, values: dict[str, Any]
) -> bool:
    """Record an attempt's outcome and release the lease, if this worker still holds it."""
    result = await session.execute(
        sa.update(delivery)
        .where(delivery.c.id == delivery_id, delivery.c.lease_owner == owner)
        .values(**values, lease_owner=None, lease_expires_at=None)
    )
    return (result.rowcount or 0) > 0  # type: ignore[attr-defined]


async def set_endpoint_health(
    session: AsyncSession,
    *,
    account_id: str,
    endpoint_id: str,
    values: dict[str, Any],
) -> None:
    """Update an endpoint's failing_since / enabled / disabled_reason after an attempt."""
    await session.execute(
        sa.update(endpoint)
        .where(endpoint.c.account_id == account_id, endpoint.c.id == endpoint_id)
        .values(**values)
    )


async def endpoint_secret(
    session: AsyncSession, *, account_id: str, endpoint_id: str
) -> str | None:
    """The current signing secret of an endpoint (for a rotation)."""
    return await session.scalar(
        sa.select(endpoint.c.secret).where(
            endpoint.c.account_id == account_id, endpoint.c.id == endpoint_id
        )
    )
