"""Fixtures of the activity, attachments and custom fields tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_gateway.app import create_app
from contacts_gateway.settings import Settings
from resolvers.scopes import CONFIG_WRITE, CONTACTS_READ, CONTACTS_WRITE
from tests.conftest import Api, KeyMaker

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
WHEN = "2026-01-15T10:00:00Z"


def blob_dir(settings: Settings) -> Path:
    """Where the app under test keeps attachment bytes."""
    return settings.blob_dir or settings.data_dir / "blobs"


def blob_files(settings: Settings) -> list[Path]:
    """Every file in the blob directory (staging files included)."""
    root = blob_dir(settings)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def make_activity(api: Api, contact_id: str, **fields: Any) -> dict[str, Any]:
    body = {"type": "conversation", "occurred_at": WHEN, **fields}
    response = await api.post(f"/api/v2/contacts/{contact_id}/activity", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def upload(
    api: Api,
    contact_id: str,
    content: bytes = PNG,
    filename: str = "photo.png",
    activity_id: str | None = None,
    content_type: str = "application/octet-stream",
) -> httpx.Response:
    data = {"activity_id": activity_id} if activity_id is not None else None
    return await api.post(
        f"/api/v2/contacts/{contact_id}/attachments",
        files={"file": (filename, content, content_type)},
        data=data,
    )


@pytest.fixture
async def reader(make_key: KeyMaker, client: httpx.AsyncClient) -> Api:
    """A contacts:read-only caller of ``acme``."""
    return Api(client, await make_key("acme", scopes=[CONTACTS_READ]))


@pytest.fixture
async def writer(make_key: KeyMaker, client: httpx.AsyncClient) -> Api:
    """A contacts:write-only caller of ``acme`` (no read)."""
    return Api(client, await make_key("acme", scopes=[CONTACTS_WRITE]))


@pytest.fixture
async def configurer(make_key: KeyMaker, client: httpx.AsyncClient) -> Api:
    """A config:write-only caller of ``acme``."""
    return Api(client, await make_key("acme", scopes=[CONFIG_WRITE]))


@pytest.fixture
async def anonymous(client: httpx.AsyncClient) -> Api:
    return Api(client, None)


@pytest.fixture
def small_app_factory(settings: Settings, engine: AsyncEngine) -> Callable[[int], Any]:
    """An app like ``app`` but with another upload limit (same database, same blob dir)."""

    def build(max_upload_bytes: int) -> Any:
        return create_app(
            settings.model_copy(update={"max_upload_bytes": max_upload_bytes}), engine=engine
        )

    return build


@pytest.fixture
async def limited_api(small_app_factory: Callable[[int], Any], key: str) -> AsyncIterator[Api]:
    """A caller of an app whose upload limit is 4096 bytes."""
    transport = httpx.ASGITransport(app=small_app_factory(4096), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield Api(c, key)
