"""Engine and URL handling on both dialects: drivers, pool and timeouts, /readyz."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_gateway.app import create_app, engine_for
from contacts_gateway.settings import Settings
from db.engine import async_url, make_engine
from rest_compat import health


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/cg", "postgresql+asyncpg://u:p@db:5432/cg"),
        ("postgres://u@db/cg", "postgresql+asyncpg://u@db/cg"),
        ("postgresql+asyncpg://u@db/cg", "postgresql+asyncpg://u@db/cg"),
        ("sqlite:///./contacts.db", "sqlite+aiosqlite:///./contacts.db"),
        ("sqlite+aiosqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
    ],
)
def test_urls_get_the_async_driver(given: str, expected: str) -> None:
    assert async_url(given) == expected


async def _get(app: object, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path)


async def test_readyz_ok(client: httpx.AsyncClient, dialect: str) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "dialect": dialect}


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://postgres@127.0.0.1:1/nothing_listens_here",
        "sqlite+aiosqlite:////nonexistent-directory/contacts.db",
    ],
)
async def test_readyz_503_when_the_database_is_down(url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=url, data_dir=tmp_path / "data")
    engine = engine_for(settings)
    try:
        response = await _get(create_app(settings, engine=engine), "/readyz")
    finally:
        await engine.dispose()
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.headers["retry-after"]
    assert "127.0.0.1" not in response.text and "nonexistent" not in response.text
    # Liveness does not depend on the database.
    assert (await _get(create_app(settings, engine=engine), "/healthz")).status_code == 200


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP port that accepts connections and never says a word (a hung database host)."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_readyz_answers_in_time_when_the_database_hangs(
    silent_server: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "READY_TIMEOUT_S", 0.3)
    settings = Settings(
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{silent_server}/x",
        data_dir=tmp_path / "data",
    )
    engine = engine_for(settings)
    try:
        response = await asyncio.wait_for(
            _get(create_app(settings, engine=engine), "/readyz"), timeout=5
        )
    finally:
        await engine.dispose()
    assert response.status_code == 503
    assert response.json()["database"] == "TimeoutError"


async def test_pool_and_timeouts_follow_settings(settings: Settings, dialect: str) -> None:
    tuned = settings.model_copy(
        update={
            "db_pool_size": 3,
            "db_max_overflow": 2,
            "db_statement_timeout_ms": 1234,
            "sqlite_busy_timeout_ms": 321,
        }
    )
    engine = engine_for(tuned)
    try:
        async with engine.connect() as conn:
            if dialect == "postgresql":
                assert engine.pool.size() == 3  # type: ignore[attr-defined]
                assert engine.pool._max_overflow == 2  # type: ignore[attr-defined]
                timeout = await conn.scalar(sa.text("SHOW statement_timeout"))
                assert timeout == "1234ms"
                name = await conn.scalar(sa.text("SHOW application_name"))
                assert name == "contacts-gateway"
            else:
                assert await conn.scalar(sa.text("PRAGMA busy_timeout")) == 321
                assert await conn.scalar(sa.text("PRAGMA journal_mode")) == "wal"
                assert await conn.scalar(sa.text("PRAGMA foreign_keys")) == 1
    finally:
        await engine.dispose()


async def test_pool_serves_concurrent_sessions_up_to_its_size(
    database_url: str, dialect: str
) -> None:
    """size + overflow connections at once, each its own backend (PostgreSQL)."""
    if dialect != "postgresql":
        pytest.skip("SQLite connections are files, not a server pool")
    engine = make_engine(database_url, pool_size=2, max_overflow=2)
    started = asyncio.Event()
    holding = 0

    async def hold() -> int:
        nonlocal holding
        async with engine.connect() as conn:
            pid = int(await conn.scalar(sa.text("SELECT pg_backend_pid()")) or 0)
            holding += 1
            if holding == 4:
                started.set()
            await asyncio.wait_for(started.wait(), timeout=10)
            return pid

    try:
        pids = await asyncio.gather(*(hold() for _ in range(4)))
    finally:
        await engine.dispose()
    assert len(set(pids)) == 4


async def test_engine_fixture_matches_dialect(engine: AsyncEngine, dialect: str) -> None:
    assert engine.dialect.name == dialect
