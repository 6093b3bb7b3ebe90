"""The whole path over real HTTP: client → uvicorn (this app) → fake Freshdesk, both on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from contacts_gateway.app import create_app
from contacts_gateway.settings import Settings
from providers.fake_server import ThreadedServer
from providers.fake_testing import RunningFake
from tests.conftest import KeyMaker


@pytest.mark.e2e
async def test_sync_over_real_http_end_to_end(
    settings: Settings, make_key: KeyMaker, start_fake: Callable[..., RunningFake]
) -> None:
    fake = start_fake("freshdesk")
    for i in range(30):
        fake.store.create_contact({"name": f"Real {i}", "email": f"real{i}@x.io"})
    key = await make_key("acme")
    fake.faults.inject("429_text", retry_after="1", path="/api/v2/contacts", after=2)
    server = ThreadedServer(create_app(settings))
    async with (
        server,
        httpx.AsyncClient(base_url=server.url, headers={"X-API-Key": key}) as api,
    ):
        put = await api.put("/api/v1/contacts/settings", json={"provider": fake.config()})
        assert put.status_code == 200, put.text
        run = await api.post("/api/v1/contacts/sync", params={"mode": "full"}, timeout=30)
        assert run.status_code == 200, run.text
        assert run.json()["status"] == "completed" and run.json()["created"] == 30
        assert run.json()["stats"]["retries"] == 1
        listed = await api.get("/api/v2/contacts", params={"limit": 100})
        assert listed.json()["total"] == 30
