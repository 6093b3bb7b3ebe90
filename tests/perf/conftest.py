"""A bench-shaped data set (3,000 contacts, 150 companies, tags) loaded with the bench loader."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import data as bench_data
from bench.cases import asyncpg_dsn, sqlite_path
from tests.conftest import Api, KeyMaker

CONTACTS = 3_000


@dataclass
class Loaded:
    """The generated rows and a REST/GraphQL caller of their account."""

    api: Api
    account_id: str
    data: bench_data.Dataset


@pytest.fixture
async def loaded(
    make_key: KeyMaker,
    client: Any,
    engine: AsyncEngine,
    database_url: str,
    dialect: str,
) -> Loaded:
    raw = await make_key(bench_data.ACCOUNT)
    async with engine.connect() as conn:
        account_id = (
            await conn.execute(
                sa.text("SELECT id FROM account WHERE name = :n"), {"n": bench_data.ACCOUNT}
            )
        ).scalar_one()
    await engine.dispose()  # the loader needs the SQLite file to itself
    rows = bench_data.generate(account_id, CONTACTS, sqlite=dialect == "sqlite")
    if dialect == "sqlite":
        bench_data.load_sqlite(sqlite_path(database_url), rows, lambda _msg: None)
    else:
        conn = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            await bench_data.load_postgres(conn, rows, lambda _msg: None)
        finally:
            await conn.close()
    return Loaded(Api(client, raw), account_id, rows)


@dataclass
class Captured:
    """SQL statements (with parameters) a block ran, auth and housekeeping left out."""

    calls: list[tuple[str, Any]]

    @property
    def statements(self) -> list[str]:
        return [s for s, _ in self.calls]

    def touching(self, table: str) -> list[tuple[str, Any]]:
        pattern = re.compile(rf"\b(FROM|JOIN) {table}\b")
        return [(s, p) for s, p in self.calls if pattern.search(s)]


@pytest.fixture
def capture(engine: AsyncEngine) -> Callable[[], Any]:
    """``with capture() as seen: ...`` records the data statements (not the key look-up)."""

    @contextmanager
    def capturing() -> Iterator[Captured]:
        seen = Captured([])

        def on_execute(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
            head = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
            if head in {"SELECT", "WITH"} and "api_key" not in statement:
                seen.calls.append((statement, parameters))

        sa.event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
        try:
            yield seen
        finally:
            sa.event.remove(engine.sync_engine, "before_cursor_execute", on_execute)

    return capturing
