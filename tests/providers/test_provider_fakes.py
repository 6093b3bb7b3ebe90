"""The fake providers themselves: generation speed, determinism, quirks, admin endpoints."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from providers.fake_freshdesk import FdContact, FreshdeskStore
from providers.fake_server import FRESHDESK_API_KEY, build_fake
from providers.fake_testing import RunningFake


def test_generating_contacts_is_deterministic_by_seed() -> None:
    # Generation speed is measured by bench/sync_100k.py, never asserted in the test run.
    store = build_fake("freshdesk", 10_000, seed=5).store
    assert isinstance(store, FreshdeskStore)
    assert len(store.contacts) == 10_000

    def contact_777(seed: int) -> FdContact:
        small = build_fake("freshdesk", 1_000, seed=seed).store
        assert isinstance(small, FreshdeskStore)
        return small.contacts[777]

    first, again, other = contact_777(5), contact_777(5), contact_777(6)
    assert (again.name, again.email, again.phone) == (first.name, first.email, first.phone)
    assert (other.name, other.email) != (first.name, first.email)


@pytest.mark.asyncio
async def test_freshdesk_fake_quirks_over_http(start_fake: Callable[..., RunningFake]) -> None:
    fake = start_fake("freshdesk", contacts=300, seed=2)
    auth = (FRESHDESK_API_KEY, "X")
    async with httpx.AsyncClient(base_url=fake.url) as http:
        page = await http.get("/api/v2/contacts", params={"per_page": 100}, auth=auth)
        names = [c["name"].lower() for c in page.json()]
        assert names == sorted(names)
        assert page.headers["date"].endswith("GMT")
        assert all(c["updated_at"].endswith("Z") for c in page.json())
        bad = await http.get("/api/v2/contacts", auth=("wrong", "X"))
        assert bad.status_code == 401 and bad.json()["code"] == "invalid_credentials"
        unknown = await http.get("/api/v2/contacts", params={"order_by": "name"}, auth=auth)
        assert unknown.status_code == 400
        created = await http.post(
            "/api/v2/contacts", json={"name": "Dup", "email": "dup@acme-corp.io"}, auth=auth
        )
        assert created.status_code == 201
        dup = await http.post(
            "/api/v2/contacts", json={"name": "Dup 2", "email": "DUP@acme-corp.io"}, auth=auth
        )
        assert dup.status_code == 409
        cid = created.json()["id"]
        assert (await http.delete(f"/api/v2/contacts/{cid}", auth=auth)).status_code == 204
        deleted = await http.get(
            "/api/v2/contacts", params={"state": "deleted", "per_page": 100}, auth=auth
        )
        assert cid in [c["id"] for c in deleted.json()]
        assert all(c.get("deleted") is True for c in deleted.json())
        restored = await http.put(f"/api/v2/contacts/{cid}/restore", auth=auth)
        assert restored.status_code == 204
        gone = await http.delete(f"/api/v2/contacts/{cid}/hard_delete?force=true", auth=auth)
        assert gone.status_code == 204 and cid not in fake.store.contacts
        companies = await http.get("/api/v2/companies", auth=auth)
        assert companies.json()[0]["updated_at"].endswith("+05:30")
        frozen = await http.post("/__clock", json={"freeze": 1_800_000_000})
        assert frozen.json()["now"] == 1_800_000_000
        a = await http.post("/__contacts", json={"name": "Same A", "email": "sa@x.io"})
        b = await http.post("/__contacts", json={"name": "Same B", "email": "sb@x.io"})
        store = fake.store
        assert (
            store.contacts[a.json()["id"]].updated_at == store.contacts[b.json()["id"]].updated_at
        )
        since = await http.get(
            "/api/v2/contacts", params={"updated_since": "2027-01-15T08:00:00Z"}, auth=auth
        )
        assert sorted(c["name"] for c in since.json()) == ["Same A", "Same B"]


@pytest.mark.asyncio
async def test_zendesk_fake_export_shape(start_fake: Callable[..., RunningFake]) -> None:
    fake = start_fake("zendesk", contacts=50, seed=2)
    async with httpx.AsyncClient(base_url=fake.url) as http:
        bad = await http.get("/api/v2/incremental/users/cursor?start_time=0")
        assert bad.status_code == 401
        cfg = fake.config()
        auth = (f"{cfg['email']}/token", cfg["api_token"])
        page = await http.get("/api/v2/incremental/users/cursor?start_time=0", auth=auth)
        body = page.json()
        assert {"users", "after_cursor", "after_url", "before_cursor", "end_of_stream"} <= set(body)
        roles = {u["role"] for u in body["users"]}
        assert roles == {"end-user", "agent", "admin"}
        orgs = await http.get("/api/v2/incremental/organizations?start_time=0", auth=auth)
        assert {"organizations", "count", "end_time", "next_page", "end_of_stream"} <= set(
            orgs.json()
        )
