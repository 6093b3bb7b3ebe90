"""Fixtures for provider tests: fakes over real loopback HTTP and a virtual-time sleep."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from providers.fake_testing import RunningFake, VirtualSleep, running_fake


@pytest.fixture(autouse=True)
def _allow_private_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTACTS_GATEWAY_ALLOW_PRIVATE_URLS", "1")


@pytest.fixture
def vsleep() -> VirtualSleep:
    return VirtualSleep()


@pytest.fixture
def start_fake() -> Iterator[Callable[..., RunningFake]]:
    with ExitStack() as stack:

        def start(kind: str, contacts: int = 0, seed: int = 1, **options: Any) -> RunningFake:
            return stack.enter_context(running_fake(kind, contacts, seed, **options))

        yield start
