"""The root Mutation: each mutation runs in a savepoint, so a failed one undoes only itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from strawberry.types import Info

from resolvers import companies, contacts
from schema.activity import ActivityMutation
from schema.context import context_of
from schema.inputs import (
    CreateCompanyInput,
    CreateContactInput,
    UpdateCompanyInput,
    UpdateContactInput,
    to_domain,
)
from schema.types import Company, Contact

R = TypeVar("R")


async def in_savepoint(info: Info, fn: Callable[[], Awaitable[R]]) -> R:
    """Run one mutation inside a savepoint of the request's unit of work."""
    ctx = context_of(info).ctx
    async with ctx.uow.savepoint():
        return await fn()


@strawberry.type
class Mutation(ActivityMutation):
    @strawberry.mutation
    async def create_contact(self, info: Info, input: CreateContactInput) -> Contact:
        ctx = context_of(info).ctx
        return await in_savepoint(info, lambda: contacts.create_contact(ctx, data=to_domain(input)))  # type: ignore[return-value]

    @strawberry.mutation
    async def update_contact(
        self, info: Info, id: strawberry.ID, input: UpdateContactInput
    ) -> Contact:
        ctx = context_of(info).ctx
        return await in_savepoint(  # type: ignore[return-value]
            info, lambda: contacts.update_contact(ctx, contact_id=id, data=to_domain(input))
        )

    @strawberry.mutation(
        description="Erase a contact with its activity and attachments; returns its id."
    )
    async def delete_contact(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        ctx = context_of(info).ctx
        return strawberry.ID(
            await in_savepoint(info, lambda: contacts.delete_contact(ctx, contact_id=id))
        )

    @strawberry.mutation
    async def create_company(self, info: Info, input: CreateCompanyInput) -> Company:
        ctx = context_of(info).ctx
        return await in_savepoint(
            info, lambda: companies.create_company(ctx, data=to_domain(input))
        )  # type: ignore[return-value]

    @strawberry.mutation
    async def update_company(
        self, info: Info, id: strawberry.ID, input: UpdateCompanyInput
    ) -> Company:
        ctx = context_of(info).ctx
        return await in_savepoint(  # type: ignore[return-value]
            info, lambda: companies.update_company(ctx, company_id=id, data=to_domain(input))
        )

    @strawberry.mutation(description="Soft-delete a company; it stays readable and restorable.")
    async def delete_company(self, info: Info, id: strawberry.ID) -> Company:
        ctx = context_of(info).ctx
        return await in_savepoint(info, lambda: companies.delete_company(ctx, company_id=id))  # type: ignore[return-value]

    @strawberry.mutation
    async def restore_company(self, info: Info, id: strawberry.ID) -> Company:
        ctx = context_of(info).ctx
        return await in_savepoint(info, lambda: companies.restore_company(ctx, company_id=id))  # type: ignore[return-value]
