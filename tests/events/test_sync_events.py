"""A sync writes contact events (and sync.completed) in the transactions of its batches."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from providers.fake_testing import RunningFake, VirtualSleep
from tests.conftest import Api
from tests.events.conftest import outbox_rows
from tests.sync.conftest import configure, settings, start_fake, sync, vsleep  # noqa: F401


async def test_sync_emits_created_updated_deleted_and_completed(
    api: Api,
    engine: AsyncEngine,
    start_fake: Callable[..., RunningFake],  # noqa: F811
    vsleep: VirtualSleep,  # noqa: F811
) -> None:
    fake = start_fake("freshdesk", contacts=0)
    ann = fake.store.create_contact({"name": "Ann", "email": "ann@a.io"})
    bob = fake.store.create_contact({"name": "Bob", "email": "bob@b.io"})
    fake.store.create_contact({"name": "Cy", "email": "cy@c.io"})
    await configure(api, fake)
    first = await sync(api, "full")
    assert first["status"] == "completed" and first["created"] == 3

    rows = await outbox_rows(engine)
    created = [r for r in rows if r["type"] == "contact.created"]
    assert sorted(r["payload"]["object"]["name"] for r in created) == ["Ann", "Bob", "Cy"]
    contacts = {c["id"]: c for c in (await api.get("/api/v2/contacts")).json()["data"]}
    for r in created:  # the object as the API returns it
        assert r["payload"]["object"] == contacts[r["object_id"]]
    assert rows[-1]["type"] == "sync.completed" and rows[-1]["object_id"] == first["id"]

    fake.store.update_contact(ann.id, {"name": "Ann Renamed"})
    fake.store.hard_delete(bob.id)
    second = await sync(api, "full")
    assert second["status"] == "completed" and second["updated"] == 1 and second["deleted"] == 1
    new = (await outbox_rows(engine))[len(rows) :]
    by_type = {r["type"]: r for r in new}
    assert set(by_type) == {"contact.updated", "contact.deleted", "sync.completed"}
    updated = by_type["contact.updated"]
    assert updated["payload"]["changed_fields"] == {"name": "Ann"}
    assert updated["payload"]["object"]["name"] == "Ann Renamed"
    deleted = by_type["contact.deleted"]
    assert deleted["payload"]["object"] == {"id": deleted["object_id"]}
    assert contacts[deleted["object_id"]]["name"] == "Bob"
