"""Fixtures for provider tests: fakes over real loopback HTTP and a virtual-time sleep."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from providers.fake_server import FakeProvider, ThreadedServer, build_fake
from providers.http import RetryPolicy

TEST_POLICY = RetryPolicy(
    max_attempts=5,
    base_delay=1.0,
    max_delay=8.0,
    max_total_wait=600.0,
    default_retry_after=60.0,
    timeout=5.0,
)


class VirtualSleep:
    """Records requested waits instead of sleeping (virtual time)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)

    @property
    def total(self) -> float:
        return sum(self.waits)


class RunningFake:
    """A fake provider served over real HTTP on 127.0.0.1."""

    def __init__(self, fake: FakeProvider, server: ThreadedServer) -> None:
        self.fake = fake
        self.server = server
        self.url = server.url
        self.store: Any = fake.store
        self.faults = fake.faults
        self.clock = fake.clock

    def config(self) -> dict[str, Any]:
        return self.fake.provider_config(self.url)


@pytest.fixture(autouse=True)
def _allow_private_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTACTS_GATEWAY_ALLOW_PRIVATE_URLS", "1")


@pytest.fixture
def vsleep() -> VirtualSleep:
    return VirtualSleep()


@pytest.fixture
def start_fake() -> Iterator[Callable[..., RunningFake]]:
    servers: list[ThreadedServer] = []

    def start(kind: str, contacts: int = 0, seed: int = 1, **options: Any) -> RunningFake:
        fake = build_fake(kind, contacts, seed, **options)
        server = ThreadedServer(fake.app).start()
        servers.append(server)
        return RunningFake(fake, server)

    yield start
    for server in servers:
        server.stop()
