"""Manual and full syncs from the fake Freshdesk and Zendesk, over real HTTP, through the API."""

from __future__ import annotations

from collections.abc import Callable

from providers.fake_testing import RunningFake, VirtualSleep
from providers.freshdesk_mapping import map_freshdesk_contact
from providers.records import ProviderContact
from tests.conftest import Api
from tests.sync.conftest import all_contacts, configure, contact_total, sync


def _live_fd(fake: RunningFake) -> dict[str, ProviderContact]:
    """The fake's live contacts as the mapping sees them (malformed ones left out)."""
    mapped = {}
    for c in fake.store.contacts.values():
        item = map_freshdesk_contact(fake.store.render_contact(c))
        if c.state == "live" and isinstance(item, ProviderContact):
            mapped[item.external_id] = item
    return mapped


async def test_first_freshdesk_sync_imports_everything_then_rerun_changes_nothing(
    api: Api, start_fake: Callable[..., RunningFake], vsleep: VirtualSleep
) -> None:
    fake = start_fake("freshdesk", contacts=230)
    await configure(api, fake)
    run = await sync(api)
    live = _live_fd(fake)
    assert run["status"] == "completed", run
    assert run["id"].startswith("sr_")
    assert run["created"] == len(live)
    assert run["failed"] == 0 and run["deleted"] == 0
    contacts = await all_contacts(api)
    assert len(contacts) == len(live) == await contact_total(api)
    assert sorted(c["email"] or "" for c in contacts) == sorted(
        c.email or "" for c in live.values()
    )
    again = await sync(api)
    assert again["status"] == "completed"
    assert (again["created"], again["updated"], again["deleted"]) == (0, 0, 0)
    assert len(await all_contacts(api)) == len(live)
