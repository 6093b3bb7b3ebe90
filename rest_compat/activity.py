"""``/api/v2/contacts/{id}/activity``: the contact's timeline (list, log an item)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from resolvers import activity
from resolvers.activity import DEFAULT_ACTIVITY_PAGE, ActivityCreate, ActivityItem
from resolvers.pagination import MAX_PAGE, PageRequest
from resolvers.timestamps import iso_z
from rest_compat.attachments import Attachment, attachment_json
from rest_compat.deps import Ctx
from rest_compat.idempotency import Idempotency
from rest_compat.models import COMMON_ERRORS, problems
from rest_compat.responses import JSONBytes

router = APIRouter(prefix="/api/v2/contacts", tags=["activity"])


class Activity(BaseModel):
    id: str = Field(examples=["act_01jh8x2k3m4n5p6q7r8s9t0v1w"])
    type: Literal["conversation", "ticket", "call"]
    subject: str | None
    status: str | None
    channel: str | None
    direction: Literal["inbound", "outbound"] | None
    summary: str | None
    occurred_at: datetime
    duration_seconds: int | None = Field(description="calls only")
    external_id: str | None
    source: str = Field(description="who recorded it: `api` unless the client says otherwise")
    attachments: list[Attachment]


class ActivityList(BaseModel):
    data: list[Activity]
    total: int
    limit: int
    offset: int


def activity_json(item: ActivityItem) -> dict[str, Any]:
    """An activity item as REST returns it, with its attachments."""
    a = item.activity
    return {
        "id": a.id,
        "type": a.type,
        "subject": a.subject,
        "status": a.status,
        "channel": a.channel,
        "direction": a.direction,
        "summary": a.summary,
        "occurred_at": iso_z(a.occurred_at),
        "duration_seconds": a.duration_seconds,
        "external_id": a.external_id,
        "source": a.source,
        "attachments": [attachment_json(f) for f in item.attachments],
    }


@router.get(
    "/{contact_id}/activity",
    response_model=ActivityList,
    responses=problems(*COMMON_ERRORS, 404),
    summary="A contact's conversations, tickets and calls, newest first",
)
async def list_activity(
    ctx: Ctx,
    contact_id: str,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_ACTIVITY_PAGE,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    page = await activity.list_activity(
        ctx, contact_id=contact_id, page=PageRequest.rest(limit, offset)
    )
    return JSONBytes(
        {
            "data": [activity_json(i) for i in page.items],
            "total": page.total,
            "limit": page.limit,
            "offset": page.offset,
        }
    )


@router.post(
    "/{contact_id}/activity",
    status_code=201,
    response_model=Activity,
    responses=problems(*COMMON_ERRORS, 404, 413),
    summary="Log a conversation, ticket or call on a contact's timeline",
)
async def log_activity(
    ctx: Ctx, contact_id: str, body: ActivityCreate, idem: Idempotency
) -> Response:
    async def log() -> Response:
        item = await activity.log_activity(ctx, contact_id=contact_id, data=body)
        return JSONBytes(activity_json(item), status_code=201)

    return await idem.respond(ctx, log)
