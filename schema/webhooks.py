"""GraphQL twins of ``/api/v2/webhooks`` (mixed into the root Query and Mutation)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import strawberry
from strawberry import UNSET
from strawberry.types import Info

from db.queries.webhooks import DeliveryRecord, EndpointRecord
from resolvers import webhooks
from resolvers.errors import NotFound
from resolvers.pagination import DEFAULT_PAGE, PageRequest
from schema.context import context_of
from schema.scalars import DateTime


@strawberry.type(description="A webhook endpoint (`wh_…`); its secret is never shown here.")
class Webhook:
    id: strawberry.ID
    url: str
    events: list[str]
    enabled: bool
    description: str
    disabled_reason: str | None
    failing_since: DateTime | None
    previous_secret_expires_at: DateTime | None = strawberry.field(
        description="until when the previous secret still signs (after a rotation)"
    )
    created_at: DateTime
    updated_at: DateTime


@strawberry.type(
    description="A webhook with its signing secret: shown on creation and rotation only."
)
class WebhookWithSecret:
    webhook: Webhook
    secret: str


@strawberry.type(description="One event for one webhook: status, attempts, response, timing.")
class WebhookDelivery:
    id: strawberry.ID
    endpoint_id: strawberry.ID
    event_id: str
    event_type: str
    status: str = strawberry.field(description="pending, failed (will retry), delivered or dead")
    attempts: int
    next_attempt_at: DateTime
    last_status_code: int | None
    last_duration_ms: int | None
    last_error: str | None
    last_attempt_at: DateTime | None
    delivered_at: DateTime | None
    created_at: DateTime


@strawberry.type
class WebhookList:
    nodes: list[Webhook]
    total_count: int


@strawberry.type
class WebhookDeliveryList:
    nodes: list[WebhookDelivery]
    total_count: int


@strawberry.input
class CreateWebhookInput:
    url: str
    events: list[str] | None = UNSET
    description: str | None = UNSET
    enabled: bool | None = UNSET


@strawberry.input
class UpdateWebhookInput:
    url: str | None = UNSET
    events: list[str] | None = UNSET
    description: str | None = UNSET
    enabled: bool | None = UNSET


def _sent(input: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(input).items() if v is not UNSET}


def _page(limit: int, offset: int) -> PageRequest:
    return PageRequest.rest(limit, offset)


async def _savepoint(info: Info, fn: Any) -> Any:
    from schema.mutation import in_savepoint  # the root module imports this one

    return await in_savepoint(info, fn)


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="The account's webhooks, newest first (config:read).")
    async def webhooks(self, info: Info, limit: int = DEFAULT_PAGE, offset: int = 0) -> WebhookList:
        page = await webhooks.list_webhooks(context_of(info).ctx, page=_page(limit, offset))
        return WebhookList(nodes=page.items, total_count=page.total or 0)  # type: ignore[arg-type]

    @strawberry.field(description="One webhook by id, or null (config:read).")
    async def webhook(self, info: Info, id: strawberry.ID) -> Webhook | None:
        try:
            return await webhooks.get_webhook(context_of(info).ctx, endpoint_id=id)  # type: ignore[return-value]
        except NotFound:
            return None

    @strawberry.field(description="A webhook's delivery log, newest event first (config:read).")
    async def webhook_deliveries(
        self, info: Info, webhook_id: strawberry.ID, limit: int = DEFAULT_PAGE, offset: int = 0
    ) -> WebhookDeliveryList:
        page = await webhooks.list_deliveries(
            context_of(info).ctx, endpoint_id=webhook_id, page=_page(limit, offset)
        )
        return WebhookDeliveryList(nodes=page.items, total_count=page.total or 0)  # type: ignore[arg-type]


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(description="Create a webhook; the secret is returned this once.")
    async def create_webhook(self, info: Info, input: CreateWebhookInput) -> WebhookWithSecret:
        ctx = context_of(info).ctx
        record, secret = await _savepoint(
            info, lambda: webhooks.create_webhook(ctx, data=_sent(input))
        )
        return WebhookWithSecret(webhook=record, secret=secret)

    @strawberry.mutation(description="Change a webhook (partial).")
    async def update_webhook(
        self, info: Info, id: strawberry.ID, input: UpdateWebhookInput
    ) -> Webhook:
        ctx = context_of(info).ctx
        record: EndpointRecord = await _savepoint(
            info, lambda: webhooks.update_webhook(ctx, endpoint_id=id, data=_sent(input))
        )
        return record  # type: ignore[return-value]

    @strawberry.mutation(description="Delete a webhook and its delivery log; returns its id.")
    async def delete_webhook(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        ctx = context_of(info).ctx
        return strawberry.ID(
            await _savepoint(info, lambda: webhooks.delete_webhook(ctx, endpoint_id=id))
        )

    @strawberry.mutation(description="A new signing secret; the old one signs too for a while.")
    async def rotate_webhook_secret(self, info: Info, id: strawberry.ID) -> WebhookWithSecret:
        ctx = context_of(info).ctx
        hours = float(context_of(info).request.app.state.settings.webhook_secret_overlap_hours)
        record, secret = await _savepoint(
            info,
            lambda: webhooks.rotate_secret(ctx, endpoint_id=id, overlap=timedelta(hours=hours)),
        )
        return WebhookWithSecret(webhook=record, secret=secret)

    @strawberry.mutation(description="Queue a `ping` event for this webhook.")
    async def test_webhook(self, info: Info, id: strawberry.ID) -> WebhookDelivery:
        ctx = context_of(info).ctx
        record: DeliveryRecord = await _savepoint(
            info, lambda: webhooks.send_test(ctx, endpoint_id=id)
        )
        return record  # type: ignore[return-value]

    @strawberry.mutation(description="Send one delivery again now.")
    async def retry_webhook_delivery(
        self, info: Info, webhook_id: strawberry.ID, delivery_id: strawberry.ID
    ) -> WebhookDelivery:
        ctx = context_of(info).ctx
        record: DeliveryRecord = await _savepoint(
            info,
            lambda: webhooks.retry_delivery(ctx, endpoint_id=webhook_id, delivery_id=delivery_id),
        )
        return record  # type: ignore[return-value]
