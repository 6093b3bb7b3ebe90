"""GraphQL for the contact timeline: Activity, Attachment, their connections and loaders,
custom field definitions, and the mutations (mixed into the root Query and Mutation)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import UNSET
from strawberry.dataloader import DataLoader
from strawberry.file_uploads import Upload
from strawberry.types import Info

from db.queries import activity as activity_q
from db.queries import attachments as attachment_q
from db.queries.activity import ActivityRecord
from db.queries.attachments import AttachmentRecord
from db.queries.custom_fields import CustomFieldRecord
from db.records import Keyset
from resolvers import activity, attachments, custom_fields
from resolvers.activity import DEFAULT_ACTIVITY_PAGE, activity_cursor
from resolvers.blobstore import CHUNK
from resolvers.pagination import PageRequest
from schema.context import context_of
from schema.inputs import to_domain
from schema.scalars import DateTime

if TYPE_CHECKING:
    from schema.types import PageInfo


@strawberry.enum(description="What kind of activity item")
class ActivityType(Enum):
    CONVERSATION = "conversation"
    TICKET = "ticket"
    CALL = "call"


@strawberry.enum
class ActivityDirection(Enum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


@strawberry.enum
class CustomFieldType(Enum):
    TEXT = "text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    SELECT = "select"
    MULTI_SELECT = "multi_select"


@strawberry.enum
class CustomFieldAppliesTo(Enum):
    CONTACTS = "contacts"
    COMPANIES = "companies"


@strawberry.type(description="A file attached to a contact (or to one of its conversations).")
class Attachment:
    id: strawberry.ID
    activity_id: strawberry.ID | None
    filename: str = strawberry.field(description="Sanitised: no directories or control characters")
    content_type: str = strawberry.field(description="Sniffed from the bytes, not the client's")
    size: int
    sha256: str
    created_at: DateTime

    @strawberry.field(description="Relative URL of the bytes (send the X-API-Key header).")
    def download_url(self) -> str:
        return attachments.download_url(self.id)


@strawberry.type(description="A conversation, ticket or call of a contact.")
class Activity:
    id: strawberry.ID
    subject: str | None
    status: str | None
    channel: str | None
    summary: str | None
    occurred_at: DateTime
    duration_seconds: int | None = strawberry.field(description="Calls only.")
    external_id: str | None
    source: str
    created_at: DateTime

    @strawberry.field(name="type")
    def type_(self) -> ActivityType:
        return ActivityType(self.type)  # type: ignore[attr-defined]

    @strawberry.field
    def direction(self) -> ActivityDirection | None:
        # ``self`` is the ActivityRecord being resolved: ``direction`` is its string.
        value: str | None = self.direction  # type: ignore[assignment]
        return ActivityDirection(value) if value else None

    @strawberry.field(description="Files attached to this item (batched).")
    async def attachments(self, info: Info) -> list[Attachment]:
        return await activity_attachments_loader(info).load(self.id)  # type: ignore[return-value]


@strawberry.type
class ActivityEdge:
    cursor: str
    node: Activity


@strawberry.type
class ActivityConnection:
    edges: list[ActivityEdge]
    nodes: list[Activity]
    page_info: Annotated[PageInfo, strawberry.lazy("schema.types")]
    _contact_id: strawberry.Private[str]

    @strawberry.field(description="All items of the contact's timeline (batched count).")
    async def total_count(self, info: Info) -> int:
        return await activity_count_loader(info).load(self._contact_id)


@strawberry.type(description="A custom field an account defines for contacts or companies.")
class CustomFieldDefinition:
    key: str
    label: str
    options: list[str]
    required: bool
    created_at: DateTime
    updated_at: DateTime

    @strawberry.field(name="type")
    def type_(self) -> CustomFieldType:
        return CustomFieldType(self.type)  # type: ignore[attr-defined]

    @strawberry.field
    def applies_to(self) -> CustomFieldAppliesTo:
        # ``self`` is the CustomFieldRecord being resolved: ``applies_to`` is its string.
        return CustomFieldAppliesTo(self.applies_to)


# ---------------------------------------------------------------- loaders


def _read(info: Info) -> Any:
    return context_of(info).loaders._read


def _batched(
    info: Info,
    name: str,
    fetch: Callable[[AsyncSession, str, Sequence[str]], Awaitable[dict[str, Any]]],
    missing: Callable[[], Any],
) -> DataLoader[str, Any]:
    """A per-request loader ``name``: one ``fetch`` (one statement) per batch of keys."""
    read = _read(info)

    def factory() -> DataLoader[str, Any]:
        async def load(ids: Sequence[str]) -> list[Any]:
            async def run(session: AsyncSession, account_id: str) -> dict[str, Any]:
                return await fetch(session, account_id, ids)

            found = await read(run)
            return [found.get(i, missing()) for i in ids]

        return DataLoader(load)

    return context_of(info).loaders.extra(name, factory)


def activity_attachments_loader(info: Info) -> DataLoader[str, list[AttachmentRecord]]:
    """Attachments of activity items, one statement per batch."""
    return _batched(
        info,
        "activity_attachments",
        lambda session, account_id, ids: attachment_q.attachments_of_activities(
            session, account_id=account_id, activity_ids=ids
        ),
        list,
    )


def contact_attachments_loader(info: Info) -> DataLoader[str, list[AttachmentRecord]]:
    """All attachments of contacts, one statement per batch."""
    return _batched(
        info,
        "contact_attachments",
        lambda session, account_id, ids: attachment_q.attachments_of_contacts(
            session, account_id=account_id, contact_ids=ids
        ),
        list,
    )


def activity_count_loader(info: Info) -> DataLoader[str, int]:
    """Timeline lengths of contacts, one statement per batch."""
    return _batched(
        info,
        "activity_count",
        lambda session, account_id, ids: activity_q.count_activity_of_contacts(
            session, account_id=account_id, contact_ids=ids
        ),
        int,
    )


def contact_activity_loader(
    info: Info, limit: int, after: Keyset | None
) -> DataLoader[str, list[ActivityRecord]]:
    """The first ``limit`` timeline items of contacts, batched per (page size, cursor)."""
    position = f"{after.created_at.isoformat()}|{after.id}" if after else ""
    return _batched(
        info,
        f"contact_activity:{limit}:{position}",
        lambda session, account_id, ids: activity_q.activity_of_contacts(
            session, account_id=account_id, contact_ids=ids, limit=limit, after=after
        ),
        list,
    )


async def contact_activity(
    info: Info, contact_id: str, first: int | None, after: str | None
) -> ActivityConnection:
    """``Contact.activity``: a page of the contact's timeline, newest first (batched)."""
    from schema.types import PageInfo

    page = PageRequest.graphql(
        DEFAULT_ACTIVITY_PAGE if first is None else first, after, with_total=False
    )
    rows = await contact_activity_loader(info, page.limit + 1, page.after).load(contact_id)
    items = rows[: page.limit]
    return ActivityConnection(
        edges=[ActivityEdge(cursor=activity_cursor(i), node=i) for i in items],  # type: ignore[arg-type]
        nodes=items,  # type: ignore[arg-type]
        page_info=PageInfo(
            has_next_page=len(rows) > page.limit,
            has_previous_page=after is not None,
            start_cursor=activity_cursor(items[0]) if items else None,
            end_cursor=activity_cursor(items[-1]) if items else None,
        ),
        _contact_id=contact_id,
    )


async def contact_attachments(info: Info, contact_id: str) -> list[Attachment]:
    """``Contact.attachments``: every file of the contact, newest first (batched)."""
    return await contact_attachments_loader(info).load(contact_id)  # type: ignore[return-value]


# ---------------------------------------------------------------- inputs


@strawberry.input(description="A new conversation, ticket or call.")
class LogActivityInput:
    type: ActivityType
    occurred_at: str = strawberry.field(description="ISO 8601 with a time zone")
    subject: str | None = UNSET
    status: str | None = UNSET
    channel: str | None = UNSET
    direction: ActivityDirection | None = UNSET
    summary: str | None = UNSET
    duration_seconds: int | None = strawberry.field(default=UNSET, description="Calls only.")
    external_id: str | None = UNSET
    source: str | None = UNSET


@strawberry.input
class CreateCustomFieldDefinitionInput:
    key: str
    label: str
    type: CustomFieldType
    applies_to: CustomFieldAppliesTo
    options: list[str] | None = UNSET
    required: bool | None = UNSET


@strawberry.input(description="Only label, options and required can change.")
class UpdateCustomFieldDefinitionInput:
    label: str | None = UNSET
    options: list[str] | None = UNSET
    required: bool | None = UNSET


def _plain(data: object) -> dict[str, Any]:
    """``to_domain`` with enums as their values and unset optional fields dropped."""
    values = to_domain(data)
    return {
        k: (v.value if isinstance(v, Enum) else v)
        for k, v in values.items()
        if not (v is None and k in ("source", "required"))
    }


async def _upload_chunks(file: Any) -> AsyncIterator[bytes]:
    while chunk := await file.read(CHUNK):
        yield chunk


# ---------------------------------------------------------------- root fields


@strawberry.type
class ActivityQuery:
    @strawberry.field(description="The account's custom field definitions, by key.")
    async def custom_field_definitions(
        self, info: Info, applies_to: CustomFieldAppliesTo | None = None
    ) -> list[CustomFieldDefinition]:
        return await custom_fields.list_definitions(  # type: ignore[return-value]
            context_of(info).ctx, applies_to=applies_to.value if applies_to else None
        )


@strawberry.type
class ActivityMutation:
    @strawberry.mutation(description="Log a conversation, ticket or call (contacts:write).")
    async def log_activity(
        self, info: Info, contact_id: strawberry.ID, input: LogActivityInput
    ) -> Activity:
        from schema.mutation import in_savepoint

        ctx = context_of(info).ctx
        item = await in_savepoint(
            info, lambda: activity.log_activity(ctx, contact_id=contact_id, data=_plain(input))
        )
        return item.activity  # type: ignore[return-value]

    @strawberry.mutation(
        description="Attach a file to a contact, optionally to one of its conversations "
        "(GraphQL multipart request spec; contacts:write)."
    )
    async def upload_attachment(
        self,
        info: Info,
        contact_id: strawberry.ID,
        file: Upload,
        activity_id: strawberry.ID | None = None,
    ) -> Attachment:
        from schema.mutation import in_savepoint

        ctx = context_of(info).ctx
        return await in_savepoint(  # type: ignore[return-value]
            info,
            lambda: attachments.upload_attachment(
                ctx,
                contact_id=contact_id,
                filename=getattr(file, "filename", None),
                content=_upload_chunks(file),
                activity_id=activity_id,
            ),
        )

    @strawberry.mutation(description="Define a custom field (config:write).")
    async def create_custom_field_definition(
        self, info: Info, input: CreateCustomFieldDefinitionInput
    ) -> CustomFieldDefinition:
        from schema.mutation import in_savepoint

        ctx = context_of(info).ctx
        return await in_savepoint(  # type: ignore[return-value]
            info, lambda: custom_fields.create_definition(ctx, data=_plain(input))
        )

    @strawberry.mutation(description="Change a definition's label, options or required flag.")
    async def update_custom_field_definition(
        self, info: Info, key: str, input: UpdateCustomFieldDefinitionInput
    ) -> CustomFieldDefinition:
        from schema.mutation import in_savepoint

        ctx = context_of(info).ctx
        return await in_savepoint(  # type: ignore[return-value]
            info, lambda: custom_fields.update_definition(ctx, key=key, data=to_domain(input))
        )

    @strawberry.mutation(
        description="Delete a definition; stored values stay readable but are no longer "
        "validated or filterable. Returns the key."
    )
    async def delete_custom_field_definition(self, info: Info, key: str) -> str:
        from schema.mutation import in_savepoint

        ctx = context_of(info).ctx
        return await in_savepoint(info, lambda: custom_fields.delete_definition(ctx, key=key))


__all__ = [
    "Activity",
    "ActivityConnection",
    "ActivityMutation",
    "ActivityQuery",
    "Attachment",
    "CustomFieldDefinition",
    "CustomFieldRecord",
    "contact_activity",
    "contact_attachments",
]
