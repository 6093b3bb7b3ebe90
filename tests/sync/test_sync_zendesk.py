"""Zendesk sync over real HTTP (fake Zendesk on 127.0.0.1) through the v1 API."""

from __future__ import annotations

from collections.abc import Callable

from providers.fake_testing import RunningFake, VirtualSleep
from providers.records import ProviderContact
from providers.zendesk_mapping import map_zendesk_user
from tests.conftest import Api
from tests.sync.conftest import all_contacts, configure, contact_total, sync


def live_end_users(fake: RunningFake) -> dict[str, ProviderContact]:
    mapped = {}
    for user in fake.store.users.values():
        item = map_zendesk_user(fake.store.render_user(user))
        if isinstance(item, ProviderContact) and not (item.deleted or item.blocked):
            mapped[item.external_id] = item
    return mapped


async def test_empty_page_before_end_of_stream_does_not_stop_the_export(
    api: Api, start_fake: Callable[..., RunningFake], vsleep: VirtualSleep
) -> None:
    # Every 2nd page of the cursor export is [] with end_of_stream false (1000 a page).
    zd = start_fake("zendesk", contacts=1001, empty_page_every=2)
    await configure(api, zd)
    run = await sync(api)
    assert run["status"] == "completed", run
    expected = live_end_users(zd)
    assert run["created"] == len(expected)
    assert run["skipped_reasons"].get("role agent", 0) + run["skipped_reasons"].get(
        "role admin", 0
    ) == sum(1 for u in zd.store.users.values() if u.role != "end-user")
    user_pages = zd.faults.paths("/api/v2/incremental/users/cursor")
    assert len(user_pages) >= 3  # a full page, an empty one, the rest
    emails = sorted(c["email"] or "" for c in await all_contacts(api))
    assert emails == sorted(c.email or "" for c in expected.values())
    again = await sync(api)
    assert (again["created"], again["updated"]) == (0, 0)


async def test_zendesk_deletions_and_email_already_linked(
    api: Api, start_fake: Callable[..., RunningFake], vsleep: VirtualSleep
) -> None:
    zd = start_fake("zendesk")
    past = zd.clock.now() - 7200
    for i in range(6):
        zd.store.create_user(
            {"id": 100 + i, "name": f"User {i}", "email": f"u{i}@zd.io", "updated_at": past}
        )
    await configure(api, zd)
    first = await sync(api, "full")
    assert first["created"] == 6
    ids = {c["email"]: c["id"] for c in await all_contacts(api)}
    zd.clock.advance(120)
    zd.store.delete_user(100)  # active: false
    zd.store.delete_user(101, permanent=True)  # email nulled, "Permanently Deleted User"
    # A second user upstream with an email another linked contact already has: a merge.
    zd.store.create_user({"id": 200, "name": "Dup", "email": "u2@zd.io"})
    zd.clock.advance(120)
    run = await sync(api)
    assert run["status"] == "completed", run
    assert run["deleted"] == 2
    assert run["skipped_reasons"]["email already linked to another external id"] == 1
    contacts = await all_contacts(api)
    assert sorted(c["email"] for c in contacts) == ["u2@zd.io", "u3@zd.io", "u4@zd.io", "u5@zd.io"]
    assert await contact_total(api) == 4
    assert (await api.get(f"/api/v2/contacts/{ids['u1@zd.io']}")).status_code == 404
    # Reactivated upstream: the same contact comes back, its email kept.
    zd.store.update_user(100, {"active": True})
    zd.clock.advance(120)
    back = await sync(api)
    assert back["updated"] == 1 and back["created"] == 0
    got = await api.get(f"/api/v2/contacts/{ids['u0@zd.io']}")
    assert got.status_code == 200 and got.json()["email"] == "u0@zd.io"


async def test_zendesk_wrong_token_fails_clearly(
    api: Api, start_fake: Callable[..., RunningFake], vsleep: VirtualSleep
) -> None:
    zd = start_fake("zendesk", contacts=20)
    await api.put(
        "/api/v1/contacts/settings", json={"provider": {**zd.config(), "api_token": "nope"}}
    )
    run = await sync(api)
    assert run["status"] == "failed"
    assert run["error"].startswith("Zendesk rejected the credentials (HTTP 401)")
    assert await contact_total(api) == 0
