"""Freshdesk client paging against the fake over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from providers.base import make_provider
from providers.fake_testing import FAST_POLICY as TEST_POLICY
from providers.fake_testing import RunningFake, VirtualSleep
from providers.freshdesk import FreshdeskClient
from providers.http import RetryPolicy
from providers.records import ProviderContact, SkippedRecord


def _client(fake: RunningFake, vsleep: VirtualSleep) -> FreshdeskClient:
    client = make_provider(fake.config(), policy=TEST_POLICY, sleep=vsleep)
    assert isinstance(client, FreshdeskClient)
    return client


def _add_contacts(fake: RunningFake, count: int, prefix: str = "Person") -> None:
    for i in range(count):
        fake.store.create_contact(
            {"name": f"{prefix} {i:04d}", "email": f"p{i}@acme-corp.io"}, admin=True
        )


def _queries(fake: RunningFake) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(p).query) for p in fake.faults.paths("/api/v2/contacts")]


@pytest.mark.asyncio
async def test_pages_250_contacts_with_link_header(
    start_fake: Callable[..., RunningFake], vsleep: VirtualSleep
) -> None:
    fake = start_fake("freshdesk")
    _add_contacts(fake, 250)
    client = _client(fake, vsleep)
    sizes: list[int] = []
    ids: list[int] = []
    async for page in client.iter_contacts():
        sizes.append(len(page))
        ids.extend(row["id"] for row in page)
    await client.aclose()
    assert sizes == [100, 100, 50]
    assert sorted(ids) == sorted(fake.store.contacts)
    assert len(set(ids)) == 250
    queries = _queries(fake)
    assert len(queries) == 3
    assert all(q["per_page"] == ["100"] for q in queries)
    assert [q.get("page", ["1"])[0] for q in queries] == ["1", "2", "3"]
    assert vsleep.waits == []


@pytest.mark.asyncio
async def test_last_page_exactly_per_page_stops_without_link(
    start_fake: Callable[..., RunningFake], vsleep: VirtualSleep
) -> None:
    fake = start_fake("freshdesk")
    _add_contacts(fake, 200)
    client = _client(fake, vsleep)
    sizes = [len(page) async for page in client.iter_contacts()]
    await client.aclose()
    assert sizes == [100, 100]
    assert len(fake.faults.paths("/api/v2/contacts")) == 2


@pytest.mark.asyncio
async def test_fake_rejects_per_page_over_100(start_fake: Callable[..., RunningFake]) -> None:
    fake = start_fake("freshdesk", contacts=10)
    async with httpx.AsyncClient() as raw:
        response = await raw.get(
            f"{fake.url}/api/v2/contacts",
            params={"per_page": 101},
            auth=("fake-freshdesk-key", "X"),
        )
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == "per_page"
        legacy = await raw.get(
            f"{fake.url}/api/v2/contacts",
            params={"_updated_since": "2000-01-01T00:00:00Z"},
            auth=("fake-freshdesk-key", "X"),
        )
        assert legacy.status_code == 200


@pytest.mark.asyncio
async def test_contact_records_flag_blocked_and_deleted(
    start_fake: Callable[..., RunningFake], vsleep: VirtualSleep
) -> None:
    fake = start_fake("freshdesk", contacts=400, seed=7)
    client = _client(fake, vsleep)
    records: dict[str, ProviderContact] = {}
    skipped: list[SkippedRecord] = []
    async for page in client.iter_contact_records(None, include_deleted=True):
        for item in page:
            if isinstance(item, SkippedRecord):
                skipped.append(item)
            else:
                assert item.external_id not in records
                records[item.external_id] = item
    await client.aclose()
    states = {str(c.id): c.state for c in fake.store.contacts.values()}
    assert {k for k, s in states.items() if s == "blocked"} == {
        k for k, r in records.items() if r.blocked
    }
    assert {k for k, s in states.items() if s == "deleted"} == {
        k for k, r in records.items() if r.deleted
    }
    assert set(records) | {s.external_id for s in skipped} == set(states)
    assert all(s.reason == "no name and no email" for s in skipped)
    assert client.server_time_at_start is not None
    queries = _queries(fake)
    assert {q.get("state", [""])[0] for q in queries} == {"", "blocked", "deleted"}


async def _live_ids(client: FreshdeskClient, since: datetime | None = None) -> list[str]:
    ids: list[str] = []
    async for page in client.iter_contact_records(since, include_deleted=False):
        ids.extend(i.external_id for i in page if isinstance(i, ProviderContact) and not i.blocked)
    await client.aclose()
    return ids


@pytest.mark.asyncio
async def test_insert_before_current_page_is_found_by_the_next_differential_run(
    start_fake: Callable[..., RunningFake], vsleep: VirtualSleep
) -> None:
    fake = start_fake("freshdesk")
    fake.clock.freeze(1_800_000_000)
    _add_contacts(fake, 350, prefix="Member")
    fake.clock.advance(600)
    fake.faults.inject(
        "mutate",
        on_request=3,
        action={"op": "create", "record": {"name": "Aaron Aardvark", "email": "aaron@zoo.io"}},
    )
    client = _client(fake, vsleep)
    client.recheck_passes = 0
    first_run = await _live_ids(client)
    new_id = str(max(fake.store.contacts))
    assert new_id not in first_run, "inserted before the current page: missed this run"
    assert len(first_run) == len(set(first_run)) == 350
    assert client.contact_stats.duplicates == 1
    start = client.server_time_at_start
    assert start is not None and int(start.timestamp()) == 1_800_000_600
    assert client.next_since == start

    fake.clock.advance(60)
    found = await _live_ids(_client(fake, vsleep), start - timedelta(minutes=5))
    assert found == [new_id]


@pytest.mark.asyncio
async def test_delete_before_current_page_triggers_a_second_pass(
    start_fake: Callable[..., RunningFake], vsleep: VirtualSleep
) -> None:
    """A row deleted mid-run shifts the next page back by one; the recheck pass finds it."""
    fake = start_fake("freshdesk")
    fake.clock.freeze(1_800_000_000)
    _add_contacts(fake, 350, prefix="Member")
    fake.clock.advance(600)
    expected = {str(i) for i in fake.store.contacts} - {"5"}
    fake.faults.inject("mutate", on_request=3, action={"op": "delete", "id": 5})

    single = _client(fake, vsleep)
    single.recheck_passes = 0
    once = set(await _live_ids(single))
    assert len(expected - once) == 1, "without a recheck one shifted row is lost"

    fake.store.set_state(5, "live")
    fake.faults.inject("mutate", after=3, action={"op": "delete", "id": 5})
    client = _client(fake, vsleep)
    ids = await _live_ids(client)
    assert expected <= set(ids)
    assert client.contact_stats.repasses == 1


@pytest.mark.asyncio
async def test_10k_contacts_under_20_per_minute_in_virtual_time(
    start_fake: Callable[..., RunningFake],
) -> None:
    fake = start_fake("freshdesk", contacts=10_000, seed=11, rate_limit_per_minute=20)
    fake.clock.freeze(1_800_000_000)
    waits: list[float] = []

    async def advance_fake_clock(seconds: float) -> None:
        waits.append(seconds)
        fake.clock.advance(int(seconds))

    policy = RetryPolicy(max_attempts=3, max_total_wait=3_600.0)
    client = make_provider(fake.config(), policy=policy, sleep=advance_fake_clock)
    assert isinstance(client, FreshdeskClient)
    ids: list[str] = []
    skipped = 0
    async for page in client.iter_contact_records(None, include_deleted=True):
        for item in page:
            if isinstance(item, ProviderContact):
                ids.append(item.external_id)
            else:
                skipped += 1
    await client.aclose()
    assert len(ids) == len(set(ids))
    assert len(ids) + skipped == 10_000
    served = len(fake.faults.paths("/api/v2/contacts")) - fake.faults.rate_limit.rejected
    assert served >= 100
    assert fake.faults.rate_limit.rejected == len(waits) > 0
    assert sum(waits) >= 60 * (served // 20 - 1)
    assert all(w <= 60 for w in waits)
