"""Zendesk client against the fake over real HTTP: cursor export, roles, organizations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from providers.base import make_provider
from providers.fake_server import ZENDESK_EMAIL, ZENDESK_TOKEN
from providers.fake_testing import FAST_POLICY as TEST_POLICY
from providers.fake_testing import RunningFake, VirtualSleep
from providers.records import ProviderCompany, ProviderContact, SkippedRecord
from providers.zendesk import ZendeskClient
from resolvers.errors import ProviderAuthError, ProviderError

NOW = 1_800_000_000


def _client(fake: RunningFake, vsleep: VirtualSleep, page_size: int | None = None) -> ZendeskClient:
    client = make_provider(fake.config(), policy=TEST_POLICY, sleep=vsleep)
    assert isinstance(client, ZendeskClient)
    client.page_size = page_size
    return client


def _user(uid: int, updated_at: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": uid,
        "name": f"User {uid}",
        "email": f"user{uid}@acme-corp.io",
        "role": "end-user",
        "updated_at": updated_at,
        **extra,
    }


@pytest.fixture
def zd(start_fake: Callable[..., RunningFake]) -> RunningFake:
    fake = start_fake("zendesk", empty_page_every=3)
    fake.clock.freeze(NOW)
    return fake


@pytest.mark.asyncio
async def test_empty_page_before_end_of_stream_does_not_stop(
    zd: RunningFake, vsleep: VirtualSleep
) -> None:
    for uid in range(1, 36):
        zd.store.create_user(_user(uid, NOW - 10_000 + uid))
    client = _client(zd, vsleep, page_size=5)
    pages = [page async for page in client.iter_users(datetime(2020, 1, 1, tzinfo=UTC))]
    await client.aclose()
    sizes = [len(p) for p in pages]
    first_empty = sizes.index(0)
    assert any(sizes[first_empty + 1 :]), f"an empty page came before more data: {sizes}"
    ids = [u["id"] for p in pages for u in p]
    assert sorted(ids) == list(range(1, 36))
    assert client.after_cursor is not None
    calls = zd.faults.paths("/api/v2/incremental/users/cursor")
    assert "start_time=" in calls[0]
    assert all("cursor=" in c and "start_time" not in c for c in calls[1:])


@pytest.mark.asyncio
async def test_cursor_resume_sees_only_later_changes(zd: RunningFake, vsleep: VirtualSleep) -> None:
    for uid in range(1, 8):
        zd.store.create_user(_user(uid, NOW - 5_000 + uid))
    client = _client(zd, vsleep, page_size=3)
    first = [u["id"] async for p in client.iter_users(None) for u in p]
    cursor = client.after_cursor
    await client.aclose()
    assert client.server_time_at_start == datetime.fromtimestamp(NOW, UTC)
    assert client.next_since == datetime.fromtimestamp(NOW - 61, UTC)
    assert sorted(first) == list(range(1, 8))
    zd.store.update_user(3, {"name": "Renamed", "updated_at": NOW - 1_000})
    zd.store.create_user(_user(50, NOW - 900))
    zd.store.create_user(_user(51, NOW - 10))  # inside the last minute: not yet exported
    again = _client(zd, vsleep, page_size=3)
    second = [u["id"] async for p in again.iter_users(cursor=cursor) for u in p]
    await again.aclose()
    assert second == [3, 50]


@pytest.mark.asyncio
async def test_roles_deleted_and_permanently_deleted_users(
    zd: RunningFake, vsleep: VirtualSleep
) -> None:
    zd.store.create_user(_user(1, NOW - 900, phone="+1 415 253 0123", tags=["vip"]))
    zd.store.create_user(_user(2, NOW - 800, role="agent"))
    zd.store.create_user(_user(3, NOW - 700, role="admin"))
    zd.store.create_user(_user(4, NOW - 600, active=False))
    zd.store.create_user(_user(5, NOW - 500))
    zd.store.delete_user(5, permanent=True)
    zd.store.update_user(5, {"updated_at": NOW - 400})
    zd.store.create_user(_user(6, NOW - 300, organization_id=77, suspended=True))
    client = _client(zd, vsleep)
    items = [i async for p in client.iter_contact_records(None) for i in p]
    await client.aclose()
    contacts = {i.external_id: i for i in items if isinstance(i, ProviderContact)}
    skipped = {i.external_id: i.reason for i in items if isinstance(i, SkippedRecord)}
    assert skipped == {"2": "role agent", "3": "role admin"}
    assert contacts["1"].phone == "+14152530123" and contacts["1"].tags == ["vip"]
    assert contacts["1"].deleted is False
    assert contacts["4"].deleted is True and contacts["4"].email == "user4@acme-corp.io"
    assert contacts["5"].deleted is True and contacts["5"].email is None
    assert contacts["6"].blocked is True and contacts["6"].company_external_id == "77"
    assert contacts["1"].updated_at == datetime.fromtimestamp(NOW - 900, UTC)


@pytest.mark.asyncio
async def test_too_recent_start_time_is_clamped(zd: RunningFake, vsleep: VirtualSleep) -> None:
    zd.store.create_user(_user(1, NOW - 100))
    async with httpx.AsyncClient() as raw:
        rejected = await raw.get(
            f"{zd.url}/api/v2/incremental/users/cursor",
            params={"start_time": NOW - 5},
            auth=(f"{ZENDESK_EMAIL}/token", ZENDESK_TOKEN),
        )
    assert rejected.status_code == 422
    assert "Too recent start_time" in rejected.json()["description"]
    client = _client(zd, vsleep)
    since = datetime.fromtimestamp(NOW, UTC)
    ids = [u["id"] async for p in client.iter_users(since) for u in p]
    await client.aclose()
    assert ids == [1]
    first = zd.faults.paths("/api/v2/incremental/users/cursor")[1]
    start = int(first.split("start_time=")[1].split("&")[0])
    assert start <= NOW - 60


@pytest.mark.asyncio
async def test_organizations_dedupe_page_overlap(zd: RunningFake, vsleep: VirtualSleep) -> None:
    stamps = [NOW - 9_000 + 10 * (i // 2) for i in range(13)]
    for oid, ts in enumerate(stamps, start=1):
        zd.store.create_organization(
            {"id": oid, "name": f"Org {oid}", "domain_names": [f"Org{oid}.IO"], "updated_at": ts}
        )
    zd.store.delete_organization(13)
    zd.store.organizations[13].updated_at = NOW - 100
    client = _client(zd, vsleep, page_size=5)
    items = [i async for p in client.iter_company_records(None) for i in p]
    await client.aclose()
    companies = [i for i in items if isinstance(i, ProviderCompany)]
    assert sorted(int(c.external_id) for c in companies) == list(range(1, 14))
    assert client.company_stats.duplicates >= 1
    by_id = {c.external_id: c for c in companies}
    assert by_id["1"].domain == "org1.io"
    assert by_id["13"].deleted is True and by_id["12"].deleted is False


@pytest.mark.asyncio
async def test_organizations_next_page_not_advancing_fails_loudly(
    zd: RunningFake, vsleep: VirtualSleep
) -> None:
    for oid in range(1, 9):
        zd.store.create_organization({"id": oid, "name": f"Org {oid}", "updated_at": NOW - 500})
    client = _client(zd, vsleep, page_size=5)
    seen: list[str] = []
    with pytest.raises(ProviderError, match="does not advance"):
        async for page in client.iter_company_records(None):
            seen.extend(i.external_id for i in page if isinstance(i, ProviderCompany))
    await client.aclose()
    assert sorted(seen, key=int) == [str(i) for i in range(1, 9)]
    assert len(zd.faults.paths("/api/v2/incremental/organizations")) <= 3


@pytest.mark.asyncio
async def test_429_in_cursor_export_is_retried(zd: RunningFake, vsleep: VirtualSleep) -> None:
    for uid in range(1, 21):
        zd.store.create_user(_user(uid, NOW - 5_000 + uid))
    zd.faults.inject("429_text", on_request=3, retry_after="11")
    client = _client(zd, vsleep, page_size=4)
    ids = [u["id"] async for p in client.iter_users(None) for u in p]
    await client.aclose()
    assert vsleep.waits == [11.0]
    assert sorted(ids) == list(range(1, 21))


@pytest.mark.asyncio
async def test_zendesk_wrong_token_is_auth_error(zd: RunningFake, vsleep: VirtualSleep) -> None:
    client = make_provider(
        {**zd.config(), "api_token": "nope-token"}, policy=TEST_POLICY, sleep=vsleep
    )
    with pytest.raises(ProviderAuthError):
        async for _ in client.iter_contact_records(None):
            pass
    await client.aclose()
    assert vsleep.waits == []
    assert len(zd.faults.paths("/api")) == 1


@pytest.mark.asyncio
async def test_generated_zendesk_data_maps_cleanly(
    start_fake: Callable[..., RunningFake], vsleep: VirtualSleep
) -> None:
    fake = start_fake("zendesk", contacts=2_500, seed=3)
    client = _client(fake, vsleep)
    items = [i async for p in client.iter_contact_records(None) for i in p]
    await client.aclose()
    assert len(items) == 2_500
    reasons = {i.reason for i in items if isinstance(i, SkippedRecord)}
    assert reasons == {"role agent", "role admin"}
    contacts = [i for i in items if isinstance(i, ProviderContact)]
    assert any(c.deleted and c.email is None for c in contacts)
    assert any(c.phone is not None for c in contacts)
    assert all(c.email is None or c.email == c.email.strip().lower() for c in contacts)


@pytest.mark.asyncio
async def test_provider_clock_behind_ours_reclamps_start_time(
    start_fake: Callable[..., RunningFake], vsleep: VirtualSleep
) -> None:
    fake = start_fake("zendesk", empty_page_every=0)
    provider_now = int(datetime.now(UTC).timestamp()) - 300
    fake.clock.freeze(provider_now)
    fake.store.create_user(_user(1, provider_now - 61))
    fake.store.create_user(_user(2, provider_now - 62))
    client = _client(fake, vsleep)
    ids = [u["id"] async for p in client.iter_users(datetime.now(UTC)) for u in p]
    await client.aclose()
    assert ids == [1]
    calls = fake.faults.paths("/api/v2/incremental/users/cursor")
    assert len(calls) == 2
    second_start = int(calls[1].split("start_time=")[1].split("&")[0])
    assert second_start <= provider_now - 60
