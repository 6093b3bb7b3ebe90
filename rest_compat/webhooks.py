"""``/api/v2/webhooks``: endpoints, secret rotation, test pings, the delivery log, retries."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from db.queries.webhooks import DeliveryRecord, EndpointRecord
from resolvers import webhooks
from resolvers.pagination import DEFAULT_PAGE, MAX_PAGE, PageRequest
from resolvers.timestamps import iso_z as iso
from resolvers.webhooks import WebhookCreate, WebhookUpdate
from rest_compat.deps import Ctx
from rest_compat.models import COMMON_ERRORS, problems
from rest_compat.responses import JSONBytes
from rest_compat.serializers import envelope

router = APIRouter(prefix="/api/v2/webhooks", tags=["webhooks"])


class Webhook(BaseModel):
    id: str
    url: str
    events: list[str]
    enabled: bool
    description: str
    disabled_reason: str | None
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(Webhook):
    secret: str


class WebhookList(BaseModel):
    data: list[Webhook]
    total: int
    limit: int
    offset: int


class Delivery(BaseModel):
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_duration_ms: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class DeliveryList(BaseModel):
    data: list[Delivery]
    total: int
    limit: int
    offset: int


def endpoint_json(e: EndpointRecord) -> dict[str, Any]:
    """A webhook endpoint as the API shows it (never its secret)."""
    return {
        "id": e.id,
        "url": e.url,
        "events": e.events,
        "enabled": e.enabled,
        "description": e.description,
        "disabled_reason": e.disabled_reason,
        "failing_since": iso(e.failing_since),
        "previous_secret_expires_at": iso(e.previous_secret_expires_at),
        "created_at": iso(e.created_at),
        "updated_at": iso(e.updated_at),
    }


def delivery_json(d: DeliveryRecord) -> dict[str, Any]:
    """One delivery of the log."""
    open_ = d.status in ("pending", "failed")
    return {
        "id": d.id,
        "endpoint_id": d.endpoint_id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": iso(d.next_attempt_at) if open_ else None,
        "last_status_code": d.last_status_code,
        "last_duration_ms": d.last_duration_ms,
        "last_error": d.last_error,
        "last_attempt_at": iso(d.last_attempt_at),
        "delivered_at": iso(d.delivered_at),
        "created_at": iso(d.created_at),
    }


@router.get(
    "", response_model=WebhookList, responses=problems(*COMMON_ERRORS), summary="List webhooks"
)
async def list_webhooks(
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """The account's webhook endpoints, newest first (`config:read`)."""
    page = await webhooks.list_webhooks(ctx, page=PageRequest.rest(limit, offset))
    return JSONBytes(envelope(page, endpoint_json))


@router.post(
    "",
    status_code=201,
    response_model=WebhookWithSecret,
    responses=problems(*COMMON_ERRORS, 413),
    summary="Create a webhook (the signing secret is in this response only)",
)
async def create_webhook(ctx: Ctx, body: WebhookCreate) -> Response:
    """`config:write`. `url` must be https (and public unless private URLs are allowed)."""
    record, secret = await webhooks.create_webhook(ctx, data=body)
    return JSONBytes({**endpoint_json(record), "secret": secret}, status_code=201)


@router.get(
    "/{webhook_id}",
    response_model=Webhook,
    responses=problems(*COMMON_ERRORS, 404),
    summary="Get a webhook",
)
async def get_webhook(ctx: Ctx, webhook_id: str) -> Response:
    return JSONBytes(endpoint_json(await webhooks.get_webhook(ctx, endpoint_id=webhook_id)))


@router.patch(
    "/{webhook_id}",
    response_model=Webhook,
    responses=problems(*COMMON_ERRORS, 404, 413),
    summary="Update a webhook (partial); enabling it clears the disabled reason",
)
async def update_webhook(ctx: Ctx, webhook_id: str, body: WebhookUpdate) -> Response:
    record = await webhooks.update_webhook(ctx, endpoint_id=webhook_id, data=body)
    return JSONBytes(endpoint_json(record))


@router.delete(
    "/{webhook_id}",
    status_code=204,
    responses=problems(*COMMON_ERRORS, 404),
    summary="Delete a webhook and its delivery log",
)
async def delete_webhook(ctx: Ctx, webhook_id: str) -> Response:
    await webhooks.delete_webhook(ctx, endpoint_id=webhook_id)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=WebhookWithSecret,
    responses=problems(*COMMON_ERRORS, 404),
    summary="Rotate the signing secret (the old one keeps signing during the overlap)",
)
async def rotate_secret(ctx: Ctx, request: Request, webhook_id: str) -> Response:
    hours = float(request.app.state.settings.webhook_secret_overlap_hours)
    record, secret = await webhooks.rotate_secret(
        ctx, endpoint_id=webhook_id, overlap=timedelta(hours=hours)
    )
    return JSONBytes({**endpoint_json(record), "secret": secret})


@router.post(
    "/{webhook_id}/test",
    status_code=202,
    response_model=Delivery,
    responses=problems(*COMMON_ERRORS, 404, 409),
    summary="Queue a `ping` event for this webhook",
)
async def test_webhook(ctx: Ctx, webhook_id: str) -> Response:
    delivery = await webhooks.send_test(ctx, endpoint_id=webhook_id)
    return JSONBytes(delivery_json(delivery), status_code=202)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=DeliveryList,
    responses=problems(*COMMON_ERRORS, 404),
    summary="The delivery log: status, attempts, response code and timing",
)
async def list_deliveries(
    ctx: Ctx,
    webhook_id: str,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    page = await webhooks.list_deliveries(
        ctx, endpoint_id=webhook_id, page=PageRequest.rest(limit, offset)
    )
    return JSONBytes(envelope(page, delivery_json))


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/retry",
    status_code=202,
    response_model=Delivery,
    responses=problems(*COMMON_ERRORS, 404),
    summary="Send one delivery again now",
)
async def retry_delivery(ctx: Ctx, webhook_id: str, delivery_id: str) -> Response:
    delivery = await webhooks.retry_delivery(ctx, endpoint_id=webhook_id, delivery_id=delivery_id)
    return JSONBytes(delivery_json(delivery), status_code=202)
