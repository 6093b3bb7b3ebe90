"""Deadlocks and serialization failures are retried; busy databases answer 503, never 500.

The deadlocks are real: a connection outside the app holds one row lock, waits until the
request holds another and waits for the first, then asks for the request's lock.
PostgreSQL aborts the request's transaction (its deadlock_timeout is the shorter), and the
whole request must run again and succeed, with nothing of the failed attempt kept.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contacts_gateway.app import create_app, engine_for
from contacts_gateway.settings import Settings
from db import retry
from db.uow import UnitOfWork
from tests.concurrency.conftest import wait_for_app_lock_wait
from tests.conftest import Api

CREATE_THEN_MOVE = """
mutation($email: String!, $id: ID!, $company: ID!) {
  first: createContact(input: {name: "First", email: $email}) { id }
  second: updateContact(id: $id, input: {companyId: $company}) { id company { id } }
}
"""


@pytest.fixture
def postgres_only(dialect: str) -> None:
    if dialect != "postgresql":
        pytest.skip("deadlocks and serialization failures are PostgreSQL's (SQLite: one writer)")


async def _contact_and_company(api: Api) -> tuple[str, str]:
    contact = await api.post("/api/v2/contacts", json={"name": "Mover"})
    company = await api.post("/api/v2/companies", json={"name": "Dest"})
    assert contact.status_code == company.status_code == 201
    return contact.json()["id"], company.json()["id"]


async def _deadlock_against(
    outsider: AsyncConnection, watcher: AsyncEngine, contact_id: str, company_id: str, request: Any
) -> httpx.Response:
    """Run ``request`` (it locks the contact, then needs the company) into a deadlock."""
    await outsider.execute(sa.text("SET LOCAL deadlock_timeout = '30s'"))  # the app is the victim
    await outsider.execute(
        sa.text("SELECT 1 FROM company WHERE id = :id FOR UPDATE"), {"id": company_id}
    )
    task = asyncio.create_task(request)
    await wait_for_app_lock_wait(watcher)  # the request holds the contact, waits for the company
    await outsider.execute(
        sa.text("SELECT 1 FROM contact WHERE id = :id FOR UPDATE"), {"id": contact_id}
    )  # returns once PostgreSQL has aborted the request's transaction
    await outsider.commit()
    return await task


async def test_deadlocked_rest_request_is_retried(
    postgres_only: None,
    api: Api,
    outsider: AsyncConnection,
    outside_engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    contact_id, company_id = await _contact_and_company(api)
    with caplog.at_level(logging.WARNING, logger="contacts_gateway.retry"):
        response = await _deadlock_against(
            outsider,
            outside_engine,
            contact_id,
            company_id,
            api.patch(f"/api/v2/contacts/{contact_id}", json={"company_id": company_id}),
        )
    assert response.status_code == 200, response.text
    assert response.json()["company_id"] == company_id
    assert any("retrying" in r.getMessage() for r in caplog.records), "no deadlock happened"


async def test_deadlocked_graphql_document_is_rerun_whole(
    postgres_only: None,
    api: Api,
    outsider: AsyncConnection,
    outside_engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first mutation succeeded before the second deadlocked: it is not committed twice."""
    contact_id, company_id = await _contact_and_company(api)
    with caplog.at_level(logging.WARNING, logger="contacts_gateway.retry"):
        response = await _deadlock_against(
            outsider,
            outside_engine,
            contact_id,
            company_id,
            api.post(
                "/graphql",
                json={
                    "query": CREATE_THEN_MOVE,
                    "variables": {
                        "email": "once@example.com",
                        "id": contact_id,
                        "company": company_id,
                    },
                },
            ),
        )
    assert any("retrying" in r.getMessage() for r in caplog.records), "no deadlock happened"
    body = response.json()
    # Had the first attempt committed "first", the re-run would answer a 409 conflict.
    assert "errors" not in body, body
    assert body["data"]["second"]["company"]["id"] == company_id
    listed = await api.get("/api/v2/contacts", params={"search": "once@example.com"})
    assert listed.json()["total"] == 1


@pytest.fixture
async def no_retry_api(settings: Settings, engine: AsyncEngine, key: str) -> AsyncIterator[Api]:
    """The app with retries switched off (CONTACTS_GATEWAY_DB_RETRY_ATTEMPTS=1)."""
    app = create_app(settings.model_copy(update={"db_retry_attempts": 1}), engine=engine)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Api(client, key)


async def test_deadlock_without_retries_left_is_503_not_500(
    postgres_only: None, no_retry_api: Api, outsider: AsyncConnection, outside_engine: AsyncEngine
) -> None:
    """REST: a 503 problem with Retry-After; GraphQL: a 503 too, never a 200 claiming writes."""
    api = no_retry_api
    contact_id, company_id = await _contact_and_company(api)
    response = await _deadlock_against(
        outsider,
        outside_engine,
        contact_id,
        company_id,
        api.patch(f"/api/v2/contacts/{contact_id}", json={"company_id": company_id}),
    )
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.json()["code"] == "unavailable"

    response = await _deadlock_against(
        outsider,
        outside_engine,
        contact_id,
        company_id,
        api.post(
            "/graphql",
            json={
                "query": CREATE_THEN_MOVE,
                "variables": {
                    "email": "never@example.com",
                    "id": contact_id,
                    "company": company_id,
                },
            },
        ),
    )
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    listed = await api.get("/api/v2/contacts", params={"search": "never@example.com"})
    assert listed.json()["total"] == 0  # the first mutation was rolled back with the rest
    got = await api.get(f"/api/v2/contacts/{contact_id}")
    assert got.json()["company_id"] is None


async def test_run_in_transaction_retries_a_serialization_failure(
    postgres_only: None, engine: AsyncEngine, outside_engine: AsyncEngine, api: Api
) -> None:
    """REPEATABLE READ + a concurrent committed update = 40001; the helper runs it all again."""
    created = await api.post("/api/v2/contacts", json={"name": "Counter"})
    contact_id = created.json()["id"]
    runs: list[int] = []

    async def work(uow: UnitOfWork) -> int:
        session = await uow.writer()
        await session.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        version = int(
            await session.scalar(
                sa.text("SELECT version FROM contact WHERE id = :id"), {"id": contact_id}
            )
        )
        runs.append(version)
        if len(runs) == 1:  # someone else commits after our snapshot was taken
            async with outside_engine.begin() as other:
                await other.execute(
                    sa.text("UPDATE contact SET version = version + 10 WHERE id = :id"),
                    {"id": contact_id},
                )
        await session.execute(
            sa.text("UPDATE contact SET version = :v WHERE id = :id"),
            {"v": version + 1, "id": contact_id},
        )
        return version + 1

    result = await retry.run_in_transaction(engine, work)
    assert runs == [1, 11]  # the second run saw the other's commit
    assert result == 12
    async with engine.connect() as conn:
        stored = await conn.scalar(
            sa.text("SELECT version FROM contact WHERE id = :id"), {"id": contact_id}
        )
    assert stored == 12


async def test_run_in_transaction_gives_up_after_its_attempts(
    postgres_only: None, engine: AsyncEngine, outside_engine: AsyncEngine, api: Api
) -> None:
    created = await api.post("/api/v2/contacts", json={"name": "Counter"})
    contact_id = created.json()["id"]

    async def always_conflicting(uow: UnitOfWork) -> None:
        session = await uow.writer()
        await session.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        await session.execute(
            sa.text("SELECT version FROM contact WHERE id = :id"), {"id": contact_id}
        )
        async with outside_engine.begin() as other:
            await other.execute(
                sa.text("UPDATE contact SET version = version + 1 WHERE id = :id"),
                {"id": contact_id},
            )
        await session.execute(
            sa.text("UPDATE contact SET name = 'x' WHERE id = :id"), {"id": contact_id}
        )

    with pytest.raises(sa.exc.DBAPIError) as raised:
        await retry.run_in_transaction(
            engine, always_conflicting, policy=retry.RetryPolicy(attempts=2)
        )
    assert retry.sqlstate_of(raised.value) == "40001"
    got = await api.get(f"/api/v2/contacts/{contact_id}")
    assert got.json()["name"] == "Counter" and got.json()["version"] == 3


async def test_statement_timeout_is_503(
    postgres_only: None,
    settings: Settings,
    key: str,
    api: Api,
    outsider: AsyncConnection,
    outside_engine: AsyncEngine,
) -> None:
    """A request stuck behind a lock longer than db_statement_timeout_ms gets 503, not 500."""
    contact_id, _ = await _contact_and_company(api)
    quick = settings.model_copy(update={"db_statement_timeout_ms": 200})
    engine = engine_for(quick)
    app = create_app(quick, engine=engine)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        await outsider.execute(
            sa.text("SELECT 1 FROM contact WHERE id = :id FOR UPDATE"), {"id": contact_id}
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await Api(client, key).patch(
                f"/api/v2/contacts/{contact_id}", json={"name": "Late"}
            )
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
    finally:
        await outsider.rollback()
        await engine.dispose()
    assert (await api.get(f"/api/v2/contacts/{contact_id}")).json()["name"] == "Mover"


async def test_sqlite_busy_beyond_busy_timeout_is_503(
    dialect: str, settings: Settings, key: str, database_url: str
) -> None:
    """Another process holds SQLite's write lock past sqlite_busy_timeout_ms: 503 + Retry-After."""
    if dialect != "sqlite":
        pytest.skip("SQLite's busy timeout")
    impatient = settings.model_copy(update={"sqlite_busy_timeout_ms": 50})
    engine = engine_for(impatient)
    app = create_app(impatient, engine=engine)
    path = Path(sa.make_url(database_url).database or "")
    holder = sqlite3.connect(path, isolation_level=None)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            api = Api(client, key)
            # First use of the key records last_used_at (a write); do it before the lock.
            assert (await api.get("/api/v2/contacts")).status_code == 200
            holder.execute("BEGIN IMMEDIATE")
            busy = await api.post("/api/v2/contacts", json={"name": "Blocked"})
            assert busy.status_code == 503, busy.text
            assert busy.headers["retry-after"] == "1"
            assert busy.headers["content-type"].startswith("application/problem+json")
            assert busy.json()["code"] == "unavailable"
            gql = await api.post(
                "/graphql",
                json={"query": 'mutation { createContact(input: {name: "G"}) { id } }'},
            )
            assert gql.json()["errors"][0]["extensions"]["code"] == "unavailable", gql.text
            # Reads are not blocked by a writer in WAL mode.
            assert (await api.get("/api/v2/contacts")).status_code == 200
            holder.execute("ROLLBACK")
            done = await api.post("/api/v2/contacts", json={"name": "Blocked"})
            assert done.status_code == 201, done.text
    finally:
        holder.close()
        await engine.dispose()
