"""The floor and the in-process cases, each a zero-argument callable returning response bytes."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from db.queries import contacts as contact_q
from db.records import ListFilter
from db.uow import UnitOfWork
from resolvers import contacts
from resolvers.context import Principal, RequestContext
from resolvers.pagination import PageRequest, cursor_of
from rest_compat.serializers import contact_json, envelope
from schema import build_schema
from schema.context import GraphQLContext
from schema.loaders import Loaders

FLOOR_SQL = """
SELECT c.id, c.name, c.email, c.phone, c.tags, c.created_at, co.id, co.name
FROM contact c LEFT JOIN company co ON co.id = c.company_id
WHERE c.account_id = {p1} AND c.deleted_at IS NULL
ORDER BY c.created_at DESC, c.id DESC LIMIT 100
"""

PAGE_FIELDS = "id name email phone tags createdAt company { id name }"
GRAPHQL_PAGE = (
    "query Page($after: String) { contacts(first: 100, after: $after) "
    "{ nodes { " + PAGE_FIELDS + " } pageInfo { endCursor hasNextPage } } }"
)
GRAPHQL_GET = "query Get($id: ID!) { contact(id: $id) { " + PAGE_FIELDS + " } }"


def _floor_dict(r: tuple[Any, ...], tags: Any, created: str) -> dict[str, Any]:
    return {
        "id": r[0],
        "name": r[1],
        "email": r[2],
        "phone": r[3],
        "tags": tags,
        "createdAt": created,
        "company": {"id": r[6], "name": r[7]} if r[6] is not None else None,
    }


class SqliteFloor:
    """Raw sqlite3: a page of 100 joined to the company name, then orjson."""

    def __init__(self, path: str, account_id: str) -> None:
        self.con = sqlite3.connect(path, check_same_thread=False)
        self.sql = FLOOR_SQL.format(p1="?")
        self.args = (account_id,)

    def __call__(self) -> bytes:
        rows = self.con.execute(self.sql, self.args).fetchall()
        loads = orjson.loads
        return orjson.dumps([_floor_dict(r, loads(r[4]), r[5]) for r in rows])

    def close(self) -> None:
        self.con.close()


class AiosqliteFloor:
    """Diagnostic: the floor's SQL through raw aiosqlite (its worker thread, no SQLAlchemy).

    The gap to the floor is the thread hand-off per call, which grows with the host's load.
    """

    def __init__(self, conn: Any, account_id: str) -> None:
        self.conn = conn
        self.sql = FLOOR_SQL.format(p1="?")
        self.args = (account_id,)

    async def __call__(self) -> bytes:
        async with self.conn.execute(self.sql, self.args) as cursor:
            rows = await cursor.fetchall()
        loads = orjson.loads
        return orjson.dumps([_floor_dict(tuple(r), loads(r[4]), r[5]) for r in rows])


class PostgresFloor:
    """Raw asyncpg: the same page, then orjson."""

    def __init__(self, conn: Any, account_id: str) -> None:
        self.conn = conn
        self.sql = FLOOR_SQL.format(p1="$1")
        self.account_id = account_id

    async def __call__(self) -> bytes:
        rows = await self.conn.fetch(self.sql, self.account_id)
        loads = orjson.loads
        return orjson.dumps([_floor_dict(tuple(r), loads(r[4]), r[5].isoformat()) for r in rows])


def sqlite_path(url: str) -> str:
    """The file behind an SQLite URL."""
    database = make_url(url).database
    assert database
    return database


def asyncpg_dsn(url: str) -> str:
    """A libpq DSN for asyncpg / PostGraphile from a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class InProcess:
    """Builds the app-level calls the in-process cases time."""

    engine: AsyncEngine
    principal: Principal

    def __post_init__(self) -> None:
        self.schema = build_schema()

    def _ctx(self) -> RequestContext:
        return RequestContext(UnitOfWork(self.engine), self.principal)

    def rest_list(self, flt: ListFilter, page: PageRequest) -> Callable[[], Awaitable[bytes]]:
        """The REST list route's work: resolver, envelope, orjson (no HTTP)."""

        async def run() -> bytes:
            ctx = self._ctx()
            try:
                result = await contacts.list_contacts(ctx, flt=flt, page=page)
                return orjson.dumps(envelope(result, contact_json))
            finally:
                await ctx.uow.close()

        return run

    def count(self, flt: ListFilter) -> Callable[[], Awaitable[int]]:
        """The filtered total alone."""

        async def run() -> int:
            ctx = self._ctx()
            try:
                session = await ctx.uow.reader()
                return await contact_q.count_contacts(
                    session, account_id=self.principal.account_id, flt=flt
                )
            finally:
                await ctx.uow.close()

        return run

    def graphql(self, query: str, variables: dict[str, Any]) -> Callable[[], Awaitable[bytes]]:
        """``schema.execute`` with the request context and DataLoaders, then orjson."""

        async def run() -> bytes:
            ctx = self._ctx()
            try:
                result = await self.schema.execute(
                    query,
                    variable_values=variables,
                    context_value=GraphQLContext(ctx, Loaders(self.engine, ctx)),
                )
                if result.errors:
                    raise RuntimeError(result.errors[0])
                return orjson.dumps({"data": result.data})
            finally:
                await ctx.uow.close()

        return run

    async def keyset_at(self, row: int) -> tuple[str, str]:
        """(cursor, id) of the contact at 0-based position ``row`` in the default order."""
        ctx = self._ctx()
        try:
            page = await contacts.list_contacts(
                ctx, flt=ListFilter(), page=PageRequest(limit=1, offset=row, with_total=False)
            )
        finally:
            await ctx.uow.close()
        item = page.items[0]
        return cursor_of(item), item.id
