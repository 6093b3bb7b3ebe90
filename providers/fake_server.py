"""Run a fake provider: from the shell with uvicorn, or in a background thread for tests."""

from __future__ import annotations

import argparse
import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette

from providers.fake_common import FakeClock
from providers.fake_faults import FaultInjector
from providers.fake_freshdesk import FreshdeskStore, create_freshdesk_app
from providers.fake_zendesk import ZendeskStore, create_zendesk_app

KINDS = ("freshdesk", "zendesk")
FRESHDESK_API_KEY = "fake-freshdesk-key"
ZENDESK_EMAIL = "admin@fake-zendesk.io"
ZENDESK_TOKEN = "fake-zendesk-token"


@dataclass(slots=True)
class FakeProvider:
    """A built fake: its ASGI app, store, fault injector, and the settings a client needs."""

    kind: str
    app: Starlette
    store: FreshdeskStore | ZendeskStore
    faults: FaultInjector
    clock: FakeClock

    def provider_config(self, base_url: str) -> dict[str, Any]:
        """Return the `provider` settings dict (API contract shape) pointing at `base_url`."""
        if self.kind == "freshdesk":
            return {
                "type": "freshdesk",
                "domain": "fake.freshdesk.com",
                "api_key": FRESHDESK_API_KEY,
                "base_url": base_url,
            }
        return {
            "type": "zendesk",
            "subdomain": "fake",
            "email": ZENDESK_EMAIL,
            "api_token": ZENDESK_TOKEN,
            "base_url": base_url,
        }


def build_fake(
    kind: str,
    contacts: int = 0,
    seed: int = 1,
    *,
    companies: int | None = None,
    clock: FakeClock | None = None,
    empty_page_every: int = 4,
    rate_limit_per_minute: int | None = None,
) -> FakeProvider:
    """Build a fake provider with `contacts` generated people (deterministic by `seed`)."""
    clock = clock or FakeClock()
    faults = FaultInjector()
    faults.rate_limit.per_minute = rate_limit_per_minute
    if kind == "freshdesk":
        fd_store = FreshdeskStore(clock=clock)
        if contacts or companies:
            fd_store.generate(contacts, seed, companies)
        app = create_freshdesk_app(fd_store, api_key=FRESHDESK_API_KEY, faults=faults)
        return FakeProvider(kind, app, fd_store, faults, clock)
    if kind == "zendesk":
        zd_store = ZendeskStore(clock=clock, empty_page_every=empty_page_every)
        if contacts or companies:
            zd_store.generate(contacts, seed, companies)
        app = create_zendesk_app(
            zd_store, email=ZENDESK_EMAIL, api_token=ZENDESK_TOKEN, faults=faults
        )
        return FakeProvider(kind, app, zd_store, faults, clock)
    raise ValueError(f"kind must be one of {', '.join(KINDS)}")


def _config(app: Starlette, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        date_header=False,
        server_header=False,
    )


def listening_socket(host: str, port: int) -> socket.socket:
    """Bind a TCP socket with TCP_NODELAY (without it loopback requests stall ~40 ms)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


class ThreadedServer:
    """Serve an ASGI app over real HTTP on a free loopback port from a background thread."""

    def __init__(
        self, app: Starlette, host: str = "127.0.0.1", log_level: str = "critical"
    ) -> None:
        self.app = app
        self.host = host
        self._sock = listening_socket(host, 0)
        self.port: int = self._sock.getsockname()[1]
        self._server = uvicorn.Server(_config(app, host, self.port, log_level))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. `http://127.0.0.1:54321`."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ThreadedServer:
        """Start serving; return once the server accepts connections."""
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._sock])),
            name=f"fake-provider-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fake provider server did not start")
            time.sleep(0.005)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to exit and wait for its thread."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> ThreadedServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)


def run_fake_provider(
    kind: str,
    host: str = "127.0.0.1",
    port: int = 8081,
    contacts: int = 1000,
    seed: int = 1,
    *,
    rate_limit_per_minute: int | None = None,
) -> None:
    """Serve a fake `kind` provider with `contacts` generated people until interrupted."""
    fake = build_fake(kind, contacts, seed, rate_limit_per_minute=rate_limit_per_minute)
    base = f"http://{host}:{port}"
    print(f"fake {kind} on {base} with {contacts} contacts (seed {seed})")
    print(f"provider settings: {fake.provider_config(base)}")
    print("admin: POST /__faults, /__clock, /__ratelimit; GET /__stats")
    server = uvicorn.Server(_config(fake.app, host, port, "info"))
    sock = listening_socket(host, port)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        sock.close()


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: `python -m providers.fake_server freshdesk --port 8081`."""
    parser = argparse.ArgumentParser(description="Serve a fake Freshdesk or Zendesk.")
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate-limit", type=int, default=None, help="requests per minute")
    args = parser.parse_args(argv)
    run_fake_provider(
        args.kind,
        args.host,
        args.port,
        args.contacts,
        args.seed,
        rate_limit_per_minute=args.rate_limit,
    )


if __name__ == "__main__":
    main()
