"""REST v2 contacts: every route's happy path, with the contract's exact shapes and rules."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Api
from tests.rest._support import assert_problem, make_company, make_contact, snapshot

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
CONTACT_FIELDS = {
    "id",
    "name",
    "email",
    "phone",
    "company_id",
    "company_name",
    "tags",
    "custom_fields",
    "created_at",
    "updated_at",
}


async def test_create_returns_201_with_the_full_contact(api: Api) -> None:
    company = await make_company(api, "Acme Corp", domain="acme.com")
    response = await api.post(
        "/api/v2/contacts",
        json={
            "name": "John Doe",
            "email": "john@example.com",
            "phone": "+33 6 98 76 54 32",
            "company_id": company["id"],
            "tags": [" engineering ", "vip", "engineering"],
        },
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) >= CONTACT_FIELDS  # the contract's fields (other issues may add more)
    assert body["id"].startswith("ct_") and len(body["id"]) > 10
    assert body["name"] == "John Doe"
    assert body["email"] == "john@example.com"
    assert body["phone"] == "+33698765432"  # stored in E.164
    assert body["company_id"] == company["id"]
    assert body["company_name"] == "Acme Corp"
    assert body["tags"] == ["engineering", "vip"]  # trimmed, de-duplicated, order kept
    assert body["custom_fields"] == {}
    assert ISO_Z.match(body["created_at"]) and ISO_Z.match(body["updated_at"])

    got = await api.get(f"/api/v2/contacts/{body['id']}")
    assert got.status_code == 200
    assert got.json() == body


async def test_minimal_contact_has_nulls_and_empty_tags(api: Api) -> None:
    body = await make_contact(api, "Solo")
    assert body["email"] is None and body["phone"] is None
    assert body["company_id"] is None and body["company_name"] is None
    assert body["tags"] == []


async def test_phone_formats_are_normalised_to_e164(api: Api) -> None:
    for raw, e164 in [
        ("+1 (415) 555-2671", "+14155552671"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+33612345678", "+33612345678"),
    ]:
        contact = await make_contact(api, f"Phone {raw}", phone=raw)
        assert contact["phone"] == e164


async def test_list_envelope_and_newest_first(api: Api) -> None:
    ids = [(await make_contact(api, f"Person {i}"))["id"] for i in range(5)]
    response = await api.get("/api/v2/contacts")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data", "total", "limit", "offset"}
    assert (body["total"], body["limit"], body["offset"]) == (5, 25, 0)
    assert [c["id"] for c in body["data"]] == list(reversed(ids))
    assert all(set(c) >= CONTACT_FIELDS for c in body["data"])


async def test_pages_are_stable_and_cover_everything_once(api: Api) -> None:
    ids = [(await make_contact(api, f"Person {i}"))["id"] for i in range(7)]
    seen: list[str] = []
    for offset in range(0, 9, 3):
        page = (await api.get("/api/v2/contacts", params={"limit": 3, "offset": offset})).json()
        assert page["total"] == 7 and page["limit"] == 3 and page["offset"] == offset
        seen += [c["id"] for c in page["data"]]
    assert seen == list(reversed(ids))
    again = (await api.get("/api/v2/contacts", params={"limit": 3, "offset": 3})).json()
    assert [c["id"] for c in again["data"]] == seen[3:6]
    beyond = (await api.get("/api/v2/contacts", params={"offset": 50})).json()
    assert beyond["data"] == [] and beyond["total"] == 7


async def test_search_name_or_email_case_insensitive(api: Api) -> None:
    jane = await make_contact(api, "Jane SMITH", email="jane@example.com")
    bob = await make_contact(api, "Bob", email="bob.smithers@corp.io")
    await make_contact(api, "Alice", email="alice@example.com")

    async def search(term: str) -> set[str]:
        body = (await api.get("/api/v2/contacts", params={"search": term})).json()
        assert body["total"] == len(body["data"])
        return {c["id"] for c in body["data"]}

    assert await search("smith") == {jane["id"], bob["id"]}
    assert await search("SMITH") == {jane["id"], bob["id"]}
    assert await search("CORP.IO") == {bob["id"]}
    assert await search("ane s") == {jane["id"]}
    assert await search("zzz") == set()
    # terms shorter than the trigram index still work
    assert await search("bo") == {bob["id"]}
    assert await search("J") == {jane["id"]}


async def test_search_treats_wildcards_and_backslash_literally(api: Api) -> None:
    pct = await make_contact(api, "100% Sure")
    under = await make_contact(api, "snake_case")
    back = await make_contact(api, "back\\slash")
    await make_contact(api, "plain name 100")
    await make_contact(api, "snakeXcase")

    async def search(term: str) -> set[str]:
        body = (await api.get("/api/v2/contacts", params={"search": term})).json()
        return {c["id"] for c in body["data"]}

    assert await search("%") == {pct["id"]}
    assert await search("0% s") == {pct["id"]}
    assert await search("_") == {under["id"]}
    assert await search("e_c") == {under["id"]}
    assert await search("\\") == {back["id"]}
    assert await search("k\\s") == {back["id"]}
    assert await search("%%") == set()


async def test_filter_by_tags_any_and_company(api: Api) -> None:
    acme = await make_company(api, "Acme")
    globex = await make_company(api, "Globex")
    a = await make_contact(api, "A", tags=["vip"], company_id=acme["id"])
    b = await make_contact(api, "B", tags=["beta", "x"], company_id=globex["id"])
    await make_contact(api, "C", tags=["other"])

    async def ids(**params: str) -> set[str]:
        body = (await api.get("/api/v2/contacts", params=params)).json()
        assert body["total"] == len(body["data"])
        return {c["id"] for c in body["data"]}

    assert await ids(tags="vip") == {a["id"]}
    assert await ids(tags="vip,beta") == {a["id"], b["id"]}
    assert await ids(tags=" vip , nope ") == {a["id"]}
    assert await ids(tags="nope") == set()
    assert await ids(company_id=acme["id"]) == {a["id"]}
    assert await ids(company_id=globex["id"], tags="vip") == set()
    assert await ids(company_id="co_unknown") == set()
    assert await ids(search="b", tags="beta,vip") == {b["id"]}


async def test_patch_is_partial_null_clears_tags_replace(api: Api) -> None:
    company = await make_company(api, "Acme")
    created = await make_contact(
        api,
        "Jane",
        email="jane@example.com",
        phone="+33612345678",
        company_id=company["id"],
        tags=["a", "b"],
    )
    response = await api.patch(
        f"/api/v2/contacts/{created['id']}",
        json={"phone": "+33698765432", "tags": ["vip", "engineering"]},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["phone"] == "+33698765432"
    assert body["tags"] == ["vip", "engineering"]
    assert body["name"] == "Jane" and body["email"] == "jane@example.com"
    assert body["company_id"] == company["id"] and body["company_name"] == "Acme"
    assert body["created_at"] == created["created_at"]
    assert body["updated_at"] >= created["updated_at"]

    cleared = await api.patch(
        f"/api/v2/contacts/{created['id']}",
        json={"email": None, "phone": None, "company_id": None, "tags": []},
    )
    assert cleared.status_code == 200
    body = cleared.json()
    assert body["email"] is None and body["phone"] is None
    assert body["company_id"] is None and body["company_name"] is None
    assert body["tags"] == []
    assert (await api.get(f"/api/v2/contacts/{created['id']}")).json() == body

    # an empty PATCH changes nothing but is fine
    same = await api.patch(f"/api/v2/contacts/{created['id']}", json={})
    assert same.status_code == 200
    assert {k: same.json()[k] for k in CONTACT_FIELDS - {"updated_at"}} == {
        k: body[k] for k in CONTACT_FIELDS - {"updated_at"}
    }


async def test_email_unique_per_account_case_insensitively(
    api: Api, other_api: Api, engine: AsyncEngine
) -> None:
    first = await make_contact(api, "Jane", email="Jane@Example.com")
    before = await snapshot(engine)
    dup = await api.post("/api/v2/contacts", json={"name": "Other", "email": "jane@EXAMPLE.COM"})
    assert_problem(dup, 409, "conflict", "email")
    assert await snapshot(engine) == before

    other = await make_contact(api, "Bob", email="bob@example.com")
    before = await snapshot(engine)
    taken = await api.patch(f"/api/v2/contacts/{other['id']}", json={"email": "JANE@example.com"})
    assert_problem(taken, 409, "conflict", "email")
    assert await snapshot(engine) == before
    assert (await api.get(f"/api/v2/contacts/{other['id']}")).json()["email"] == "bob@example.com"

    # keeping your own email (any case) is not a conflict
    own = await api.patch(f"/api/v2/contacts/{first['id']}", json={"email": "JANE@example.com"})
    assert own.status_code == 200, own.text

    # another account may use the same email
    await make_contact(other_api, "Jane elsewhere", email="jane@example.com")

    # once deleted, the email is free again
    assert (await api.delete(f"/api/v2/contacts/{first['id']}")).status_code == 204
    await make_contact(api, "Jane again", email="jane@example.com")


async def test_delete_is_204_then_404(api: Api) -> None:
    company = await make_company(api, "Acme")
    contact = await make_contact(api, "Jane", company_id=company["id"], tags=["x"])
    response = await api.delete(f"/api/v2/contacts/{contact['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(await api.get(f"/api/v2/contacts/{contact['id']}"), 404, "not_found")
    assert_problem(await api.delete(f"/api/v2/contacts/{contact['id']}"), 404, "not_found")
    assert_problem(
        await api.patch(f"/api/v2/contacts/{contact['id']}", json={"name": "x"}), 404, "not_found"
    )
    assert (await api.get("/api/v2/contacts")).json()["total"] == 0
    assert (await api.get(f"/api/v2/companies/{company['id']}")).json()["contact_count"] == 0


async def test_unknown_ids_are_404(api: Api) -> None:
    for method, url in [
        ("GET", "/api/v2/contacts/ct_nope"),
        ("PATCH", "/api/v2/contacts/ct_nope"),
        ("DELETE", "/api/v2/contacts/ct_nope"),
    ]:
        kw = {"json": {"name": "x"}} if method == "PATCH" else {}
        assert_problem(await api.request(method, url, **kw), 404, "not_found")


async def test_company_id_must_be_an_active_company_of_the_account(
    api: Api, other_api: Api, engine: AsyncEngine
) -> None:
    deleted = await make_company(api, "Gone")
    assert (await api.delete(f"/api/v2/companies/{deleted['id']}")).status_code == 204
    foreign = await make_company(other_api, "Foreign")
    contact = await make_contact(api, "Jane")
    before = await snapshot(engine)
    for company_id in (deleted["id"], foreign["id"], "co_missing"):
        created = await api.post("/api/v2/contacts", json={"name": "X", "company_id": company_id})
        assert_problem(created, 422, "validation_failed", "company_id")
        patched = await api.patch(
            f"/api/v2/contacts/{contact['id']}", json={"company_id": company_id}
        )
        assert_problem(patched, 422, "validation_failed", "company_id")
    assert await snapshot(engine) == before


async def test_contacts_of_a_deleted_company_keep_their_link(api: Api) -> None:
    company = await make_company(api, "Acme")
    contact = await make_contact(api, "Jane", company_id=company["id"])
    assert (await api.delete(f"/api/v2/companies/{company['id']}")).status_code == 204
    body = (await api.get(f"/api/v2/contacts/{contact['id']}")).json()
    assert body["company_id"] == company["id"] and body["company_name"] == "Acme"
    listed = (await api.get("/api/v2/contacts", params={"company_id": company["id"]})).json()
    assert [c["id"] for c in listed["data"]] == [contact["id"]]
