"""Webhook endpoint use cases: create, list, get, update, delete, rotate the secret, ping,
the delivery log and manual retries. Reading needs ``config:read``, changing ``config:write``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from db.ids import new_id
from db.queries import webhooks as q
from db.queries.webhooks import DeliveryRecord, EndpointRecord
from db.types import utcnow
from resolvers.context import RequestContext
from resolvers.errors import Conflict, NotFound, ValidationFailed
from resolvers.events import forget_endpoints, record_ping, validate_filter
from resolvers.pagination import Page, PageRequest
from resolvers.scopes import CONFIG_READ, CONFIG_WRITE
from resolvers.validation import parse, provided
from resolvers.webhook_http import Resolver, check_webhook_url, new_secret, private_urls_allowed

T = TypeVar("T", EndpointRecord, DeliveryRecord)

#: How long the previous secret keeps signing after a rotation, unless the caller says.
DEFAULT_SECRET_OVERLAP = timedelta(hours=24)

_Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
_Pattern = Annotated[str, StringConstraints(min_length=1, max_length=40)]
_Description = Annotated[str, StringConstraints(max_length=500)]


class WebhookCreate(BaseModel):
    """``POST /webhooks``: where to send which events."""

    model_config = ConfigDict(extra="forbid")

    url: _Url
    events: list[_Pattern] = Field(default_factory=lambda: ["*"], max_length=50)
    description: _Description = ""
    enabled: bool = True


class WebhookUpdate(BaseModel):
    """``PATCH /webhooks/{id}``: only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    url: _Url | None = None
    events: list[_Pattern] | None = Field(default=None, max_length=50)
    description: _Description | None = None
    enabled: bool | None = None


async def list_webhooks(ctx: RequestContext, *, page: PageRequest) -> Page[EndpointRecord]:
    """The account's webhook endpoints, newest first."""
    account_id = ctx.require(CONFIG_READ)
    session = await ctx.uow.reader()
    rows = await q.list_endpoints(
        session, account_id=account_id, limit=page.limit + 1, offset=page.offset
    )
    return _page(rows, page, await q.count_endpoints(session, account_id=account_id))


async def get_webhook(ctx: RequestContext, *, endpoint_id: str) -> EndpointRecord:
    """One endpoint of the account; another account's id is a 404 too."""
    account_id = ctx.require(CONFIG_READ)
    session = await ctx.uow.reader()
    return await _load(session, account_id, endpoint_id)


async def create_webhook(
    ctx: RequestContext,
    *,
    data: WebhookCreate | Mapping[str, Any],
    resolver: Resolver | None = None,
) -> tuple[EndpointRecord, str]:
    """Create an endpoint; returns it with its secret (which is never shown again)."""
    account_id = ctx.require(CONFIG_WRITE)
    body = parse(WebhookCreate, data)
    url = await check_webhook_url(body.url, allow_private=private_urls_allowed(), resolver=resolver)
    events = validate_filter(body.events)
    session = await ctx.uow.writer()
    now = utcnow()
    endpoint_id = new_id("wh")
    secret = new_secret()
    await q.insert_endpoint(
        session,
        account_id=account_id,
        values={
            "id": endpoint_id,
            "url": url,
            "events": events,
            "enabled": body.enabled,
            "description": body.description.strip(),
            "secret": secret,
            "created_at": now,
            "updated_at": now,
        },
    )
    forget_endpoints(session)
    return await _load(session, account_id, endpoint_id), secret


async def update_webhook(
    ctx: RequestContext,
    *,
    endpoint_id: str,
    data: WebhookUpdate | Mapping[str, Any],
    resolver: Resolver | None = None,
) -> EndpointRecord:
    """Change an endpoint; enabling it again clears the reason it was disabled."""
    account_id = ctx.require(CONFIG_WRITE)
    body = parse(WebhookUpdate, data)
    changes = provided(body)
    for name in ("url", "events", "description", "enabled"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be null", field=name)
    values: dict[str, Any] = {}
    if "url" in changes:
        values["url"] = await check_webhook_url(
            str(body.url), allow_private=private_urls_allowed(), resolver=resolver
        )
    if "events" in changes:
        values["events"] = validate_filter(body.events or [])
    if "description" in changes:
        values["description"] = (body.description or "").strip()
    if "enabled" in changes:
        values["enabled"] = body.enabled
        if body.enabled:
            values["disabled_reason"] = None
            values["failing_since"] = None
    session = await ctx.uow.writer()
    await _load(session, account_id, endpoint_id, for_update=True)
    if values:
        values["updated_at"] = utcnow()
        await q.update_endpoint(
            session, account_id=account_id, endpoint_id=endpoint_id, values=values
        )
        forget_endpoints(session)
    return await _load(session, account_id, endpoint_id)


async def delete_webhook(ctx: RequestContext, *, endpoint_id: str) -> str:
    """Delete an endpoint and its delivery log."""
    account_id = ctx.require(CONFIG_WRITE)
    session = await ctx.uow.writer()
    if not await q.delete_endpoint(session, account_id=account_id, endpoint_id=endpoint_id):
        raise NotFound(f"webhook {endpoint_id} not found")
    forget_endpoints(session)
    return endpoint_id


async def rotate_secret(
    ctx: RequestContext, *, endpoint_id: str, overlap: timedelta = DEFAULT_SECRET_OVERLAP
) -> tuple[EndpointRecord, str]:
    """A new secret (returned once); the old one keeps signing too until the overlap ends."""
    account_id = ctx.require(CONFIG_WRITE)
    session = await ctx.uow.writer()
    await _load(session, account_id, endpoint_id, for_update=True)
    current = await q.endpoint_secret(session, account_id=account_id, endpoint_id=endpoint_id)
    secret = new_secret()
    now = utcnow()
    await q.update_endpoint(
        session,
        account_id=account_id,
        endpoint_id=endpoint_id,
        values={
            "secret": secret,
            "previous_secret": current if overlap.total_seconds() > 0 else None,
            "previous_secret_expires_at": now + overlap if overlap.total_seconds() > 0 else None,
            "updated_at": now,
        },
    )
    return await _load(session, account_id, endpoint_id), secret


async def send_test(ctx: RequestContext, *, endpoint_id: str) -> DeliveryRecord:
    """Queue a ``ping`` for this endpoint (after what it already has pending)."""
    account_id = ctx.require(CONFIG_WRITE)
    session = await ctx.uow.writer()
    endpoint = await _load(session, account_id, endpoint_id)
    if not endpoint.enabled:
        raise Conflict(f"webhook {endpoint_id} is disabled; enable it before testing it")
    delivery_id = await record_ping(session, account_id=account_id, endpoint_id=endpoint_id)
    return await _load_delivery(session, account_id, endpoint_id, delivery_id)


async def list_deliveries(
    ctx: RequestContext, *, endpoint_id: str, page: PageRequest
) -> Page[DeliveryRecord]:
    """An endpoint's delivery log, newest event first."""
    account_id = ctx.require(CONFIG_READ)
    session = await ctx.uow.reader()
    await _load(session, account_id, endpoint_id)
    rows = await q.list_deliveries(
        session,
        account_id=account_id,
        endpoint_id=endpoint_id,
        limit=page.limit + 1,
        offset=page.offset,
    )
    total = await q.count_deliveries(session, account_id=account_id, endpoint_id=endpoint_id)
    return _page(rows, page, total)


async def retry_delivery(
    ctx: RequestContext, *, endpoint_id: str, delivery_id: str
) -> DeliveryRecord:
    """Send one delivery again now (a failed or dead one, or a replay of a delivered one)."""
    account_id = ctx.require(CONFIG_WRITE)
    session = await ctx.uow.writer()
    await _load(session, account_id, endpoint_id)
    current = await _load_delivery(session, account_id, endpoint_id, delivery_id)
    if current.status == "pending" and current.attempts == 0:
        return current
    await q.requeue_delivery(session, account_id=account_id, delivery_id=delivery_id, now=utcnow())
    return await _load_delivery(session, account_id, endpoint_id, delivery_id)


def _page(rows: list[T], page: PageRequest, total: int) -> Page[T]:
    """``limit + 1`` rows read → the page and whether more follow."""
    return Page(
        items=rows[: page.limit],
        total=total,
        limit=page.limit,
        offset=page.offset,
        has_next=len(rows) > page.limit,
    )


async def _load(
    session: AsyncSession, account_id: str, endpoint_id: str, *, for_update: bool = False
) -> EndpointRecord:
    record = await q.get_endpoint(
        session, account_id=account_id, endpoint_id=endpoint_id, for_update=for_update
    )
    if record is None:
        raise NotFound(f"webhook {endpoint_id} not found")
    return record


async def _load_delivery(
    session: AsyncSession, account_id: str, endpoint_id: str, delivery_id: str
) -> DeliveryRecord:
    record = await q.get_delivery(
        session, account_id=account_id, endpoint_id=endpoint_id, delivery_id=delivery_id
    )
    if record is None:
        raise NotFound(f"delivery {delivery_id} not found")
    return record
