"""Test helpers for code that talks to the fake providers: virtual sleep and running fakes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from providers.fake_common import FakeClock
from providers.fake_faults import FaultInjector
from providers.fake_server import FakeProvider, ThreadedServer, build_fake
from providers.http import RetryPolicy

FAST_POLICY = RetryPolicy(
    max_attempts=5,
    base_delay=1.0,
    max_delay=8.0,
    max_total_wait=600.0,
    default_retry_after=60.0,
    timeout=5.0,
)


class VirtualSleep:
    """An injectable `sleep` that records waits instead of sleeping; can drive a fake clock."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.waits: list[float] = []
        self.clock = clock

    async def __call__(self, seconds: float) -> None:
        """Record the wait (and move the fake provider's clock forward, if one is attached)."""
        self.waits.append(seconds)
        if self.clock is not None:
            self.clock.advance(round(seconds))

    @property
    def total(self) -> float:
        """Sum of all recorded waits, in seconds."""
        return sum(self.waits)


class RunningFake:
    """A fake provider served over real HTTP on 127.0.0.1 (store, faults and clock exposed)."""

    def __init__(self, fake: FakeProvider, server: ThreadedServer) -> None:
        self.fake = fake
        self.server = server
        self.url = server.url
        self.store: Any = fake.store
        self.faults: FaultInjector = fake.faults
        self.clock: FakeClock = fake.clock

    def config(self) -> dict[str, Any]:
        """Provider settings (API-contract shape) pointing at this fake."""
        return self.fake.provider_config(self.url)


@contextmanager
def running_fake(
    kind: str, contacts: int = 0, seed: int = 1, **options: Any
) -> Iterator[RunningFake]:
    """Start a fake `kind` provider on a free loopback port for the duration of the block."""
    fake = build_fake(kind, contacts, seed, **options)
    server = ThreadedServer(fake.app).start()
    try:
        yield RunningFake(fake, server)
    finally:
        server.stop()
