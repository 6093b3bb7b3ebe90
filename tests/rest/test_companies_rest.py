"""REST v2 companies: list, create, get, update, soft delete and restore."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Api
from tests.rest._support import assert_problem, make_company, make_contact, snapshot
from tests.rest.test_contacts_rest import ISO_Z

COMPANY_FIELDS = {
    "id",
    "name",
    "domain",
    "tags",
    "custom_fields",
    "contact_count",
    "created_at",
    "updated_at",
    "deleted_at",
}


async def test_create_returns_201_with_the_full_company(api: Api) -> None:
    response = await api.post(
        "/api/v2/companies",
        json={"name": " Acme Corp ", "domain": "ACME.com", "tags": ["enterprise", "enterprise"]},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) >= COMPANY_FIELDS
    assert body["id"].startswith("co_")
    assert body["name"] == "Acme Corp"
    assert body["domain"] == "acme.com"
    assert body["tags"] == ["enterprise"]
    assert body["contact_count"] == 0
    assert body["deleted_at"] is None
    assert ISO_Z.match(body["created_at"]) and ISO_Z.match(body["updated_at"])
    got = await api.get(f"/api/v2/companies/{body['id']}")
    assert got.status_code == 200 and got.json() == body


async def test_list_envelope_order_search_tags(api: Api) -> None:
    acme = await make_company(api, "Acme Corp", domain="acme.com", tags=["enterprise"])
    initech = await make_company(api, "Initech", domain="initech.io", tags=["smb"])
    umbrella = await make_company(api, "Umbrella", domain="umbrella-acme.org")
    body = (await api.get("/api/v2/companies")).json()
    assert set(body) == {"data", "total", "limit", "offset"}
    assert (body["total"], body["limit"], body["offset"]) == (3, 25, 0)
    assert [c["id"] for c in body["data"]] == [umbrella["id"], initech["id"], acme["id"]]
    assert all(set(c) >= COMPANY_FIELDS for c in body["data"])

    async def ids(**params: str) -> list[str]:
        got = (await api.get("/api/v2/companies", params=params)).json()
        assert got["total"] == len(got["data"])
        return [c["id"] for c in got["data"]]

    assert await ids(search="ACME") == [umbrella["id"], acme["id"]]  # name or domain
    assert await ids(search="ini") == [initech["id"]]
    assert await ids(search="io") == [initech["id"]]
    assert await ids(search="c") == [umbrella["id"], initech["id"], acme["id"]]
    assert await ids(search="%") == []
    assert await ids(tags="smb,enterprise") == [initech["id"], acme["id"]]
    assert await ids(tags="none") == []
    page = (await api.get("/api/v2/companies", params={"limit": 2, "offset": 2})).json()
    assert [c["id"] for c in page["data"]] == [acme["id"]] and page["total"] == 3


async def test_contact_count_counts_live_contacts(api: Api) -> None:
    acme = await make_company(api, "Acme")
    other = await make_company(api, "Other")
    a = await make_contact(api, "A", company_id=acme["id"])
    await make_contact(api, "B", company_id=acme["id"])
    assert (await api.get(f"/api/v2/companies/{acme['id']}")).json()["contact_count"] == 2
    listed = {c["id"]: c for c in (await api.get("/api/v2/companies")).json()["data"]}
    assert listed[acme["id"]]["contact_count"] == 2
    assert listed[other["id"]]["contact_count"] == 0
    await api.patch(f"/api/v2/contacts/{a['id']}", json={"company_id": other["id"]})
    assert (await api.get(f"/api/v2/companies/{acme['id']}")).json()["contact_count"] == 1
    assert (await api.get(f"/api/v2/companies/{other['id']}")).json()["contact_count"] == 1


async def test_patch_partial_null_clears_tags_replace(api: Api) -> None:
    company = await make_company(api, "Acme Corp", domain="acme.com", tags=["enterprise"])
    response = await api.patch(
        f"/api/v2/companies/{company['id']}", json={"tags": ["enterprise", "priority"]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tags"] == ["enterprise", "priority"]
    assert body["name"] == "Acme Corp" and body["domain"] == "acme.com"
    cleared = await api.patch(f"/api/v2/companies/{company['id']}", json={"domain": None})
    assert cleared.json()["domain"] is None
    renamed = await api.patch(f"/api/v2/companies/{company['id']}", json={"name": "Acme Inc"})
    assert renamed.json()["name"] == "Acme Inc"
    assert renamed.json()["tags"] == ["enterprise", "priority"]
    assert (await api.get(f"/api/v2/companies/{company['id']}")).json() == renamed.json()


async def test_domain_unique_among_active_companies(api: Api, engine: AsyncEngine) -> None:
    acme = await make_company(api, "Acme", domain="acme.com")
    other = await make_company(api, "Other", domain="other.com")
    before = await snapshot(engine)
    assert_problem(
        await api.post("/api/v2/companies", json={"name": "X", "domain": "ACME.COM"}),
        409,
        "conflict",
        "domain",
    )
    assert_problem(
        await api.patch(f"/api/v2/companies/{other['id']}", json={"domain": "acme.com"}),
        409,
        "conflict",
        "domain",
    )
    assert await snapshot(engine) == before
    # keeping one's own domain is fine
    assert (
        await api.patch(f"/api/v2/companies/{acme['id']}", json={"domain": "acme.com"})
    ).status_code == 200
    # a deleted company frees its domain
    assert (await api.delete(f"/api/v2/companies/{acme['id']}")).status_code == 204
    await make_company(api, "Acme 2", domain="acme.com")


async def test_soft_delete_and_restore(api: Api, engine: AsyncEngine) -> None:
    company = await make_company(api, "Acme Corp", domain="acme.com", tags=["enterprise"])
    contact = await make_contact(api, "Jane", company_id=company["id"])
    response = await api.delete(f"/api/v2/companies/{company['id']}")
    assert response.status_code == 204 and response.content == b""

    # readable by id, with deleted_at, still counting its contacts
    deleted = (await api.get(f"/api/v2/companies/{company['id']}")).json()
    assert ISO_Z.match(deleted["deleted_at"])
    assert deleted["contact_count"] == 1
    # gone from lists unless include_deleted
    assert (await api.get("/api/v2/companies")).json() == {
        "data": [],
        "total": 0,
        "limit": 25,
        "offset": 0,
    }
    listed = (await api.get("/api/v2/companies", params={"include_deleted": "true"})).json()
    assert [c["id"] for c in listed["data"]] == [company["id"]] and listed["total"] == 1
    # the contact keeps its link
    assert (await api.get(f"/api/v2/contacts/{contact['id']}")).json()["company_id"] == company[
        "id"
    ]
    # PATCH of a deleted company → 409, nothing changed
    before = await snapshot(engine)
    assert_problem(
        await api.patch(f"/api/v2/companies/{company['id']}", json={"name": "New"}),
        409,
        "conflict",
    )
    assert await snapshot(engine) == before
    # deleting again is idempotent
    assert (await api.delete(f"/api/v2/companies/{company['id']}")).status_code == 204

    restored = await api.post(f"/api/v2/companies/{company['id']}/restore")
    assert restored.status_code == 200, restored.text
    body = restored.json()
    assert body["deleted_at"] is None
    for key in ("id", "name", "domain", "tags", "created_at", "contact_count"):
        assert body[key] == company[key] if key != "contact_count" else body[key] == 1
    assert [c["id"] for c in (await api.get("/api/v2/companies")).json()["data"]] == [company["id"]]
    # restoring an active company is a harmless no-op
    again = await api.post(f"/api/v2/companies/{company['id']}/restore")
    assert again.status_code == 200 and again.json()["deleted_at"] is None


async def test_restore_when_domain_taken_is_409(api: Api, engine: AsyncEngine) -> None:
    old = await make_company(api, "Old Acme", domain="acme.com")
    assert (await api.delete(f"/api/v2/companies/{old['id']}")).status_code == 204
    await make_company(api, "New Acme", domain="acme.com")
    before = await snapshot(engine)
    body = assert_problem(
        await api.post(f"/api/v2/companies/{old['id']}/restore"), 409, "conflict", "domain"
    )
    assert "acme.com" in body["detail"]
    assert await snapshot(engine) == before
    assert (await api.get(f"/api/v2/companies/{old['id']}")).json()["deleted_at"] is not None


async def test_unknown_company_ids_are_404(api: Api) -> None:
    for method, url in [
        ("GET", "/api/v2/companies/co_nope"),
        ("PATCH", "/api/v2/companies/co_nope"),
        ("DELETE", "/api/v2/companies/co_nope"),
        ("POST", "/api/v2/companies/co_nope/restore"),
    ]:
        kw = {"json": {"name": "x"}} if method == "PATCH" else {}
        assert_problem(await api.request(method, url, **kw), 404, "not_found")
