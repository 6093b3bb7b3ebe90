"""Events are written with the change, in the same transaction, and describe it exactly."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db.queries.events import outbox
from db.uow import UnitOfWork
from resolvers import contacts
from resolvers.context import RequestContext
from resolvers.keys import authenticate
from tests.conftest import Api
from tests.events.conftest import delivery_rows, outbox_rows


def _types(rows: list[dict[str, Any]]) -> list[str]:
    return [r["type"] for r in rows]


async def test_contact_lifecycle_events_carry_the_api_object(api: Api, engine: AsyncEngine) -> None:
    co = (await api.post("/api/v2/companies", json={"name": "Acme", "domain": "acme.com"})).json()
    r = await api.post(
        "/api/v2/contacts",
        json={"name": "Ann", "email": "ann@acme.com", "company_id": co["id"], "tags": ["vip"]},
    )
    created = r.json()
    r = await api.patch(f"/api/v2/contacts/{created['id']}", json={"name": "Anna", "tags": []})
    updated = r.json()
    before_erasure = await outbox_rows(engine)
    assert (await api.delete(f"/api/v2/contacts/{created['id']}")).status_code == 204

    rows = before_erasure + (await outbox_rows(engine))[len(before_erasure) :]
    assert _types(rows) == [
        "company.created",
        "contact.created",
        "contact.updated",
        "contact.deleted",
    ]
    account = rows[0]["account_id"]
    assert all(r["id"].startswith("evt_") and r["account_id"] == account for r in rows)
    c_created, c_updated, c_deleted = rows[1:]
    # The object exactly as the API returned it.
    assert c_created["payload"] == {"account": account, "version": 1, "object": created}
    assert c_created["version"] == created["version"] == 1
    assert c_updated["payload"]["object"] == updated
    assert c_updated["payload"]["version"] == updated["version"] == 2
    # changed_fields: every field that changed, with its PREVIOUS value; nothing else.
    assert c_updated["payload"]["changed_fields"] == {"name": "Ann", "tags": ["vip"]}
    # An erased contact: nothing beyond its id.
    assert c_deleted["payload"] == {
        "account": account,
        "version": 3,
        "object": {"id": created["id"]},
    }
    assert c_deleted["object_id"] == created["id"]
    # The erasure also cut the earlier events about the person down to id and version.
    after = {r["id"]: r["payload"] for r in await outbox_rows(engine)}
    assert after[c_created["id"]] == {
        "account": account,
        "version": 1,
        "object": {"id": created["id"]},
    }
    assert after[c_updated["id"]] == {
        "account": account,
        "version": 2,
        "object": {"id": created["id"]},
    }
    # Commit order: strictly increasing sequence numbers.
    seqs = [r["seq"] for r in rows]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


async def test_company_delete_and_restore_are_their_own_events(
    api: Api, engine: AsyncEngine
) -> None:
    co = (await api.post("/api/v2/companies", json={"name": "Acme"})).json()
    await api.patch(f"/api/v2/companies/{co['id']}", json={"domain": "acme.com"})
    await api.delete(f"/api/v2/companies/{co['id']}")
    await api.delete(f"/api/v2/companies/{co['id']}")  # already deleted: no change, no event
    restored = (await api.post(f"/api/v2/companies/{co['id']}/restore")).json()
    await api.post(f"/api/v2/companies/{co['id']}/restore")  # not deleted: no event

    rows = await outbox_rows(engine)
    assert _types(rows) == [
        "company.created",
        "company.updated",
        "company.deleted",
        "company.restored",
    ]
    assert rows[1]["payload"]["changed_fields"] == {"domain": None}
    assert rows[2]["payload"]["object"]["deleted_at"] is not None
    assert rows[3]["payload"]["object"] == restored
    assert rows[3]["payload"]["object"]["deleted_at"] is None
    assert [r["version"] for r in rows] == [1, 2, 3, 4]


async def test_a_failed_change_leaves_no_event(api: Api, engine: AsyncEngine) -> None:
    await api.post("/api/v2/contacts", json={"name": "Ann", "email": "ann@acme.com"})
    # duplicate email → 409; unknown company → 422; bad body → 422; missing → 404
    assert (
        await api.post("/api/v2/contacts", json={"name": "B", "email": "ANN@acme.com"})
    ).status_code == 409
    assert (
        await api.post("/api/v2/contacts", json={"name": "B", "company_id": "co_nope"})
    ).status_code == 422
    assert (await api.patch("/api/v2/contacts/ct_nope", json={"name": "x"})).status_code == 404
    assert (await api.delete("/api/v2/contacts/ct_nope")).status_code == 404
    rows = await outbox_rows(engine)
    assert _types(rows) == ["contact.created"]


async def test_graphql_mutations_events_match_what_was_committed(
    api: Api, engine: AsyncEngine
) -> None:
    body = await api.gql(
        """mutation {
          ok: createContact(input: {name: "Ann", email: "ann@acme.com"}) { id }
          dup: createContact(input: {name: "Bob", email: "ann@acme.com"}) { id }
        }"""
    )
    assert body["errors"][0]["path"] == ["dup"]
    contacts = (await api.get("/api/v2/contacts")).json()["data"]
    rows = await outbox_rows(engine)
    # Exactly one event per committed contact, none for the failed one.
    assert sorted(r["object_id"] for r in rows) == sorted(c["id"] for c in contacts)
    assert all(r["payload"]["object"]["name"] != "Bob" for r in rows)


async def test_an_event_recorded_in_a_savepoint_that_fails_is_undone(
    engine: AsyncEngine, key: str
) -> None:
    principal = await authenticate(engine, key)
    uow = UnitOfWork(engine)
    ctx = RequestContext(uow=uow, principal=principal)
    try:
        kept = await contacts.create_contact(ctx, data={"name": "Kept"})
        with pytest.raises(RuntimeError):
            async with uow.savepoint():
                await contacts.create_contact(ctx, data={"name": "Undone"})
                assert len(await outbox_rows_in(await uow.writer())) == 2
                raise RuntimeError("the mutation fails after its event was written")
        await uow.commit()
    finally:
        await uow.close()
    rows = await outbox_rows(engine)
    assert [r["object_id"] for r in rows] == [kept.id]
    assert len(await delivery_rows(engine)) == 0


async def outbox_rows_in(session: Any) -> list[Any]:
    return list((await session.execute(sa.select(outbox))).all())


async def test_events_are_per_account(api: Api, other_api: Api, engine: AsyncEngine) -> None:
    a = (await api.post("/api/v2/contacts", json={"name": "Ann"})).json()
    b = (await other_api.post("/api/v2/contacts", json={"name": "Bob"})).json()
    rows = await outbox_rows(engine)
    assert {r["object_id"]: r["account_id"] for r in rows}.keys() == {a["id"], b["id"]}
    assert rows[0]["account_id"] != rows[1]["account_id"]
