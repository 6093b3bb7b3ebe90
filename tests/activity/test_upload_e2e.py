"""Uploads over real sockets: a refused upload (413 while the client is still sending) leaves
nothing, an accepted one streams back byte for byte."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from contacts_gateway.app import create_app
from contacts_gateway.settings import Settings
from tests.conftest import KeyMaker
from tests.faults._server import free_port

LIMIT = 256 * 1024
BOUNDARY = "e2e-boundary"


def _body(size: int) -> Iterator[bytes]:
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'
    ).encode()
    block = bytes(range(256)) * 256  # 64 KiB
    sent = 0
    while sent < size:
        piece = block[: min(len(block), size - sent)]
        sent += len(piece)
        yield piece
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def _exercise(base_url: str, key: str, blobs: Path) -> None:
    with httpx.Client(base_url=base_url, headers={"X-API-Key": key}, timeout=30) as client:
        contact = client.post("/api/v2/contacts", json={"name": "E2E"}).json()
        url = f"/api/v2/contacts/{contact['id']}/attachments"
        headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        # Chunked, 16x the limit: refused by the upload body limit while streaming.
        refused = client.post(url, content=_body(16 * LIMIT), headers=headers)
        assert refused.status_code == 413, refused.text
        # One byte over the file limit, inside the allowed body: refused while writing.
        over = client.post(url, content=b"".join(_body(LIMIT + 1)), headers=headers)
        assert over.status_code == 413, over.text
        assert over.json()["errors"][0]["field"] == "file"
        assert not blobs.exists() or list(blobs.iterdir()) == []
        ok = client.post(url, content=_body(LIMIT), headers=headers)
        assert ok.status_code == 201, ok.text
        expected = hashlib.sha256(b"".join(list(_body(LIMIT))[1:-1])).hexdigest()
        assert ok.json()["sha256"] == expected and ok.json()["size"] == LIMIT
        with client.stream("GET", ok.json()["download_url"]) as download:
            digest = hashlib.sha256()
            for piece in download.iter_bytes():
                digest.update(piece)
        assert digest.hexdigest() == expected
        assert [p.name for p in blobs.iterdir()] == [ok.json()["id"]]
        assert client.get(url).json()["total"] == 1


@pytest.mark.e2e
async def test_upload_limits_over_real_http(
    settings: Settings, tmp_path: Path, make_key: KeyMaker
) -> None:
    key = await make_key("acme")
    blobs = tmp_path / "e2e-blobs"
    app = create_app(
        settings.model_copy(
            update={"blob_dir": blobs, "max_upload_bytes": LIMIT, "scheduler_enabled": False}
        )
    )  # its own engine, made in the server's event loop
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_config=None, lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        await asyncio.sleep(0.02)
    try:
        base_url = f"http://127.0.0.1:{server.config.port}"
        await asyncio.to_thread(_exercise, base_url, key, blobs)
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 15)
