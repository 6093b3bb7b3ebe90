"""Fixtures for the safety tests: apps built with lowered limits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_gateway.app import create_app
from contacts_gateway.settings import Settings

ClientMaker = Callable[..., Any]


@pytest.fixture
async def client_with(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> AsyncIterator[ClientMaker]:
    """``await client_with(rate_limit_burst=3, ...)`` → an httpx client of an app with those settings."""
    async with AsyncExitStack() as stack:

        async def make(
            *, client: tuple[str, int] = ("127.0.0.1", 50000), **overrides: Any
        ) -> httpx.AsyncClient:
            settings = Settings(
                database_url=database_url,
                data_dir=tmp_path / "data",
                allow_private_urls=True,
                **overrides,
            )
            app = create_app(settings, engine=engine)
            stack.push_async_callback(app.state.limiter.close)
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=client)
            return await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://testserver")
            )

        yield make
