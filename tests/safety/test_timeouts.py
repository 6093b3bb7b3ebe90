"""Request timeout and database busy: 503 problem+json with Retry-After, and the retry works."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import WRITE_TRANSACTION, make_engine
from tests.rest._support import assert_problem
from tests.safety.conftest import ClientMaker

pytestmark = pytest.mark.asyncio


async def test_slow_request_is_cancelled_with_503_and_nothing_changes(
    client_with: ClientMaker, key: str, engine: AsyncEngine, dialect: str
) -> None:
    headers = {"X-API-Key": key}
    client = await client_with(request_timeout_seconds=0.5)
    created = (await client.post("/api/v2/contacts", json={"name": "A"}, headers=headers)).json()
    url = f"/api/v2/contacts/{created['id']}"
    # Another connection holds the lock the update needs, for longer than the timeout.
    async with engine.connect() as blocker:
        if dialect == "sqlite":
            await (await blocker.execution_options(**WRITE_TRANSACTION)).begin()
        else:
            await blocker.begin()
            await blocker.execute(
                sa.text("SELECT 1 FROM contact WHERE id = :id FOR UPDATE"), {"id": created["id"]}
            )
        slow = await client.patch(url, json={"name": "B"}, headers=headers)
        await blocker.rollback()
    assert_problem(slow, 503, "unavailable")
    assert slow.headers["Retry-After"] == "1"
    assert "cancelled" in slow.json()["detail"]
    assert (await client.get(url, headers=headers)).json()["name"] == "A"
    retry = await client.patch(url, json={"name": "B"}, headers=headers)
    assert retry.status_code == 200 and retry.json()["name"] == "B"


async def test_sqlite_busy_past_the_busy_timeout_is_503_then_retry_succeeds(
    client_with: ClientMaker, key: str, database_url: str, dialect: str, tmp_path
) -> None:
    if dialect != "sqlite":
        pytest.skip("SQLite's write lock and busy timeout (PostgreSQL: see the timeout test)")
    import httpx

    from contacts_gateway.app import create_app
    from contacts_gateway.settings import Settings
    from db.engine import make_engine

    engine = make_engine(database_url, busy_timeout_ms=200)
    app = create_app(
        Settings(database_url=database_url, data_dir=tmp_path, sqlite_busy_timeout_ms=200),
        engine=engine,
    )
    headers = {"X-API-Key": key}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://t",
        ) as client:
            async with engine.connect() as blocker:
                await (await blocker.execution_options(**WRITE_TRANSACTION)).begin()
                busy = await client.post("/api/v2/contacts", json={"name": "A"}, headers=headers)
                await blocker.rollback()
            body = assert_problem(busy, 503, "unavailable")
            assert busy.headers["Retry-After"] == "1" and "busy" in body["detail"]
            retry = await client.post("/api/v2/contacts", json={"name": "A"}, headers=headers)
            assert retry.status_code == 201
            assert (await client.get("/api/v2/contacts", headers=headers)).json()["total"] == 1
    finally:
        await engine.dispose()
        await asyncio.sleep(0)


async def test_the_503_leaves_at_the_deadline_not_after_the_cleanup(
    settings, engine: AsyncEngine, key: str, dialect: str
) -> None:
    """Driven as raw ASGI: the response start must arrive while the lock is still held, i.e.
    before the cancelled request's rollback (e.g. an SQLite statement in its busy handler).
    On SQLite the lock waits are made longer than the test's own wait, so a 503 that came
    only after the cleanup could not arrive in time."""
    from contacts_gateway.app import create_app

    if dialect == "sqlite":
        engine = make_engine(
            engine.url.render_as_string(hide_password=False), busy_timeout_ms=60_000
        )
    app = create_app(settings.model_copy(update={"request_timeout_seconds": 0.3}), engine=engine)
    body = b'{"name": "Late"}'
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "path": "/api/v2/contacts",
        "raw_path": b"/api/v2/contacts",
        "query_string": b"",
        "headers": [
            (b"x-api-key", key.encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "scheme": "http",
        "root_path": "",
    }
    sent: list[dict] = []
    response_started = asyncio.Event()
    delivered = False

    async def receive() -> dict:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)
        if message["type"] == "http.response.start":
            response_started.set()

    async with engine.connect() as blocker:
        if dialect == "sqlite":
            await (await blocker.execution_options(**WRITE_TRANSACTION)).begin()
        else:
            await blocker.begin()
            await blocker.execute(sa.text("LOCK TABLE contact IN EXCLUSIVE MODE"))
        call = asyncio.ensure_future(app(scope, receive, send))
        try:
            # The lock is still held: the 503 cannot be waiting for the cleanup.
            await asyncio.wait_for(response_started.wait(), timeout=10)
        finally:
            await blocker.rollback()
        await call
    if dialect == "sqlite":
        await engine.dispose()
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 503
