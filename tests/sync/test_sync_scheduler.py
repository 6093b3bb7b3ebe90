"""Auto-sync: due accounts run once even with several schedulers on one database; the lease."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_gateway.scheduler import SyncScheduler
from db.engine import make_engine
from providers.fake_testing import RunningFake, VirtualSleep
from tests.conftest import Api
from tests.sync.conftest import configure, contact_total, sync


def _populate(fake: RunningFake, count: int) -> None:
    for i in range(count):
        fake.store.create_contact({"name": f"Person {i}", "email": f"p{i}@x.io"})


async def _history(api: Api) -> list[dict[str, Any]]:
    response = await api.get("/api/v1/contacts/sync-history")
    assert response.status_code == 200
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def test_two_schedulers_on_one_database_run_a_due_account_once(
    api: Api,
    app: Any,
    database_url: str,
    start_fake: Callable[..., RunningFake],
    vsleep: VirtualSleep,
) -> None:
    fake = start_fake("freshdesk")
    _populate(fake, 30)
    await configure(api, fake, auto_sync_enabled=True, sync_interval_hours=3)
    fake.faults.inject("slow", delay=0.3, path="/api/v2/companies", after=1)
    engines = [make_engine(database_url) for _ in range(2)]
    try:
        schedulers = [
            SyncScheduler(engine, app.state.sync_options, poll_seconds=60) for engine in engines
        ]
        results = await asyncio.gather(*(s.run_due_once() for s in schedulers))
        assert sorted(len(r) for r in results) == [0, 1]
        history = await _history(api)
        assert len(history) == 1
        assert history[0]["trigger"] == "auto" and history[0]["created"] == 30
        settings = (await api.get("/api/v1/contacts/settings")).json()
        assert settings["last_synced_at"] is not None
        next_due = datetime.fromisoformat(settings["next_due_at"].replace("Z", "+00:00"))
        assert next_due > datetime.now(UTC) + timedelta(hours=2, minutes=59)
        # Not due any more: another round does nothing.
        again = await asyncio.gather(*(s.run_due_once() for s in schedulers))
        assert again == [[], []]
        assert len(await _history(api)) == 1
    finally:
        for engine in engines:
            await engine.dispose()


async def test_background_scheduler_runs_due_accounts_and_stops_cleanly(
    api: Api,
    other_api: Api,
    app: Any,
    engine: AsyncEngine,
    start_fake: Callable[..., RunningFake],
    vsleep: VirtualSleep,
) -> None:
    fake = start_fake("freshdesk")
    _populate(fake, 5)
    await configure(api, fake, auto_sync_enabled=True)
    await configure(other_api, fake, auto_sync_enabled=False)
    scheduler = SyncScheduler(engine, app.state.sync_options, poll_seconds=0.05)
    scheduler.start()
    try:
        deadline = asyncio.get_running_loop().time() + 10
        while not [r for r in await _history(api) if r["status"] == "completed"]:
            assert asyncio.get_running_loop().time() < deadline, "no auto-sync ran"
            await asyncio.sleep(0.02)
    finally:
        await scheduler.stop()
    assert scheduler._task is None
    assert await contact_total(api) == 5
    assert await _history(other_api) == []  # auto-sync disabled there


async def test_an_expired_lease_is_taken_over_and_its_orphaned_run_marked_failed(
    api: Api, engine: AsyncEngine, start_fake: Callable[..., RunningFake], vsleep: VirtualSleep
) -> None:
    fake = start_fake("freshdesk")
    _populate(fake, 3)
    await configure(api, fake)
    first = await sync(api)
    async with engine.begin() as conn:
        account_id = (await conn.execute(sa.text("SELECT account_id FROM sync_run"))).scalar_one()
        past = datetime.now(UTC) - timedelta(hours=1)
        await conn.execute(
            sa.text(
                "INSERT INTO sync_run (id, account_id, provider, mode, trigger, status, created,"
                " updated, skipped, deleted, failed, started_at) VALUES ('sr_orphan', :a,"
                " 'freshdesk', 'manual', 'auto', 'running', 0, 0, 0, 0, 0, :t)"
            ),
            {
                "a": account_id,
                "t": past.replace(tzinfo=None) if engine.dialect.name == "sqlite" else past,
            },
        )
        await conn.execute(
            sa.text(
                "INSERT INTO sync_lease (account_id, holder, acquired_at, expires_at)"
                " VALUES (:a, 'dead-host:1:x', :t, :t)"
            ),
            {
                "a": account_id,
                "t": past.replace(tzinfo=None) if engine.dialect.name == "sqlite" else past,
            },
        )
    run = await sync(api)
    assert run["status"] == "completed" and run["id"] != first["id"]
    orphan = next(r for r in await _history(api) if r["id"] == "sr_orphan")
    assert orphan["status"] == "failed" and "interrupted" in orphan["error"]


async def test_a_live_lease_of_another_process_is_409(
    api: Api, engine: AsyncEngine, start_fake: Callable[..., RunningFake], vsleep: VirtualSleep
) -> None:
    fake = start_fake("freshdesk")
    await configure(api, fake)
    await sync(api)
    async with engine.begin() as conn:
        account_id = (await conn.execute(sa.text("SELECT account_id FROM sync_run"))).scalar_one()
        future = datetime.now(UTC) + timedelta(minutes=5)
        now = datetime.now(UTC)
        sqlite = engine.dialect.name == "sqlite"
        await conn.execute(
            sa.text(
                "INSERT INTO sync_lease (account_id, holder, acquired_at, expires_at)"
                " VALUES (:a, 'other-replica:7:y', :n, :t)"
            ),
            {
                "a": account_id,
                "n": now.replace(tzinfo=None) if sqlite else now,
                "t": future.replace(tzinfo=None) if sqlite else future,
            },
        )
    response = await api.post("/api/v1/contacts/sync")
    assert response.status_code == 409
    assert len(await _history(api)) == 1


async def test_the_app_lifespan_runs_the_scheduler_when_enabled(
    api: Api,
    settings: Any,
    engine: AsyncEngine,
    start_fake: Callable[..., RunningFake],
) -> None:
    from contacts_gateway.app import create_app

    fake = start_fake("freshdesk")
    _populate(fake, 4)
    await configure(api, fake, auto_sync_enabled=True)
    serving = create_app(
        settings.model_copy(update={"scheduler_enabled": True, "scheduler_poll_seconds": 0.05}),
        engine=engine,
    )
    async with serving.router.lifespan_context(serving):
        deadline = asyncio.get_running_loop().time() + 10
        while not [r for r in await _history(api) if r["status"] == "completed"]:
            assert asyncio.get_running_loop().time() < deadline, "the lifespan ran no auto-sync"
            await asyncio.sleep(0.02)
    history = await _history(api)
    assert len(history) == 1 and history[0]["trigger"] == "auto"
