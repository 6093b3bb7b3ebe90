"""The root Query: thin calls into the domain layer."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from resolvers import companies, contacts
from resolvers.errors import NotFound
from resolvers.filters import list_filter
from resolvers.pagination import PageRequest
from schema.activity import ActivityQuery
from schema.context import context_of
from schema.sync import SyncQuery
from schema.types import (
    Company,
    CompanyConnection,
    Contact,
    ContactConnection,
    company_connection,
    contact_connection,
    prefetch_companies,
    selects,
)
from schema.webhooks import WebhookQuery


@strawberry.input(description="Filter on one custom field: equal to value.")
class CustomFieldFilter:
    key: str
    value: str


@strawberry.type
class Query(SyncQuery, ActivityQuery, WebhookQuery):
    @strawberry.field(description="One contact by id, or null.")
    async def contact(self, info: Info, id: strawberry.ID) -> Contact | None:
        try:
            return await contacts.get_contact(context_of(info).ctx, contact_id=id)  # type: ignore[return-value]
        except NotFound:
            return None

    @strawberry.field(description="Contacts, newest first.")
    async def contacts(
        self,
        info: Info,
        search: str | None = None,
        company_id: strawberry.ID | None = None,
        tags: list[str] | None = None,
        custom_fields: list[CustomFieldFilter] | None = None,
        first: int | None = 25,
        after: str | None = None,
    ) -> ContactConnection:
        ctx = context_of(info).ctx
        flt = list_filter(
            search=search,
            company_id=company_id,
            tags=tags,
            custom_field_filters={f.key: f.value for f in custom_fields or []},
        )
        page = PageRequest.graphql(
            25 if first is None else first, after, with_total=selects(info, "totalCount")
        )
        result = await contacts.list_contacts(ctx, flt=flt, page=page)
        await prefetch_companies(info, result.items)
        return contact_connection(result, after is not None)

    @strawberry.field(description="One company by id (soft-deleted ones too), or null.")
    async def company(self, info: Info, id: strawberry.ID) -> Company | None:
        try:
            return await companies.get_company(context_of(info).ctx, company_id=id)  # type: ignore[return-value]
        except NotFound:
            return None

    @strawberry.field(description="Companies, newest first.")
    async def companies(
        self,
        info: Info,
        search: str | None = None,
        tags: list[str] | None = None,
        include_deleted: bool | None = False,
        custom_fields: list[CustomFieldFilter] | None = None,
        first: int | None = 25,
        after: str | None = None,
    ) -> CompanyConnection:
        ctx = context_of(info).ctx
        flt = list_filter(
            search=search,
            tags=tags,
            include_deleted=bool(include_deleted),
            custom_field_filters={f.key: f.value for f in custom_fields or []},
        )
        page = PageRequest.graphql(
            25 if first is None else first, after, with_total=selects(info, "totalCount")
        )
        result = await companies.list_companies(ctx, flt=flt, page=page, with_counts=False)
        return company_connection(result, after is not None)
