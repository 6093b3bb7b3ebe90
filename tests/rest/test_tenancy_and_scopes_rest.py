"""Tenancy (another account's id is a 404), scopes (403 naming the scope) and keys (401)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from db.uow import UnitOfWork
from resolvers import keys as key_use_cases
from resolvers.keys import visible_prefix
from tests.conftest import Api, KeyMaker
from tests.rest._support import assert_problem, make_company, make_contact, snapshot

READS = [
    ("GET", "/api/v2/contacts", None),
    ("GET", "/api/v2/contacts/{contact}", None),
    ("GET", "/api/v2/companies", None),
    ("GET", "/api/v2/companies/{company}", None),
]
WRITES = [
    ("POST", "/api/v2/contacts", {"name": "New"}),
    ("PATCH", "/api/v2/contacts/{contact}", {"name": "Changed"}),
    ("DELETE", "/api/v2/contacts/{contact}", None),
    ("POST", "/api/v2/companies", {"name": "New Co"}),
    ("PATCH", "/api/v2/companies/{company}", {"name": "Changed"}),
    ("DELETE", "/api/v2/companies/{company}", None),
    ("POST", "/api/v2/companies/{company}/restore", None),
]
BY_ID = [r for r in READS + WRITES if "{" in r[1]]


async def _fixtures(api: Api) -> dict[str, str]:
    company = await make_company(api, "Acme", domain="acme.com")
    contact = await make_contact(api, "Jane", email="jane@example.com", company_id=company["id"])
    return {"company": company["id"], "contact": contact["id"]}


async def _call(api: Api, method: str, url: str, body: Any, ids: dict[str, str]) -> Any:
    kw = {"json": body} if body is not None else {}
    return await api.request(method, url.format(**ids), **kw)


async def test_another_accounts_ids_are_404_and_untouched(
    api: Api, other_api: Api, engine: AsyncEngine
) -> None:
    ids = await _fixtures(api)
    # the company is soft-deleted for the restore route, then restored by its owner below
    before = await snapshot(engine)
    for method, url, body in BY_ID:
        response = await _call(other_api, method, url, body, ids)
        problem = assert_problem(response, 404, "not_found")
        assert "not found" in problem["detail"], (method, url, problem)
    assert await snapshot(engine) == before
    # and exactly like an id that does not exist
    missing = {"company": "co_doesnotexist", "contact": "ct_doesnotexist"}
    for method, url, body in BY_ID:
        unknown = await _call(other_api, method, url, body, missing)
        foreign = await _call(other_api, method, url, body, ids)
        assert (unknown.status_code, unknown.json()["code"]) == (
            foreign.status_code,
            foreign.json()["code"],
        )
    # the owner still sees everything
    for method, url, body in READS:
        assert (await _call(api, method, url, body, ids)).status_code == 200


async def test_lists_show_only_the_callers_account(api: Api, other_api: Api) -> None:
    ids = await _fixtures(api)
    await make_contact(other_api, "Globex person", email="jane@example.com")
    listed = (await other_api.get("/api/v2/contacts")).json()
    assert [c["name"] for c in listed["data"]] == ["Globex person"] and listed["total"] == 1
    assert (await other_api.get("/api/v2/companies")).json()["total"] == 0
    by_company = await other_api.get("/api/v2/contacts", params={"company_id": ids["company"]})
    assert by_company.json()["data"] == []
    searched = await other_api.get("/api/v2/contacts", params={"search": "jane"})
    assert [c["name"] for c in searched.json()["data"]] == ["Globex person"]
    # the company of acme cannot be deleted by globex even when soft-deleted
    assert (await api.delete(f"/api/v2/companies/{ids['company']}")).status_code == 204
    included = await other_api.get("/api/v2/companies", params={"include_deleted": "true"})
    assert included.json()["total"] == 0


async def test_missing_scope_is_403_naming_the_scope(
    api: Api, make_key: KeyMaker, api_as: Callable[[str | None], Api], engine: AsyncEngine
) -> None:
    ids = await _fixtures(api)
    read_only = api_as(await make_key("acme", ["contacts:read"]))
    write_only = api_as(await make_key("acme", ["contacts:write"]))
    config_only = api_as(await make_key("acme", ["config:read", "config:write"]))
    before = await snapshot(engine)
    for method, url, body in WRITES:
        for caller in (read_only, config_only):
            problem = assert_problem(await _call(caller, method, url, body, ids), 403, "forbidden")
            assert "contacts:write" in problem["detail"], (method, url, problem)
    for method, url, body in READS:
        for caller in (write_only, config_only):
            problem = assert_problem(await _call(caller, method, url, body, ids), 403, "forbidden")
            assert "contacts:read" in problem["detail"], (method, url, problem)
    assert await snapshot(engine) == before
    # each scope does open its own routes
    for method, url, body in READS:
        assert (await _call(read_only, method, url, body, ids)).status_code == 200
    created = await write_only.post("/api/v2/contacts", json={"name": "By writer"})
    assert created.status_code == 201


async def test_missing_unknown_malformed_and_revoked_keys_are_401(
    api: Api, make_key: KeyMaker, api_as: Callable[[str | None], Api], engine: AsyncEngine
) -> None:
    ids = await _fixtures(api)
    doomed = await make_key("acme", ["contacts:read", "contacts:write"])
    assert (await api_as(doomed).get("/api/v2/contacts")).status_code == 200

    uow = UnitOfWork(engine)
    try:
        assert await key_use_cases.revoke_keys(uow, prefix=visible_prefix(doomed)) == 1
        await uow.commit()
    finally:
        await uow.close()

    callers = {
        "missing": api_as(None),
        "empty": api_as(""),
        "unknown": api_as("ak_live_" + "x" * 43),
        "same prefix, wrong secret": api_as(doomed[:-4] + "abcd"),
        "malformed": api_as("Bearer something"),
        "revoked": api_as(doomed),
    }
    before = await snapshot(engine)
    for label, caller in callers.items():
        for method, url, body in READS + WRITES:
            response = await _call(caller, method, url, body, ids)
            problem = assert_problem(response, 401, "unauthenticated")
            assert "API key" in problem["detail"], (label, method, url, problem)
    assert await snapshot(engine) == before
    # other keys of the account keep working
    assert (await api.get("/api/v2/contacts")).status_code == 200


async def test_health_needs_no_key(api_as: Callable[[str | None], Api]) -> None:
    anonymous = api_as(None)
    response = await anonymous.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert (await anonymous.get("/readyz")).status_code == 200
