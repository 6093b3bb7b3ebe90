"""Fixtures for events and webhooks: a real receiving HTTP server, an independent Standard
Webhooks verifier, a fast delivery worker, and polling with a deadline."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_gateway.settings import Settings
from contacts_gateway.worker import DeliveryWorker
from db.queries.events import outbox
from db.queries.webhooks import delivery

# ---------------------------------------------------------------- an independent verifier
# Written from the Standard Webhooks specification, not from our code: the signed content is
# "{webhook-id}.{webhook-timestamp}.{body}", HMAC-SHA256 keyed by the base64-decoded part of
# the secret after "whsec_", base64-encoded, prefixed "v1,", space-separated when several.


def standard_webhooks_verify(
    secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300
) -> bool:
    msg_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret[len("whsec_") :])
    to_sign = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, to_sign, hashlib.sha256).digest())
    for part in headers["webhook-signature"].split(" "):
        version, _, sig = part.partition(",")
        if version == "v1" and hmac.compare_digest(sig.encode(), expected):
            return True
    return False


# ---------------------------------------------------------------- a receiving server


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records requests and answers from a script."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    #: Responses to give, in order: (status, headers); then ``default``.
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    default: tuple[int, dict[str, str]] = (200, {})
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_response(self) -> tuple[int, dict[str, str]]:
        with self.lock:
            return self.script.pop(0) if self.script else self.default

    def bodies(self) -> list[dict[str, Any]]:
        import json

        return [json.loads(r.body) for r in self.requests]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            status, headers = receiver.next_response()
            with receiver.lock:
                receiver.requests.append(
                    Received(
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                        time.monotonic(),
                    )
                )
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            return None

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


# ---------------------------------------------------------------- worker and waiting


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    """Delivery settings compressed for tests (the retry schedule in tenths of a second)."""
    return settings.model_copy(
        update={
            "webhook_poll_seconds": 0.05,
            "webhook_retry_schedule": [0.2, 0.4, 0.8],
            "webhook_retry_jitter": 0.0,
            "webhook_timeout_seconds": 3.0,
            "events_poll_seconds": 0.05,
            "allow_private_urls": True,
        }
    )


WorkerMaker = Callable[..., Awaitable[DeliveryWorker]]


@pytest.fixture
async def start_worker(engine: AsyncEngine, fast_settings: Settings) -> AsyncIterator[WorkerMaker]:
    """``await start_worker(**settings_overrides)`` → a running worker (stopped afterwards)."""
    workers: list[DeliveryWorker] = []

    async def start(**overrides: Any) -> DeliveryWorker:
        resolver = overrides.pop("resolver", None)
        worker = DeliveryWorker(
            engine, fast_settings.model_copy(update=overrides), resolver=resolver
        )
        await worker.start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        await worker.stop()


async def eventually(
    check: Callable[[], Any],
    *,
    timeout: float = 10.0,  # noqa: ASYNC109 (a polling helper's deadline)
    interval: float = 0.02,
) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy, or fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


async def outbox_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Every event in the outbox, in sequence order."""
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(outbox).order_by(outbox.c.seq))
        return [dict(r._mapping) for r in rows]


async def delivery_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Every delivery, in sequence order."""
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(delivery).order_by(delivery.c.seq))
        return [dict(r._mapping) for r in rows]
