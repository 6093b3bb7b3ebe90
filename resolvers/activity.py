"""Activity use cases: log an item on a contact's timeline, list the timeline.

``duration_seconds`` belongs to calls only: sending it for a conversation or a ticket is a
422 rather than silently dropped, so a client learns about its mistake.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from db.ids import new_id
from db.queries import activity as q
from db.queries import attachments as attachment_q
from db.queries import contacts as contact_q
from db.queries.activity import ActivityRecord
from db.queries.attachments import AttachmentRecord
from db.types import utcnow
from resolvers.context import RequestContext
from resolvers.errors import NotFound
from resolvers.pagination import PageRequest, cursor_of, page_of
from resolvers.scopes import CONTACTS_READ, CONTACTS_WRITE
from resolvers.validation import _Input, parse

ActivityType = Literal["conversation", "ticket", "call"]
MAX_DURATION_SECONDS = 7 * 24 * 3600
DEFAULT_ACTIVITY_PAGE = 20


Text500 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Text128 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)]
Text40 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]
Text10k = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]


class ActivityCreate(_Input):
    """Body of a new activity item."""

    type: ActivityType
    occurred_at: Annotated[str, StringConstraints(max_length=40)]
    subject: Text500 | None = None
    status: Text40 | None = None
    channel: Text40 | None = None
    direction: Literal["inbound", "outbound"] | None = None
    summary: Text10k | None = None
    duration_seconds: Annotated[int, Field(ge=0, le=MAX_DURATION_SECONDS, strict=True)] | None = (
        None
    )
    external_id: Text128 | None = None
    source: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9_.-]{0,39}$")
    ] = "api"

    @field_validator("occurred_at")
    @classmethod
    def _occurred_at(cls, value: str) -> str:
        parse_instant(value)
        return value

    @field_validator("duration_seconds")
    @classmethod
    def _duration_only_for_calls(cls, value: int | None, info: ValidationInfo) -> int | None:
        kind = info.data.get("type")
        if value is not None and kind is not None and kind != "call":
            raise ValueError(f"only calls have a duration (this is a {kind})")
        return value


def parse_instant(value: str) -> datetime:
    """An ISO 8601 instant with a time zone (``2026-01-15T10:00:00Z``)."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("must be an ISO 8601 date-time like 2026-01-15T10:00:00Z") from None
    if parsed.tzinfo is None:
        raise ValueError("needs a time zone (use a Z suffix for UTC)")
    return parsed


@dataclass(frozen=True, slots=True)
class ActivityItem:
    """An activity item with its attachments (what REST lists)."""

    activity: ActivityRecord
    attachments: list[AttachmentRecord]


@dataclass(frozen=True, slots=True)
class ActivityPage:
    """One page of a timeline; ``total`` is None when it was not asked for."""

    items: list[ActivityItem]
    total: int | None
    limit: int
    offset: int
    has_next: bool


@dataclass(frozen=True, slots=True)
class _Position:
    """Adapts an item's timeline position to the cursor helpers (which read ``created_at``)."""

    id: str
    created_at: datetime


def activity_cursor(item: ActivityRecord) -> str:
    """The cursor of an item in timeline order (occurred_at desc, id desc)."""
    return cursor_of(_Position(item.id, item.occurred_at))


async def _check_contact(ctx: RequestContext, account_id: str, contact_id: str) -> None:
    session = await ctx.uow.reader()
    if await contact_q.get_contact(session, account_id=account_id, contact_id=contact_id) is None:
        raise NotFound(f"contact {contact_id} not found")


async def log_activity(
    ctx: RequestContext, *, contact_id: str, data: ActivityCreate | Mapping[str, Any]
) -> ActivityItem:
    """Add an item to a contact's timeline."""
    account_id = ctx.require(CONTACTS_WRITE)
    body = parse(ActivityCreate, data)
    session = await ctx.uow.writer()
    if await contact_q.lock_contact(session, account_id=account_id, contact_id=contact_id) is None:
        raise NotFound(f"contact {contact_id} not found")
    activity_id = new_id("act")
    await q.insert_activity(
        session,
        account_id=account_id,
        values={
            "id": activity_id,
            "contact_id": contact_id,
            "type": body.type,
            "subject": body.subject or None,
            "status": body.status or None,
            "channel": body.channel or None,
            "direction": body.direction,
            "summary": body.summary or None,
            "occurred_at": parse_instant(body.occurred_at),
            "duration_seconds": body.duration_seconds,
            "external_id": body.external_id or None,
            "source": body.source,
            "created_at": utcnow(),
        },
    )
    record = await q.get_activity(session, account_id=account_id, activity_id=activity_id)
    assert record is not None
    return ActivityItem(record, [])


async def list_activity(ctx: RequestContext, *, contact_id: str, page: PageRequest) -> ActivityPage:
    """A page of a contact's timeline, newest first, each item with its attachments."""
    account_id = ctx.require(CONTACTS_READ)
    await _check_contact(ctx, account_id, contact_id)
    session = await ctx.uow.reader()
    rows = await q.list_activity(
        session,
        account_id=account_id,
        contact_id=contact_id,
        limit=page.limit + 1,
        offset=page.offset,
        after=page.after,
    )
    total = (
        await q.count_activity(session, account_id=account_id, contact_id=contact_id)
        if page.with_total
        else None
    )
    result = page_of(rows, page, total)
    files = await attachment_q.attachments_of_activities(
        session, account_id=account_id, activity_ids=[r.id for r in result.items]
    )
    return ActivityPage(
        items=[ActivityItem(r, files.get(r.id, [])) for r in result.items],
        total=result.total,
        limit=result.limit,
        offset=result.offset,
        has_next=result.has_next,
    )
