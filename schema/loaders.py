"""Per-request DataLoaders; each batch runs in its own short read session.

graphql-core resolves sibling fields concurrently, and one AsyncSession must never be used by
concurrent coroutines, so loaders do not share the request's session.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from strawberry.dataloader import DataLoader

from db.queries import companies as company_q
from db.queries import related
from db.records import CompanyRecord, ContactRecord, Keyset
from resolvers.context import RequestContext
from resolvers.scopes import CONTACTS_READ

K = TypeVar("K")
V = TypeVar("V")


class Loaders:
    """The DataLoaders of one GraphQL request."""

    def __init__(self, engine: AsyncEngine, ctx: RequestContext) -> None:
        self.engine = engine
        self.ctx = ctx
        self.company: DataLoader[str, CompanyRecord | None] = DataLoader(self._companies)
        self.contact_count: DataLoader[str, int] = DataLoader(self._contact_counts)
        self._company_contacts: dict[
            tuple[int, Keyset | None], DataLoader[str, list[ContactRecord]]
        ] = {}

    async def _read(self, fn: Callable[[AsyncSession, str], Awaitable[V]]) -> V:
        account_id = self.ctx.require(CONTACTS_READ)
        async with AsyncSession(self.engine) as session:
            try:
                return await fn(session, account_id)
            finally:
                await session.rollback()

    async def _companies(self, ids: Sequence[str]) -> list[CompanyRecord | None]:
        async def run(session: AsyncSession, account_id: str) -> dict[str, CompanyRecord]:
            return await company_q.get_companies_by_ids(session, account_id=account_id, ids=ids)

        found = await self._read(run)
        return [found.get(i) for i in ids]

    async def _contact_counts(self, ids: Sequence[str]) -> list[int]:
        async def run(session: AsyncSession, account_id: str) -> dict[str, int]:
            return await company_q.contact_counts(session, account_id=account_id, company_ids=ids)

        counts = await self._read(run)
        return [counts.get(i, 0) for i in ids]

    def company_contacts(
        self, limit: int, after: Keyset | None
    ) -> DataLoader[str, list[ContactRecord]]:
        """Contacts of companies, batched per (page size, cursor)."""
        key = (limit, after)
        if key not in self._company_contacts:

            async def load(ids: Sequence[str]) -> list[list[ContactRecord]]:
                async def run(
                    session: AsyncSession, account_id: str
                ) -> dict[str, list[ContactRecord]]:
                    return await related.contacts_of_companies(
                        session, account_id=account_id, company_ids=ids, limit=limit, after=after
                    )

                found = await self._read(run)
                return [found.get(i, []) for i in ids]

            self._company_contacts[key] = DataLoader(load)
        return self._company_contacts[key]

    def extra(self, name: str, factory: Callable[[], DataLoader[Any, Any]]) -> DataLoader[Any, Any]:
        """A loader added by a later feature (activity, attachments…), created once per request."""
        loaders: dict[str, DataLoader[Any, Any]] = self.__dict__.setdefault("_extra", {})
        if name not in loaders:
            loaders[name] = factory()
        return loaders[name]
