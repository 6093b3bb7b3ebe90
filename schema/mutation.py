"""The root Mutation: each mutation runs in a savepoint, so a failed one undoes only itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import strawberry
from strawberry.types import Info

from db.records import CompanyRecord, ContactRecord
from resolvers import companies, contacts
from schema.activity import ActivityMutation
from schema.context import context_of
from schema.idempotency import as_record, as_text, idempotent
from schema.inputs import (
    CreateCompanyInput,
    CreateContactInput,
    UpdateCompanyInput,
    UpdateContactInput,
    to_domain,
)
from schema.sync import SyncMutation
from schema.types import Company, Contact
from schema.webhooks import WebhookMutation

R = TypeVar("R")

IdempotencyKey = strawberry.argument(
    description="Makes the mutation safe to retry: a retry with the same key returns the first "
    "result; the same key with other arguments fails (validation_failed); while the first "
    "is running → conflict. Kept 24 h, per API key."
)
ExpectedVersion = strawberry.argument(
    description="The `version` you read: if the object has changed since → precondition_failed."
)


async def in_savepoint(info: Info, fn: Callable[[], Awaitable[R]]) -> R:
    """Run one mutation inside a savepoint of the request's unit of work."""
    ctx = context_of(info).ctx
    async with ctx.uow.savepoint():
        return await fn()


@strawberry.type
class Mutation(SyncMutation, ActivityMutation, WebhookMutation):
    @strawberry.mutation
    async def create_contact(
        self,
        info: Info,
        input: CreateContactInput,
        idempotency_key: Annotated[str | None, IdempotencyKey] = None,
    ) -> Contact:
        ctx = context_of(info).ctx
        data = to_domain(input)
        return await in_savepoint(  # type: ignore[return-value]
            info,
            lambda: idempotent(
                info,
                key=idempotency_key,
                arguments={"input": data},
                run=lambda: contacts.create_contact(ctx, data=data),
                **as_record(ContactRecord),
            ),
        )

    @strawberry.mutation
    async def update_contact(
        self,
        info: Info,
        id: strawberry.ID,
        input: UpdateContactInput,
        idempotency_key: Annotated[str | None, IdempotencyKey] = None,
        expected_version: Annotated[int | None, ExpectedVersion] = None,
    ) -> Contact:
        ctx = context_of(info).ctx
        data = to_domain(input)
        return await in_savepoint(  # type: ignore[return-value]
            info,
            lambda: idempotent(
                info,
                key=idempotency_key,
                arguments={"id": id, "input": data, "expected_version": expected_version},
                run=lambda: contacts.update_contact(
                    ctx, contact_id=id, data=data, expected_version=expected_version
                ),
                **as_record(ContactRecord),
            ),
        )

    @strawberry.mutation(
        description="Erase a contact with its activity and attachments; returns its id."
    )
    async def delete_contact(
        self,
        info: Info,
        id: strawberry.ID,
        idempotency_key: Annotated[str | None, IdempotencyKey] = None,
        expected_version: Annotated[int | None, ExpectedVersion] = None,
    ) -> strawberry.ID:
        ctx = context_of(info).ctx
        deleted = await in_savepoint(
            info,
            lambda: idempotent(
                info,
                key=idempotency_key,
                arguments={"id": id, "expected_version": expected_version},
                run=lambda: contacts.delete_contact(
                    ctx, contact_id=id, expected_version=expected_version
                ),
                **as_text(),
            ),
        )
        return strawberry.ID(deleted)

    @strawberry.mutation
    async def create_company(
        self,
        info: Info,
        input: CreateCompanyInput,
        idempotency_key: Annotated[str | None, IdempotencyKey] = None,
    ) -> Company:
        ctx = context_of(info).ctx
        data = to_domain(input)
        return await in_savepoint(  # type: ignore[return-value]
            info,
            lambda: idempotent(
                info,
                key=idempotency_key,
                arguments={"input": data},
                run=lambda: companies.create_company(ctx, data=data),
                **as_record(CompanyRecord),
            ),
        )

    @strawberry.mutation
    async def update_company(
        self,
        info: Info,
        id: strawberry.ID,
        input: UpdateCompanyInput,
        idempotency_key: Annotated[str | None, IdempotencyKey] = None,
        expected_version: Annotated[int | None, ExpectedVersion] = None,
    ) -> Company:
        ctx = context_of(info).ctx
        data = to_domain(input)
        return await in_savepoint(  # type: ignore[return-value]
            info,
            lambda: idempotent(
                info,
                key=idempotency_key,
                arguments={"id": id, "input": data, "expected_version": expected_version},
                run=lambda: companies.update_company(
                    ctx, company_id=id, data=data, expected_version=expected_version
                ),
                **as_record(CompanyRecord),
            ),
        )

    @strawberry.mutation(description="Soft-delete a company; it stays readable and restorable.")
    async def delete_company(
        self,
        info: Info,
        id: strawberry.ID,
        idempotency_key: Annotated[str | None, IdempotencyKey] = None,
        expected_version: Annotated[int | None, ExpectedVersion] = None,
    ) -> Company:
        ctx = context_of(info).ctx
        return await in_savepoint(  # type: ignore[return-value]
            info,
            lambda: idempotent(
                info,
                key=idempotency_key,
                arguments={"id": id, "expected_version": expected_version},
                run=lambda: companies.delete_company(
                    ctx, company_id=id, expected_version=expected_version
                ),
                **as_record(CompanyRecord),
            ),
        )

    @strawberry.mutation
    async def restore_company(
        self,
        info: Info,
        id: strawberry.ID,
        idempotency_key: Annotated[str | None, IdempotencyKey] = None,
    ) -> Company:
        ctx = context_of(info).ctx
        return await in_savepoint(  # type: ignore[return-value]
            info,
            lambda: idempotent(
                info,
                key=idempotency_key,
                arguments={"id": id},
                run=lambda: companies.restore_company(ctx, company_id=id),
                **as_record(CompanyRecord),
            ),
        )
