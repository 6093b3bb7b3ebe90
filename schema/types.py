"""GraphQL object types. They resolve straight from the domain's records (no copies)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from db.records import CompanyRecord, ContactRecord
from resolvers import companies
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


def loaded_or_future(loader: Any, key: Any) -> Any:
    """The value a DataLoader already holds for ``key``, else its future (awaited by graphql-core)."""
    future = loader.cache_map.get(key)
    if future is not None and future.done() and not future.cancelled() and not future.exception():
        return future.result()
    return loader.load(key)


def selects_node_field(info: Info, name: str) -> bool:
    """Whether ``nodes { name }`` or ``edges { node { name } }`` is selected under this field."""

    def children(selection: Any) -> list[Any]:
        return list(getattr(selection, "selections", None) or [])

    def names(selections: list[Any]) -> Any:
        for s in selections:
            if getattr(s, "name", None) is None:  # a fragment: look inside
                yield from names(children(s))
            else:
                yield s

    for field in info.selected_fields:
        for top in names(children(field)):
            if top.name == "nodes" and any(c.name == name for c in names(children(top))):
                return True
            if top.name == "edges":
                for node in names(children(top)):
                    if node.name == "node" and any(c.name == name for c in names(children(node))):
                        return True
    return False


async def prefetch_companies(info: Info, records: list[ContactRecord]) -> None:
    """Load the companies of a page of contacts in one batch when ``company`` is selected."""
    ids = sorted({r.company_id for r in records if r.company_id is not None})
    if ids and selects_node_field(info, "company"):
        context = context_of(info)
        # On the request's own session (no second connection), then primed into the loader.
        found = await companies.companies_by_ids(context.ctx, ids=ids)
        context.loaders.company.prime_many({i: found.get(i) for i in ids})


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
    version: int = strawberry.field(
        description="Bumped by every change; pass it as expectedVersion to update safely."
    )

    @strawberry.field(description="The contact's company (soft-deleted companies too).")
    def company(self, info: Info) -> Company | None:
        # Synchronous when the list resolver prefetched the page's companies (one batch):
        # no coroutine or task per row. Otherwise the DataLoader's future is awaited.
        if self.company_id is None:
            return None
        return loaded_or_future(context_of(info).loaders.company, self.company_id)  # type: ignore[no-any-return]

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
    version: int = strawberry.field(
        description="Bumped by every change; pass it as expectedVersion to update safely."
    )

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


def _edges(edge_type: Any, root: Any) -> Any:
    return [edge_type(cursor=cursor_of(n), node=n) for n in root.nodes]


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
    # Built only when selected: a cursor per node costs about the whole bench floor per page.
    edges: list[ContactEdge] = strawberry.field(resolver=lambda root: _edges(ContactEdge, root))
    nodes: list[Contact]
    page_info: PageInfo
    _total: strawberry.Private[int | None]

    @strawberry.field
    def total_count(self) -> int:
        return self._total or 0


@strawberry.type
class CompanyConnection:
    # Built only when selected: a cursor per node costs about the whole bench floor per page.
    edges: list[CompanyEdge] = strawberry.field(resolver=lambda root: _edges(CompanyEdge, root))
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
