"""Bad input for every field of every v2 route: 422 problem+json naming the field, nothing changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Api
from tests.rest._support import assert_problem, make_company, make_contact, snapshot

LONG = "x" * 256

#: (body, field named in the error) — wrong types, too long, empty, invalid, unknown fields.
CONTACT_COMMON: list[tuple[dict[str, Any], str]] = [
    ({"name": 123}, "name"),
    ({"name": ["Jane"]}, "name"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": LONG}, "name"),
    ({"name": "a", "email": "not-an-email"}, "email"),
    ({"name": "a", "email": "jane@"}, "email"),
    ({"name": "a", "email": 5}, "email"),
    ({"name": "a", "email": "a" * 320 + "@example.com"}, "email"),
    ({"name": "a", "phone": "call me"}, "phone"),
    ({"name": "a", "phone": "+1 555"}, "phone"),
    ({"name": "a", "phone": "0612345678"}, "phone"),  # no country code
    ({"name": "a", "phone": 33612345678}, "phone"),
    ({"name": "a", "phone": "+" + "3" * 60}, "phone"),
    ({"name": "a", "company_id": 5}, "company_id"),
    ({"name": "a", "company_id": ""}, "company_id"),
    ({"name": "a", "company_id": "co_" + "x" * 60}, "company_id"),
    ({"name": "a", "company_id": "co_missing"}, "company_id"),
    ({"name": "a", "tags": "vip"}, "tags"),
    ({"name": "a", "tags": [1]}, "tags"),
    ({"name": "a", "tags": [None]}, "tags"),
    ({"name": "a", "tags": [""]}, "tags"),
    ({"name": "a", "tags": ["  "]}, "tags"),
    ({"name": "a", "tags": ["x" * 65]}, "tags"),
    ({"name": "a", "tags": [f"t{i}" for i in range(51)]}, "tags"),
    ({"name": "a", "tags": {"a": 1}}, "tags"),
    ({"name": "a", "custom_fields": "x"}, "custom_fields"),
    ({"name": "a", "id": "ct_mine"}, "id"),
    ({"name": "a", "created_at": "2026-01-01T00:00:00Z"}, "created_at"),
    ({"name": "a", "updated_at": "2026-01-01T00:00:00Z"}, "updated_at"),
    ({"name": "a", "account": "globex"}, "account"),
    ({"name": "a", "account_id": "acc_x"}, "account_id"),
    ({"name": "a", "company_name": "Acme"}, "company_name"),
    ({"name": "a", "nickname": "J"}, "nickname"),
]
CONTACT_CREATE_ONLY: list[tuple[dict[str, Any], str]] = [
    ({}, "name"),
    ({"email": "jane@example.com"}, "name"),
    ({"name": None}, "name"),
]
CONTACT_PATCH_ONLY: list[tuple[dict[str, Any], str]] = [({"name": None}, "name")]

COMPANY_COMMON: list[tuple[dict[str, Any], str]] = [
    ({"name": 1}, "name"),
    ({"name": ""}, "name"),
    ({"name": " "}, "name"),
    ({"name": LONG}, "name"),
    ({"name": "a", "domain": "http://acme.com"}, "domain"),
    ({"name": "a", "domain": "acme.com/path"}, "domain"),
    ({"name": "a", "domain": "acme.com:8080"}, "domain"),
    ({"name": "a", "domain": "acme"}, "domain"),
    ({"name": "a", "domain": "10.0.0.1"}, "domain"),
    ({"name": "a", "domain": "-acme.com"}, "domain"),
    ({"name": "a", "domain": "ac me.com"}, "domain"),
    ({"name": "a", "domain": "a" * 64 + ".com"}, "domain"),
    ({"name": "a", "domain": ("abc." * 64) + "com"}, "domain"),
    ({"name": "a", "domain": 5}, "domain"),
    ({"name": "a", "tags": "enterprise"}, "tags"),
    ({"name": "a", "tags": [True]}, "tags"),
    ({"name": "a", "tags": [""]}, "tags"),
    ({"name": "a", "tags": ["y" * 65]}, "tags"),
    ({"name": "a", "custom_fields": []}, "custom_fields"),
    ({"name": "a", "id": "co_mine"}, "id"),
    ({"name": "a", "created_at": "2026-01-01T00:00:00Z"}, "created_at"),
    ({"name": "a", "deleted_at": None}, "deleted_at"),
    ({"name": "a", "contact_count": 3}, "contact_count"),
    ({"name": "a", "account": "globex"}, "account"),
]
COMPANY_CREATE_ONLY: list[tuple[dict[str, Any], str]] = [({}, "name"), ({"name": None}, "name")]
COMPANY_PATCH_ONLY: list[tuple[dict[str, Any], str]] = [({"name": None}, "name")]

NOT_OBJECTS: list[bytes] = [b"[]", b'[{"name": "a"}]', b'"Jane"', b"1", b"null", b"true"]
NOT_JSON: list[bytes] = [b"{bad", b'{"name": "a",}', b"name=a", b"\xff\xfe"]


async def _check_all(
    api: Api,
    engine: AsyncEngine,
    method: str,
    url: str,
    cases: list[tuple[dict[str, Any], str]],
) -> None:
    before = await snapshot(engine)
    failures = []
    for body, field in cases:
        response = await api.request(method, url, json=body)
        try:
            problem = assert_problem(response, 422, "validation_failed", field)
            assert field in problem["detail"] or any(e["field"] == field for e in problem["errors"])
        except AssertionError as exc:
            failures.append(f"{method} {url} {body!r}: {exc}")
    assert not failures, "\n".join(failures)
    assert await snapshot(engine) == before, f"{method} {url}: a rejected request changed data"


async def _check_raw_bodies(api: Api, engine: AsyncEngine, method: str, url: str) -> None:
    before = await snapshot(engine)
    for raw in NOT_OBJECTS + NOT_JSON:
        response = await api.request(
            method, url, content=raw, headers={"Content-Type": "application/json"}
        )
        problem = assert_problem(response, 422, "validation_failed", "body")
        assert "JSON" in problem["detail"], (raw, problem)
    for raw in NOT_OBJECTS:
        problem = assert_problem(
            await api.request(
                method, url, content=raw, headers={"Content-Type": "application/json"}
            ),
            422,
            "validation_failed",
            "body",
        )
        assert "object" in problem["detail"], (raw, problem)
    assert await snapshot(engine) == before


async def test_contact_create_bad_input(api: Api, engine: AsyncEngine) -> None:
    await _check_all(api, engine, "POST", "/api/v2/contacts", CONTACT_COMMON + CONTACT_CREATE_ONLY)
    await _check_raw_bodies(api, engine, "POST", "/api/v2/contacts")


async def test_contact_patch_bad_input(api: Api, engine: AsyncEngine) -> None:
    contact = await make_contact(api, "Jane", email="jane@example.com", tags=["vip"])
    url = f"/api/v2/contacts/{contact['id']}"
    await _check_all(api, engine, "PATCH", url, CONTACT_COMMON + CONTACT_PATCH_ONLY)
    await _check_raw_bodies(api, engine, "PATCH", url)
    assert (await api.get(url)).json() == contact


async def test_company_create_bad_input(api: Api, engine: AsyncEngine) -> None:
    await _check_all(api, engine, "POST", "/api/v2/companies", COMPANY_COMMON + COMPANY_CREATE_ONLY)
    await _check_raw_bodies(api, engine, "POST", "/api/v2/companies")


async def test_company_patch_bad_input(api: Api, engine: AsyncEngine) -> None:
    company = await make_company(api, "Acme", domain="acme.com", tags=["x"])
    url = f"/api/v2/companies/{company['id']}"
    await _check_all(api, engine, "PATCH", url, COMPANY_COMMON + COMPANY_PATCH_ONLY)
    await _check_raw_bodies(api, engine, "PATCH", url)
    assert (await api.get(url)).json() == company


@pytest.mark.parametrize("path", ["/api/v2/contacts", "/api/v2/companies"])
async def test_list_query_parameters_are_validated(api: Api, path: str) -> None:
    cases: list[tuple[dict[str, str], str]] = [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"limit": "2.5"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "x"}, "offset"),
        ({"search": "s" * 1000}, "search"),
        ({"tags": ",".join(f"t{i}" for i in range(200))}, "tags"),
        ({"tags": "x" * 65}, "tags"),
    ]
    if path.endswith("companies"):
        cases.append(({"include_deleted": "maybe"}, "include_deleted"))
    for params, field in cases:
        assert_problem(await api.get(path, params=params), 422, "validation_failed", field)
    for params in ({"limit": "1"}, {"limit": "100"}, {"offset": "0"}, {"search": "ab"}):
        assert (await api.get(path, params=params)).status_code == 200, params


async def _chunks(total: int) -> AsyncIterator[bytes]:
    yield b'{"name": "'
    sent = 0
    while sent < total:
        yield b"a" * 65536
        sent += 65536
    yield b'"}'


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("POST", "/api/v2/contacts"),
        ("PATCH", "/api/v2/contacts/ct_any"),
        ("POST", "/api/v2/companies"),
        ("PATCH", "/api/v2/companies/co_any"),
        ("POST", "/graphql"),
    ],
)
async def test_bodies_over_one_mebibyte_are_413(
    api: Api, engine: AsyncEngine, method: str, url: str
) -> None:
    before = await snapshot(engine)
    big = b'{"name": "' + b"a" * (1024 * 1024) + b'"}'
    response = await api.request(
        method, url, content=big, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413, "payload_too_large", "body")
    # no Content-Length: the limit holds while streaming too
    streamed = await api.request(
        method, url, content=_chunks(1024 * 1024 + 1), headers={"Content-Type": "application/json"}
    )
    assert_problem(streamed, 413, "payload_too_large")
    assert await snapshot(engine) == before


async def test_a_body_just_under_the_limit_is_judged_on_its_fields(api: Api) -> None:
    body = b'{"name": "' + b"a" * (1024 * 1024 - 100) + b'"}'
    response = await api.post(
        "/api/v2/contacts", content=body, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 422, "validation_failed", "name")
