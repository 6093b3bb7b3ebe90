"""Fixtures for sync tests: the app with virtual provider waits, fakes over real HTTP, helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from contacts_gateway.settings import Settings
from providers.fake_server import ThreadedServer, build_fake
from providers.fake_testing import RunningFake, VirtualSleep
from tests.conftest import Api

SECRET = "test-secret-key-for-sync"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        allow_private_urls=True,
        secret_key=SECRET,
        scheduler_enabled=False,
        sync_retry_wait_scale=0.0,
        sync_max_attempts=6,
        sync_batch_size=50,
        rate_limit_enabled=False,
    )


@pytest.fixture
def vsleep(app: Any) -> VirtualSleep:
    """Provider waits are recorded here instead of slept (virtual time)."""
    sleeper = VirtualSleep()
    app.state.sync_options = replace(app.state.sync_options, sleep=sleeper)
    return sleeper


@pytest.fixture
def start_fake() -> Iterator[Callable[..., RunningFake]]:
    """``start_fake("freshdesk", contacts=50)`` → a fake provider on 127.0.0.1 (real HTTP)."""
    servers: list[ThreadedServer] = []

    def start(kind: str, contacts: int = 0, seed: int = 1, **options: Any) -> RunningFake:
        fake = build_fake(kind, contacts, seed, **options)
        server = ThreadedServer(fake.app).start()
        servers.append(server)
        return RunningFake(fake, server)

    yield start
    for server in servers:
        server.stop()


async def configure(api: Api, fake: RunningFake, **extra: Any) -> dict[str, Any]:
    """Point the account's sync settings at ``fake``."""
    response = await api.put("/api/v1/contacts/settings", json={"provider": fake.config(), **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def sync(api: Api, mode: str = "manual", status: int = 200) -> dict[str, Any]:
    """Run a sync through the API and return the run record."""
    response = await api.post("/api/v1/contacts/sync", params={"mode": mode})
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def all_contacts(api: Api) -> list[dict[str, Any]]:
    """Every contact the API lists for the account."""
    items: list[dict[str, Any]] = []
    offset = 0
    while True:
        response = await api.get("/api/v2/contacts", params={"limit": 100, "offset": offset})
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["data"])
        if len(page["data"]) < 100:
            return items
        offset += 100


async def contact_total(api: Api) -> int:
    """The unfiltered total (the account's counter)."""
    response = await api.get("/api/v2/contacts", params={"limit": 1})
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total
