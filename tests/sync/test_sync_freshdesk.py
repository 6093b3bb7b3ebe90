"""Freshdesk sync over real HTTP (fake Freshdesk on 127.0.0.1) through the v1 API: faults,
cursors, reconciliation, matching and malformed data."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from providers.fake_testing import RunningFake, VirtualSleep
from tests.conftest import Api
from tests.sync.conftest import all_contacts, configure, contact_total, sync


def populate(fake: RunningFake, count: int, prefix: str = "Contact", start: int = 0) -> None:
    """``count`` valid contacts named ``{prefix} 0000``… updated an hour ago."""
    past = fake.clock.now() - 3_600
    for i in range(start, start + count):
        fake.store.create_contact(
            {"name": f"{prefix} {i:04d}", "email": f"c{i}@acme-corp.io", "updated_at": past},
            admin=True,
        )


def contact_queries(fake: RunningFake) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(p).query) for p in fake.faults.paths("/api/v2/contacts")]


def live_listing_pages(fake: RunningFake) -> list[str]:
    """The `page` of every request of the live contacts listing (not the state= listings)."""
    return [
        q.get("page", ["1"])[0]
        for q in contact_queries(fake)
        if "state" not in q and q.get("per_page") == ["100"]
    ]


@pytest.fixture
def fd(start_fake: Callable[..., RunningFake]) -> RunningFake:
    return start_fake("freshdesk")


async def test_429_with_retry_after_mid_pagination_waits_and_refetches_the_page(
    api: Api, fd: RunningFake, vsleep: VirtualSleep
) -> None:
    populate(fd, 350)
    await configure(api, fd)
    # request 1 lists companies, 2 is contacts page 1, 3 is page 2: rate-limit page 3 of 4.
    fd.faults.inject("429", retry_after="7", path="/api/v2/contacts", after=4)
    run = await sync(api)
    assert run["status"] == "completed", run
    assert run["created"] == 350 and run["failed"] == 0
    assert 7.0 in vsleep.waits
    assert run["stats"]["retries"] >= 1
    pages = live_listing_pages(fd)
    assert pages.count("3") == 2, pages  # the same page asked again after the wait
    emails = [c["email"] for c in await all_contacts(api)]
    assert len(emails) == len(set(emails)) == 350  # no loss, no duplicates
    assert await contact_total(api) == 350


async def test_429_without_header_or_with_plain_text_body_backs_off_by_default(
    api: Api, fd: RunningFake, vsleep: VirtualSleep
) -> None:
    populate(fd, 250)
    await configure(api, fd)
    fd.faults.inject("429_text", path="/api/v2/contacts", after=2)
    fd.faults.inject("429", path="/api/v2/contacts", after=4)
    run = await sync(api)
    assert run["status"] == "completed", run
    assert run["created"] == 250
    assert vsleep.waits.count(60.0) == 2  # the default wait when no Retry-After is given
    assert len({c["email"] for c in await all_contacts(api)}) == 250


async def test_500_500_200_recovers(api: Api, fd: RunningFake, vsleep: VirtualSleep) -> None:
    populate(fd, 150)
    await configure(api, fd)
    fd.faults.inject("500", times=2, path="/api/v2/contacts", after=2)
    run = await sync(api)
    assert run["status"] == "completed", run
    assert run["created"] == 150
    assert run["stats"]["retries"] == 2
    assert len(vsleep.waits) == 2


async def test_persistent_5xx_fails_the_run_keeps_the_cursor_and_deletes_nothing(
    api: Api, fd: RunningFake, vsleep: VirtualSleep
) -> None:
    populate(fd, 120)
    await configure(api, fd)
    first = await sync(api, "full")
    assert first["status"] == "completed" and first["created"] == 120
    settings_before = (await api.get("/api/v1/contacts/settings")).json()
    for contact_id in list(fd.store.contacts)[:5]:
        fd.store.hard_delete(contact_id)
    fd.faults.inject("500", times=None, path="/api/v2/contacts", after=1)
    failed = await sync(api, "full")
    assert failed["status"] == "failed"
    assert "Freshdesk" in failed["error"] and "gave up" in failed["error"]
    assert failed["deleted"] == 0
    assert await contact_total(api) == 120
    assert len(await all_contacts(api)) == 120
    settings_after = (await api.get("/api/v1/contacts/settings")).json()
    assert settings_after["last_synced_at"] == settings_before["last_synced_at"]
    # The next differential run still starts from the first run's cursor.
    fd.faults.clear()
    queries_before = len(contact_queries(fd))
    again = await sync(api)
    assert again["status"] == "completed"
    since = {
        q["updated_since"][0]
        for q in contact_queries(fd)[queries_before:]
        if "updated_since" in q and q.get("per_page") == ["100"]
    }
    assert len(since) == 1
    # cursor (first run's provider clock) minus the 10-minute overlap: before the failed run.
    since_at = datetime.fromisoformat(since.pop().replace("Z", "+00:00"))
    failed_at = datetime.fromisoformat(failed["started_at"].replace("Z", "+00:00"))
    assert since_at + timedelta(minutes=10) < failed_at
    history = (await api.get("/api/v1/contacts/sync-history")).json()
    assert [r["status"] for r in history["data"]] == ["completed", "failed", "completed"]


async def test_contact_inserted_mid_run_before_the_current_page_is_found_by_the_next_run(
    api: Api, fd: RunningFake, vsleep: VirtualSleep
) -> None:
    populate(fd, 350)
    await configure(api, fd)
    first = await sync(api)
    assert first["created"] == 350

    def insert_early_row() -> None:
        fd.store.create_contact({"name": "Aaron Early", "email": "aaron@early.io"})

    # While the next run reads page 3, a row appears that sorts onto page 1.
    fd.store.update_contact(1, {"name": "Contact 0000 renamed"})
    fd.faults.inject("mutate", path="/api/v2/contacts", after=4, hook=insert_early_row)
    await sync(api)
    third = await sync(api)
    assert third["status"] == "completed"
    emails = [c["email"] for c in await all_contacts(api)]
    assert "aaron@early.io" in emails
    assert len(emails) == len(set(emails)) == 351
    names = {c["name"] for c in await all_contacts(api)}
    assert "Contact 0000 renamed" in names


async def test_same_second_updated_at_at_the_cursor_boundary_is_not_lost(
    api: Api, app: Any, fd: RunningFake, vsleep: VirtualSleep
) -> None:
    # No overlap window: the cursor boundary itself must be inclusive.
    app.state.sync_options = replace(app.state.sync_options, overlap=timedelta(0))
    fd.clock.freeze()
    fd.store.create_contact({"name": "Before Boundary", "email": "before@b.io"})
    await configure(api, fd)
    first = await sync(api)
    assert first["created"] == 1
    # Same provider second as the first run's cursor.
    fd.store.create_contact({"name": "At Boundary", "email": "at@b.io"})
    second = await sync(api)
    assert second["status"] == "completed"
    assert second["created"] == 1 and second["updated"] == 0
    assert second["skipped_reasons"].get("unchanged", 0) >= 1
    third = await sync(api)
    assert (third["created"], third["updated"]) == (0, 0)
    assert sorted(c["email"] for c in await all_contacts(api)) == ["at@b.io", "before@b.io"]


async def test_full_mode_tombstones_deleted_blocked_and_vanished_contacts_and_revives_them(
    api: Api, fd: RunningFake, vsleep: VirtualSleep
) -> None:
    populate(fd, 40)
    await configure(api, fd)
    await sync(api, "full")
    by_email = {c["email"]: c for c in await all_contacts(api)}
    soft, blocked, hard = 1, 2, 3
    fd.store.set_state(soft, "deleted")
    fd.store.set_state(blocked, "blocked")
    fd.store.hard_delete(hard)
    run = await sync(api, "full")
    assert run["status"] == "completed", run
    assert run["deleted"] == 3 and run["created"] == 0
    assert await contact_total(api) == 37
    remaining = {c["email"] for c in await all_contacts(api)}
    gone = {"c0@acme-corp.io", "c1@acme-corp.io", "c2@acme-corp.io"}
    assert not remaining & gone
    soft_id = by_email["c0@acme-corp.io"]["id"]
    assert (await api.get(f"/api/v2/contacts/{soft_id}")).status_code == 404
    # Reappearance upstream revives the same contact (same id, so its activity too).
    fd.store.set_state(soft, "live")
    revived = await sync(api)
    assert revived["created"] == 0 and revived["updated"] == 1
    got = await api.get(f"/api/v2/contacts/{soft_id}")
    assert got.status_code == 200 and got.json()["email"] == "c0@acme-corp.io"
    assert await contact_total(api) == 38


async def test_full_run_aborted_midway_deletes_nothing(
    api: Api, fd: RunningFake, vsleep: VirtualSleep
) -> None:
    populate(fd, 250)
    await configure(api, fd)
    await sync(api, "full")
    for contact_id in list(fd.store.contacts)[:10]:
        fd.store.hard_delete(contact_id)
    fd.faults.inject("500", times=None, path="/api/v2/contacts", after=3)
    run = await sync(api, "full")
    assert run["status"] == "failed" and run["deleted"] == 0
    assert await contact_total(api) == 250
    fd.faults.clear()
    healed = await sync(api, "full")
    assert healed["status"] == "completed" and healed["deleted"] == 10
    assert await contact_total(api) == 240


async def test_reconciliation_refuses_to_delete_more_than_half(
    api: Api, fd: RunningFake, vsleep: VirtualSleep
) -> None:
    populate(fd, 10)
    await configure(api, fd)
    await sync(api, "full")
    for contact_id in list(fd.store.contacts)[:6]:
        fd.store.hard_delete(contact_id)
    run = await sync(api, "full")
    assert run["status"] == "failed"
    assert "reconciliation aborted" in run["error"] and "6 of the 10" in run["error"]
    assert run["deleted"] == 0
    assert await contact_total(api) == 10


async def test_locally_created_contacts_are_never_touched(
    api: Api, fd: RunningFake, vsleep: VirtualSleep
) -> None:
    local = (
        await api.post("/api/v2/contacts", json={"name": "Local Only", "tags": ["vip"]})
    ).json()
    populate(fd, 20)
    await configure(api, fd)
    await sync(api, "full")
    for contact_id in list(fd.store.contacts)[:5]:
        fd.store.hard_delete(contact_id)
    run = await sync(api, "full")
    assert run["deleted"] == 5
    after = (await api.get(f"/api/v2/contacts/{local['id']}")).json()
    assert after == local
    assert await contact_total(api) == 16


async def test_email_collision_with_an_unlinked_local_contact_links_it(
    api: Api, fd: RunningFake, vsleep: VirtualSleep
) -> None:
    local = (
        await api.post("/api/v2/contacts", json={"name": "Old Name", "email": "C3@Acme-Corp.io"})
    ).json()
    populate(fd, 10)
    await configure(api, fd)
    run = await sync(api)
    assert run["status"] == "completed"
    assert run["created"] == 9 and run["updated"] == 1
    contacts = await all_contacts(api)
    assert len(contacts) == 10 == await contact_total(api)
    linked = [c for c in contacts if c["email"].lower() == "c3@acme-corp.io"]
    assert [c["id"] for c in linked] == [local["id"]]
    assert linked[0]["name"] == "Contact 0003"
    again = await sync(api)
    assert (again["created"], again["updated"]) == (0, 0)


async def test_malformed_records_are_skipped_and_counted(
    api: Api, fd: RunningFake, vsleep: VirtualSleep
) -> None:
    populate(fd, 5)
    now = "2026-01-01T10:00:00Z"
    bad = [
        {"id": None, "name": "No Id", "updated_at": now},
        {"id": 9001, "name": "Bad Time", "email": "t@x.io", "updated_at": "yesterday"},
        {"id": 9002, "name": "Odd Tags", "email": "o@x.io", "updated_at": now, "tags": "vip"},
        {"id": 9003, "name": 42, "email": "n@x.io", "updated_at": now},
        {"id": 9004, "name": None, "email": None, "updated_at": now},
    ]
    for i, raw in enumerate(bad):
        fd.store.create_contact({"id": 8000 + i, "name": f"raw {i}", "raw": raw}, admin=True)
    await configure(api, fd)
    run = await sync(api)
    assert run["status"] == "completed", run
    assert run["created"] == 5
    malformed = {k: v for k, v in run["skipped_reasons"].items() if k.startswith("malformed")}
    assert sum(malformed.values()) == 5, run["skipped_reasons"]
    assert run["skipped"] >= 5
    assert await contact_total(api) == 5


async def test_wrong_credentials_fail_fast_with_a_clear_reason_and_change_nothing(
    api: Api, fd: RunningFake, vsleep: VirtualSleep
) -> None:
    populate(fd, 5)
    response = await api.put(
        "/api/v1/contacts/settings", json={"provider": {**fd.config(), "api_key": "wrong"}}
    )
    assert response.status_code == 200
    run = await sync(api)
    assert run["status"] == "failed"
    assert run["error"].startswith("Freshdesk rejected the credentials (HTTP 401)")
    assert (run["created"], run["updated"], run["deleted"]) == (0, 0, 0)
    assert fd.faults.requests == 1  # no retry storm
    assert vsleep.waits == []
    assert await contact_total(api) == 0
    assert (await api.get("/api/v1/contacts/settings")).json()["last_synced_at"] is None


async def test_two_concurrent_sync_requests_one_gets_409(
    api: Api, fd: RunningFake, vsleep: VirtualSleep
) -> None:
    populate(fd, 50)
    await configure(api, fd)
    fd.faults.inject("slow", delay=0.5, path="/api/v2/companies", after=1)
    first = asyncio.create_task(api.post("/api/v1/contacts/sync"))
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        history = (await api.get("/api/v1/contacts/sync-history")).json()["data"]
        if history and history[0]["status"] == "running":
            break
        assert asyncio.get_running_loop().time() < deadline, "the first run never started"
        await asyncio.sleep(0.01)
    second = await api.post("/api/v1/contacts/sync", params={"mode": "full"})
    assert second.status_code == 409, second.text
    assert second.json()["code"] == "conflict"
    assert "already running" in second.json()["detail"]
    done = await first
    assert done.status_code == 200 and done.json()["created"] == 50
    assert (await api.get("/api/v1/contacts/sync-history")).json()["total"] == 1


async def test_companies_are_synced_linked_and_cleared_when_deleted_upstream(
    api: Api, fd: RunningFake, vsleep: VirtualSleep
) -> None:
    acme = fd.store.create_company(
        {"name": "Acme", "domains": ["Acme.io"], "tags": ["key"]}, admin=True
    )
    other = fd.store.create_company({"name": "Other", "domains": []}, admin=True)
    fd.store.create_contact({"name": "Ann", "email": "ann@acme.io", "company_id": acme.id})
    fd.store.create_contact({"name": "Bob", "email": "bob@other.io", "company_id": other.id})
    await configure(api, fd)
    run = await sync(api)
    assert run["companies"]["created"] == 2
    companies = {c["name"]: c for c in (await api.get("/api/v2/companies")).json()["data"]}
    assert companies["Acme"]["domain"] == "acme.io" and companies["Acme"]["tags"] == ["key"]
    contacts = {c["name"]: c for c in await all_contacts(api)}
    assert contacts["Ann"]["company_id"] == companies["Acme"]["id"]
    fd.store.delete_company(acme.id)
    full = await sync(api, "full")
    assert full["status"] == "completed", full
    assert full["companies"]["deleted"] == 1
    contacts = {c["name"]: c for c in await all_contacts(api)}
    assert contacts["Ann"]["company_id"] is None
    assert contacts["Bob"]["company_id"] == companies["Other"]["id"]


async def test_a_429_storm_beyond_the_waiting_budget_fails_the_run(
    api: Api, fd: RunningFake, vsleep: VirtualSleep
) -> None:
    populate(fd, 150)
    await configure(api, fd)
    fd.faults.inject("429", retry_after="400", times=None, path="/api/v2/contacts", after=2)
    run = await sync(api)
    assert run["status"] == "failed"
    assert "Freshdesk: gave up after" in run["error"] and "budget" in run["error"]
    assert sum(vsleep.waits) <= 900  # the default cap on total waiting
    assert run["created"] == 0 and await contact_total(api) == 0
    assert (await api.get("/api/v1/contacts/settings")).json()["last_synced_at"] is None


async def test_a_connection_reset_mid_page_is_retried(
    api: Api, fd: RunningFake, vsleep: VirtualSleep
) -> None:
    populate(fd, 250)
    await configure(api, fd)
    fd.faults.inject("reset", path="/api/v2/contacts", after=3)
    run = await sync(api)
    assert run["status"] == "completed", run
    assert run["created"] == 250 and run["stats"]["retries"] == 1
