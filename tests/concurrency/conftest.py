"""Helpers for the concurrency tests: connections that are not the app's, and lock polling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine


@pytest.fixture
async def outside_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine of another process's making (not the app's), for holding locks."""
    engine = create_async_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def outsider(outside_engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One connection outside the app."""
    async with outside_engine.connect() as conn:
        yield conn


async def wait_for_app_lock_wait(watcher: AsyncEngine, count: int = 1) -> None:
    """Poll pg_stat_activity (10 s deadline) until ``count`` app backends wait on a lock."""
    deadline = time.monotonic() + 10
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'contacts-gateway' "
        "AND wait_event_type = 'Lock' AND datname = current_database()"
    )
    while True:
        async with watcher.connect() as conn:
            waiting = int(await conn.scalar(query) or 0)
        if waiting >= count:
            return
        assert time.monotonic() < deadline, "the request never came to wait on the lock"
        await asyncio.sleep(0.005)
