"""GraphQL object types. They resolve straight from the domain's records (no copies)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from db.records import CompanyRecord, ContactRecord
from resolvers.pagination import Page, PageRequest, cursor_of
from schema.activity import (
    ActivityConnection,
    Attachment,
    contact_activity,
    contact_attachments,
)
from schema.context import context_of
from schema.scalars import JSON, DateTime


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


def selects(info: Info, name: str) -> bool:
    """Whether the client selected ``name`` directly under this field (e.g. ``totalCount``)."""
    for field in info.selected_fields:
        for selection in field.selections:
            if getattr(selection, "name", None) == name:
                return True
            # fragments: look one level into their selections
            for inner in getattr(selection, "selections", []) or []:
                if getattr(inner, "name", None) == name:
                    return True
    return False


@strawberry.type(description="A person who writes in to the helpdesk.")
class Contact:
    id: strawberry.ID
    name: str
    email: str | None
    phone: str | None = strawberry.field(description="E.164")
    company_id: strawberry.ID | None
    company_name: str | None
    tags: list[str]
    custom_fields: JSON
    created_at: DateTime
    updated_at: DateTime

    @strawberry.field(description="The contact's company (soft-deleted companies too).")
    async def company(self, info: Info) -> Company | None:
        if self.company_id is None:
            return None
        return await context_of(info).loaders.company.load(self.company_id)  # type: ignore[return-value]

    @strawberry.field(description="Conversations, tickets and calls, newest first (batched).")
    async def activity(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> ActivityConnection:
        return await contact_activity(info, self.id, first, after)

    @strawberry.field(description="Every file attached to the contact, newest first (batched).")
    async def attachments(self, info: Info) -> list[Attachment]:
        return await contact_attachments(info, self.id)


@strawberry.type(description="An organisation that groups contacts.")
class Company:
    id: strawberry.ID
    name: str
    domain: str | None
    tags: list[str]
    custom_fields: JSON
    created_at: DateTime
    updated_at: DateTime
    deleted_at: DateTime | None

    @strawberry.field(description="Live contacts linked to this company.")
    async def contact_count(self, info: Info) -> int:
        return await context_of(info).loaders.contact_count.load(self.id)

    @strawberry.field(description="The company's contacts, newest first.")
    async def contacts(
        self, info: Info, first: int | None = 25, after: str | None = None
    ) -> ContactConnection:
        page = PageRequest.graphql(25 if first is None else first, after, with_total=False)
        loader = context_of(info).loaders.company_contacts(page.limit + 1, page.after)
        rows = await loader.load(self.id)
        total = (
            await context_of(info).loaders.contact_count.load(self.id)
            if selects(info, "totalCount")
            else None
        )
        return connection(
            ContactConnection,
            ContactEdge,
            Page(
                items=rows[: page.limit],
                total=total,
                limit=page.limit,
                offset=0,
                has_next=len(rows) > page.limit,
            ),
            after is not None,
        )


@strawberry.type
class ContactEdge:
    cursor: str
    node: Contact


@strawberry.type
class CompanyEdge:
    cursor: str
    node: Company


@strawberry.type
class ContactConnection:
    edges: list[ContactEdge]
    nodes: list[Contact]
    page_info: PageInfo
    _total: strawberry.Private[int | None]

    @strawberry.field
    def total_count(self) -> int:
        return self._total or 0


@strawberry.type
class CompanyConnection:
    edges: list[CompanyEdge]
    nodes: list[Company]
    page_info: PageInfo
    _total: strawberry.Private[int | None]

    @strawberry.field
    def total_count(self) -> int:
        return self._total or 0


def connection(conn_type: Any, edge_type: Any, page: Page[Any], has_previous: bool) -> Any:
    """Build a Relay-style connection from a page of records."""
    items = page.items
    return conn_type(
        edges=[edge_type(cursor=cursor_of(i), node=i) for i in items],
        nodes=items,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=has_previous,
            start_cursor=page.start_cursor,
            end_cursor=page.end_cursor,
        ),
        _total=page.total,
    )


def contact_connection(page: Page[ContactRecord], has_previous: bool) -> ContactConnection:
    """A ContactConnection over records (records serve as Contact nodes)."""
    return connection(ContactConnection, ContactEdge, page, has_previous)  # type: ignore[no-any-return]


def company_connection(page: Page[CompanyRecord], has_previous: bool) -> CompanyConnection:
    """A CompanyConnection over records."""
    return connection(CompanyConnection, CompanyEdge, page, has_previous)  # type: ignore[no-any-return]
