"""GraphQL subscriptions over ``graphql-transport-ws``: live contact and company events.

The socket authenticates once, with the API key in the ``connection_init`` payload
(``{"X-API-Key": "ak_live_…"}`` or ``{"apiKey": "…"}``); a missing or bad key closes it with
4403. Each subscription needs ``contacts:read`` and only ever sees its own account's events.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types import Info

from db.queries.events import EventRecord
from resolvers.errors import Unauthenticated, ValidationFailed
from resolvers.events import COMPANY_EVENTS, CONTACT_EVENTS
from resolvers.keys import authenticate
from resolvers.scopes import CONTACTS_READ
from schema.context import GraphQLContext, context_of
from schema.scalars import JSON, DateTime


async def authenticate_connection(context: GraphQLContext) -> None:
    """Check the key of ``connection_init``; reject the socket when it is missing or bad."""
    params: dict[str, Any] = getattr(context, "connection_params", None) or {}
    key = params.get("X-API-Key") or params.get("x-api-key") or params.get("apiKey")
    ctx = context.ctx
    if key is None and ctx.principal is not None:
        return  # a non-browser client sent the X-API-Key header with the handshake
    if not isinstance(key, str) or not key:
        raise ConnectionRejectionError(
            {"code": "unauthenticated", "message": "send the API key in connection_init"}
        )
    try:
        principal = await authenticate(context.request.app.state.engine, key)
    except Unauthenticated as exc:
        raise ConnectionRejectionError(
            {"code": "unauthenticated", "message": exc.message}
        ) from None
    ctx.principal = principal
    ctx.auth_error = None


@strawberry.type(description="A change to a contact, as the webhooks describe it.")
class ContactEvent:
    id: str = strawberry.field(description="the event id (`evt_…`, the webhook-id)")
    type: str = strawberry.field(description="contact.created, contact.updated or contact.deleted")
    timestamp: DateTime
    contact_id: strawberry.ID
    version: int
    contact: JSON = strawberry.field(
        description="the contact as the REST API returns it (only its id once deleted)"
    )
    changed_fields: JSON | None = strawberry.field(
        description="contact.updated: the changed fields with their PREVIOUS values"
    )


@strawberry.type(description="A change to a company, as the webhooks describe it.")
class CompanyEvent:
    id: str
    type: str = strawberry.field(
        description="company.created, company.updated, company.deleted or company.restored"
    )
    timestamp: DateTime
    company_id: strawberry.ID
    version: int
    company: JSON
    changed_fields: JSON | None


def _types(requested: list[str] | None, known: tuple[str, ...]) -> frozenset[str]:
    if not requested:
        return frozenset(known)
    unknown = [t for t in requested if t not in known]
    if unknown:
        raise ValidationFailed(
            f"unknown event type {unknown[0]!r}: use one of {', '.join(known)}", field="types"
        )
    return frozenset(requested)


async def _events(info: Info, wanted: frozenset[str]) -> AsyncGenerator[EventRecord, None]:
    account_id = context_of(info).ctx.require(CONTACTS_READ)
    hub: Any = context_of(info).request.app.state.event_hub  # contacts_gateway.pubsub.EventHub
    await hub.start()  # normally started by the app's lifespan; idempotent
    subscription = hub.subscribe(account_id)
    try:
        async for event in subscription:
            if event.type in wanted and event.account_id == account_id:
                yield event
    finally:
        subscription.close()


def _company_of(event: EventRecord) -> tuple[Any, Any]:
    obj = event.payload.get("object") or {}
    previous = (event.payload.get("changed_fields") or {}).get("company_id")
    return obj.get("company_id"), previous


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Contact events of the caller's account (contacts:read); `companyId` keeps"
        " those of contacts in (or just moved out of) that company."
    )
    async def contact_events(
        self,
        info: Info,
        types: list[str] | None = None,
        company_id: strawberry.ID | None = None,
    ) -> AsyncGenerator[ContactEvent, None]:
        wanted = _types(types, CONTACT_EVENTS)
        async for event in _events(info, wanted):
            if company_id is not None and company_id not in _company_of(event):
                continue
            yield ContactEvent(
                id=event.id,
                type=event.type,
                timestamp=event.created_at,
                contact_id=strawberry.ID(event.object_id),
                version=event.version,
                contact=event.payload.get("object"),
                changed_fields=event.payload.get("changed_fields"),
            )

    @strawberry.subscription(description="Company events of the caller's account (contacts:read).")
    async def company_events(
        self, info: Info, types: list[str] | None = None
    ) -> AsyncGenerator[CompanyEvent, None]:
        wanted = _types(types, COMPANY_EVENTS)
        async for event in _events(info, wanted):
            yield CompanyEvent(
                id=event.id,
                type=event.type,
                timestamp=event.created_at,
                company_id=strawberry.ID(event.object_id),
                version=event.version,
                company=event.payload.get("object"),
                changed_fields=event.payload.get("changed_fields"),
            )
