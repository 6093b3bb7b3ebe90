"""Shared fixtures: a real database per test (SQLite file, or PostgreSQL), the app, keys, clients.

Choose the database with ``--db sqlite|postgresql`` or env ``CONTACTS_GATEWAY_TEST_DB``.
PostgreSQL uses ``CONTACTS_GATEWAY_TEST_PG_URL`` (default ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``
as the admin connection); each run creates its own database and drops it at the end.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

os.environ.setdefault("CONTACTS_GATEWAY_ALLOW_PRIVATE_URLS", "1")

from contacts_gateway.app import create_app
from contacts_gateway.settings import Settings
from db.engine import make_engine
from db.migrate import upgrade
from db.uow import UnitOfWork
from resolvers import keys as key_use_cases
from resolvers.scopes import ALL_SCOPES

DEFAULT_PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        default=os.environ.get("CONTACTS_GATEWAY_TEST_DB", "sqlite"),
        choices=("sqlite", "postgresql"),
        help="database the suite runs on",
    )


def pytest_report_header(config: pytest.Config) -> str:
    return f"contacts-gateway test database: {config.getoption('--db')}"


# ---------------------------------------------------------------- databases


class Database:
    """How to get a fresh, migrated database for one test."""

    dialect: str

    async def fresh_url(self, tmp_path: Path) -> str:
        raise NotImplementedError

    async def empty_url(self, tmp_path: Path) -> str:
        """A brand-new database with no tables at all (migration and replica tests)."""
        raise NotImplementedError

    async def drop_empty(self, url: str) -> None:
        """Remove a database :meth:`empty_url` made."""
        return None

    async def finish(self) -> None:
        return None


class SQLiteDatabase(Database):
    dialect = "sqlite"

    def __init__(self, template: Path) -> None:
        self.template = template

    async def prepare(self) -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{self.template}")
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    async def fresh_url(self, tmp_path: Path) -> str:
        target = tmp_path / "contacts.db"
        shutil.copyfile(self.template, target)
        return f"sqlite+aiosqlite:///{target}"

    async def empty_url(self, tmp_path: Path) -> str:
        target = tmp_path / f"empty_{secrets.token_hex(4)}.db"
        return f"sqlite+aiosqlite:///{target}"


class PostgresDatabase(Database):
    dialect = "postgresql"

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = f"cg_test_{os.getpid()}_{secrets.token_hex(3)}"
        self.url = str(
            sa.make_url(admin_url).set(database=self.name).render_as_string(hide_password=False)
        )
        self.tables: list[str] = []
        self.extra: set[str] = set()

    async def prepare(self) -> None:
        admin = create_async_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as conn:
                await conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
        finally:
            await admin.dispose()
        engine = make_engine(self.url)
        try:
            await upgrade(engine)
            async with engine.connect() as conn:
                rows = await conn.exec_driver_sql(
                    "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"
                )
                self.tables = [r[0] for r in rows]
        finally:
            await engine.dispose()

    async def fresh_url(self, tmp_path: Path) -> str:
        engine = create_async_engine(self.url)
        try:
            async with engine.begin() as conn:
                await conn.exec_driver_sql(
                    "TRUNCATE "
                    + ", ".join(f'"{t}"' for t in self.tables)
                    + " RESTART IDENTITY CASCADE"
                )
        finally:
            await engine.dispose()
        return self.url

    async def empty_url(self, tmp_path: Path) -> str:
        # Named after the session's database, so every cg_test_* database is this run's.
        name = f"{self.name}_e{secrets.token_hex(3)}"
        admin = create_async_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as conn:
                await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        finally:
            await admin.dispose()
        self.extra.add(name)
        return str(sa.make_url(self.url).set(database=name).render_as_string(hide_password=False))

    async def drop_empty(self, url: str) -> None:
        name = sa.make_url(url).database
        assert name is not None and name.startswith(self.name)
        await self._drop(name)
        self.extra.discard(name)

    async def _drop(self, name: str) -> None:
        admin = create_async_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as conn:
                await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.dispose()

    async def finish(self) -> None:
        for name in sorted(self.extra):
            await self._drop(name)
        await self._drop(self.name)


async def _postgres_reachable(url: str) -> bool:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
        return True
    except Exception:
        return False
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    """The database kind of this run, prepared once (migrations run once per session)."""
    kind = request.config.getoption("--db")
    if kind == "postgresql":
        admin_url = os.environ.get("CONTACTS_GATEWAY_TEST_PG_URL", DEFAULT_PG_ADMIN)
        if not await _postgres_reachable(admin_url):
            pytest.skip(f"PostgreSQL is not reachable at {admin_url}: SKIPPING the PostgreSQL run")
        db: Database = PostgresDatabase(admin_url)
    else:
        db = SQLiteDatabase(tmp_path_factory.mktemp("template") / "template.db")
    await db.prepare()  # type: ignore[attr-defined]
    yield db
    await db.finish()


@pytest.fixture
def dialect(database: Database) -> str:
    return database.dialect


@pytest.fixture
async def database_url(database: Database, tmp_path: Path) -> str:
    """A fresh, migrated, empty database for this test."""
    return await database.fresh_url(tmp_path)


@pytest.fixture
async def empty_database(
    database: Database, tmp_path: Path
) -> AsyncIterator[Callable[[], Awaitable[str]]]:
    """``await empty_database()`` → the URL of a new database with no tables; dropped after."""
    made: list[str] = []

    async def make() -> str:
        url = await database.empty_url(tmp_path)
        made.append(url)
        return url

    yield make
    for url in made:
        await database.drop_empty(url)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(database_url)
    yield eng
    await eng.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data", allow_private_urls=True)


@pytest.fixture
def app(settings: Settings, engine: AsyncEngine) -> Any:
    return create_app(settings, engine=engine)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


# ---------------------------------------------------------------- keys and callers

KeyMaker = Callable[..., Awaitable[str]]


@pytest.fixture
def make_key(engine: AsyncEngine) -> KeyMaker:
    """``await make_key("acme", scopes=[...])`` → a raw API key of that account."""

    async def make(account: str = "acme", scopes: list[str] | None = None, name: str = "") -> str:
        uow = UnitOfWork(engine)
        try:
            raw, _ = await key_use_cases.create_key(
                uow, account_name=account, scopes=list(scopes or ALL_SCOPES), name=name
            )
            await uow.commit()
            return raw
        finally:
            await uow.close()

    return make


@pytest.fixture
async def key(make_key: KeyMaker) -> str:
    """An all-scopes key of account ``acme``."""
    return await make_key("acme")


@pytest.fixture
async def other_key(make_key: KeyMaker) -> str:
    """An all-scopes key of another account, ``globex``."""
    return await make_key("globex")


class Api:
    """A REST caller bound to one key."""

    def __init__(self, client: httpx.AsyncClient, key: str | None) -> None:
        self.client = client
        self.key = key

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"X-API-Key": self.key} if self.key else {}
        return {**headers, **(extra or {})}

    async def request(
        self, method: str, url: str, headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        return await self.client.request(method, url, headers=self._headers(headers), **kw)

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", url, **kw)

    async def post(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("POST", url, **kw)

    async def patch(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("PATCH", url, **kw)

    async def put(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("PUT", url, **kw)

    async def delete(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kw)

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, **kw: Any
    ) -> dict[str, Any]:
        response = await self.post(
            "/graphql", json={"query": query, "variables": variables or {}}, **kw
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def api(client: httpx.AsyncClient, key: str) -> Api:
    """REST/GraphQL caller with an all-scopes key of ``acme``."""
    return Api(client, key)


@pytest.fixture
def other_api(client: httpx.AsyncClient, other_key: str) -> Api:
    """Caller of another account (``globex``)."""
    return Api(client, other_key)


@pytest.fixture
def api_as(client: httpx.AsyncClient) -> Callable[[str | None], Api]:
    """``api_as(raw_key)`` → a caller with that key (or none)."""
    return lambda raw: Api(client, raw)


# ---------------------------------------------------------------- statement counting


class StatementCounter:
    """Counts data statements (SELECT/INSERT/UPDATE/DELETE) the engine runs."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_statements(engine: AsyncEngine) -> Callable[[], Any]:
    """``with count_statements() as counter: ...`` then ``counter.count``."""

    @contextmanager
    def counting() -> Iterator[StatementCounter]:
        counter = StatementCounter()

        def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            head = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
            if head in {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"}:
                counter.statements.append(statement)

        sa.event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
        try:
            yield counter
        finally:
            sa.event.remove(engine.sync_engine, "before_cursor_execute", on_execute)

    return counting


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def run(coro: Awaitable[Any]) -> Any:
    """Run a coroutine from sync code (CLI tests)."""
    return asyncio.get_event_loop().run_until_complete(coro)
