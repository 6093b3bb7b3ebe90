"""Resilience of the fetcher against injected faults, over real HTTP to the fake Freshdesk."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from providers.base import make_provider
from providers.fake_testing import FAST_POLICY as TEST_POLICY
from providers.fake_testing import RunningFake, VirtualSleep
from providers.freshdesk import FreshdeskClient
from providers.http import RetryPolicy
from providers.records import ProviderContact
from resolvers.errors import ProviderAuthError, ProviderError


def _populate(fake: RunningFake, count: int) -> set[str]:
    past = fake.clock.now() - 3_600
    for i in range(count):
        fake.store.create_contact(
            {"name": f"Contact {i:04d}", "email": f"c{i}@acme-corp.io", "updated_at": past},
            admin=True,
        )
    return {str(cid) for cid in fake.store.contacts}


def _client(
    fake: RunningFake, vsleep: VirtualSleep, policy: RetryPolicy = TEST_POLICY, **config: str
) -> FreshdeskClient:
    client = make_provider({**fake.config(), **config}, policy=policy, sleep=vsleep)
    assert isinstance(client, FreshdeskClient)
    return client


async def _collect(client: FreshdeskClient) -> list[str]:
    ids: list[str] = []
    try:
        async for page in client.iter_contact_records(None, include_deleted=False):
            ids.extend(i.external_id for i in page if isinstance(i, ProviderContact))
    finally:
        await client.aclose()
    return ids


def _pages_requested(fake: RunningFake) -> list[str]:
    return [
        parse_qs(urlsplit(p).query).get("page", ["1"])[0]
        for p in fake.faults.paths("/api/v2/contacts")
        if "state=" not in p and "updated_since=" not in p
    ]


@pytest.fixture
def fd(start_fake: Callable[..., RunningFake]) -> RunningFake:
    return start_fake("freshdesk")


@pytest.mark.asyncio
async def test_429_with_retry_after_mid_pagination_refetches_same_page(
    fd: RunningFake, vsleep: VirtualSleep
) -> None:
    expected = _populate(fd, 450)
    fd.faults.inject("429", retry_after="7", on_request=3, times=1)
    ids = await _collect(_client(fd, vsleep))
    assert vsleep.waits == [7.0]
    assert _pages_requested(fd) == ["1", "2", "3", "3", "4", "5"]
    assert len(ids) == len(set(ids)) == 450
    assert set(ids) == expected


@pytest.mark.asyncio
async def test_429_with_http_date_retry_after(fd: RunningFake, vsleep: VirtualSleep) -> None:
    _populate(fd, 120)
    when = datetime.fromtimestamp(fd.clock.now(), UTC) + timedelta(seconds=30)
    fd.faults.inject("429", retry_after=format_datetime(when, usegmt=True), on_request=2)
    ids = await _collect(_client(fd, vsleep))
    assert len(vsleep.waits) == 1 and 28.0 <= vsleep.waits[0] <= 31.0
    assert len(set(ids)) == 120


@pytest.mark.asyncio
async def test_429_without_header_and_plain_text_body_uses_default(
    fd: RunningFake, vsleep: VirtualSleep
) -> None:
    _populate(fd, 250)
    fd.faults.inject("429_text", on_request=2, times=1)
    ids = await _collect(_client(fd, vsleep))
    assert vsleep.waits == [TEST_POLICY.default_retry_after]
    assert len(ids) == len(set(ids)) == 250


@pytest.mark.asyncio
async def test_500_500_200_recovers_with_capped_jittered_backoff(
    fd: RunningFake, vsleep: VirtualSleep
) -> None:
    _populate(fd, 250)
    fd.faults.inject("500", on_request=2, times=2)
    ids = await _collect(_client(fd, vsleep))
    assert len(vsleep.waits) == 2
    assert 0.0 <= vsleep.waits[0] <= TEST_POLICY.base_delay
    assert 0.0 <= vsleep.waits[1] <= TEST_POLICY.base_delay * 2
    assert _pages_requested(fd) == ["1", "2", "2", "2", "3"]
    assert len(ids) == len(set(ids)) == 250


@pytest.mark.asyncio
async def test_persistent_500_gives_up_after_max_attempts(
    fd: RunningFake, vsleep: VirtualSleep
) -> None:
    _populate(fd, 250)
    fd.faults.inject("500", on_request=2, times=None)
    with pytest.raises(ProviderError, match="gave up after 5 attempts") as info:
        await _collect(_client(fd, vsleep))
    assert not isinstance(info.value, ProviderAuthError)
    assert len(fd.faults.paths("/api/v2/contacts")) == 1 + TEST_POLICY.max_attempts
    assert len(vsleep.waits) == TEST_POLICY.max_attempts - 1
    assert all(w <= TEST_POLICY.max_delay for w in vsleep.waits)


@pytest.mark.asyncio
async def test_connection_reset_mid_page_is_retried(fd: RunningFake, vsleep: VirtualSleep) -> None:
    _populate(fd, 250)
    fd.faults.inject("reset", on_request=2, times=1)
    ids = await _collect(_client(fd, vsleep))
    assert len(vsleep.waits) == 1
    assert _pages_requested(fd) == ["1", "2", "2", "3"]
    assert len(ids) == len(set(ids)) == 250


@pytest.mark.asyncio
async def test_slow_page_times_out_and_is_retried(fd: RunningFake, vsleep: VirtualSleep) -> None:
    _populate(fd, 150)
    fd.faults.inject("slow", on_request=1, times=1, delay=1.0)
    policy = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=2.0, timeout=0.3)
    ids = await _collect(_client(fd, vsleep, policy))
    assert len(vsleep.waits) == 1
    assert len(ids) == len(set(ids)) == 150


@pytest.mark.asyncio
async def test_401_fails_fast_without_retries_or_secret(
    fd: RunningFake, vsleep: VirtualSleep
) -> None:
    _populate(fd, 10)
    client = _client(fd, vsleep, api_key="wrong-secret-key")
    with pytest.raises(ProviderAuthError) as info:
        await _collect(client)
    assert "401" in info.value.message
    assert "wrong-secret-key" not in str(info.value)
    assert vsleep.waits == []
    assert len(fd.faults.paths("/api")) == 1


@pytest.mark.asyncio
async def test_403_is_an_auth_error_too(fd: RunningFake, vsleep: VirtualSleep) -> None:
    _populate(fd, 10)
    fd.faults.inject("500", status=403, on_request=1, body='{"code":"access_denied"}')
    with pytest.raises(ProviderAuthError, match="403"):
        await _collect(_client(fd, vsleep))
    assert vsleep.waits == []


@pytest.mark.asyncio
async def test_other_4xx_is_fatal_with_status_and_excerpt(
    fd: RunningFake, vsleep: VirtualSleep
) -> None:
    _populate(fd, 10)
    fd.faults.inject("500", status=404, on_request=1, body='{"description":"nothing here"}')
    with pytest.raises(ProviderError, match=r"HTTP 404.*nothing here"):
        await _collect(_client(fd, vsleep))
    assert vsleep.waits == []


@pytest.mark.asyncio
async def test_429_storm_beyond_budget_gives_up(fd: RunningFake, vsleep: VirtualSleep) -> None:
    _populate(fd, 10)
    fd.faults.inject("429", retry_after="100", on_request=1, times=None)
    policy = RetryPolicy(max_attempts=50, max_total_wait=250.0)
    with pytest.raises(ProviderError, match="gave up after 200 s of waiting"):
        await _collect(_client(fd, vsleep, policy))
    assert vsleep.waits == [100.0, 100.0]


@pytest.mark.asyncio
async def test_faults_can_be_injected_over_http(fd: RunningFake, vsleep: VirtualSleep) -> None:
    _populate(fd, 150)
    async with httpx.AsyncClient(base_url=fd.url) as admin:
        added = await admin.post(
            "/__faults", json={"kind": "429", "retry_after": "2", "on_request": 2, "times": 1}
        )
        assert added.status_code == 201
        created = await admin.post(
            "/__faults",
            json={
                "kind": "mutate",
                "on_request": 1,
                "op": "create",
                "record": {"name": "Zed Zulu", "email": "zed@zulu.io"},
            },
        )
        assert created.status_code == 201
        ids = await _collect(_client(fd, vsleep))
        stats = (await admin.get("/__stats")).json()
    assert vsleep.waits == [2.0]
    assert len(set(ids)) == 151
    assert stats["errors"] == []
    assert stats["requests"] == len(fd.faults.paths("/api"))
