"""Optimistic concurrency: versions, ETag, If-Match, expectedVersion, no lost updates."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Api
from tests.rest._support import assert_problem, snapshot

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("kind", ["contacts", "companies"])
async def test_etag_and_if_match(api: Api, engine: AsyncEngine, kind: str) -> None:
    created = await api.post(f"/api/v2/{kind}", json={"name": "One"})
    assert created.status_code == 201
    assert created.headers["ETag"] == '"1"' and created.json()["version"] == 1
    url = f"/api/v2/{kind}/{created.json()['id']}"
    got = await api.get(url)
    assert got.headers["ETag"] == '"1"'

    ok = await api.patch(url, json={"name": "Two"}, headers={"If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"' and ok.json()["version"] == 2

    before = await snapshot(engine)
    for stale in ('"1"', 'W/"2"', "garbage", '"99"'):
        refused = await api.patch(url, json={"name": "Three"}, headers={"If-Match": stale})
        assert_problem(refused, 412, "precondition_failed")
        gone = await api.delete(url, headers={"If-Match": stale})
        assert_problem(gone, 412, "precondition_failed")
    assert await snapshot(engine) == before

    star = await api.patch(url, json={"name": "Three"}, headers={"If-Match": "*"})
    assert star.status_code == 200 and star.headers["ETag"] == '"3"'
    listed = await api.patch(url, json={"name": "Four"}, headers={"If-Match": '"3", "7"'})
    assert listed.status_code == 200
    deleted = await api.delete(url, headers={"If-Match": '"4"'})
    assert deleted.status_code == 204


async def test_if_match_on_a_missing_object_is_404(api: Api) -> None:
    r = await api.patch(
        "/api/v2/contacts/ct_missing", json={"name": "x"}, headers={"If-Match": '"1"'}
    )
    assert_problem(r, 404, "not_found")


async def test_graphql_expected_version(api: Api) -> None:
    made = await api.gql('mutation { createCompany(input: {name: "Co"}) { id version } }')
    company = made["data"]["createCompany"]
    assert company["version"] == 1
    update = """mutation($id: ID!, $v: Int) {
      updateCompany(id: $id, input: {name: "Co2"}, expectedVersion: $v) { name version } }"""
    ok = await api.gql(update, {"id": company["id"], "v": 1})
    assert ok["data"]["updateCompany"] == {"name": "Co2", "version": 2}
    stale = await api.gql(update, {"id": company["id"], "v": 1})
    assert stale["errors"][0]["extensions"]["code"] == "precondition_failed"
    assert stale["errors"][0]["extensions"]["field"] == "expectedVersion"
    contact = (await api.gql('mutation { createContact(input: {name: "P"}) { id version } }'))[
        "data"
    ]["createContact"]
    gone = await api.gql(
        "mutation($id: ID!) { deleteContact(id: $id, expectedVersion: 5) }", {"id": contact["id"]}
    )
    assert gone["errors"][0]["extensions"]["code"] == "precondition_failed"
    assert (await api.get(f"/api/v2/contacts/{contact['id']}")).status_code == 200


async def test_concurrent_updates_of_different_fields_are_all_kept(api: Api) -> None:
    created = (await api.post("/api/v2/contacts", json={"name": "Start"})).json()
    url = f"/api/v2/contacts/{created['id']}"
    changes = [
        {"name": "Final Name"},
        {"phone": "+14155550100"},
        {"email": "final@example.com"},
        {"tags": ["a", "b"]},
        {"custom_fields": {}},
    ]
    for _ in range(3):
        responses = await asyncio.gather(*(api.patch(url, json=c) for c in changes))
        assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    final = (await api.get(url)).json()
    assert final["name"] == "Final Name"
    assert final["phone"] == "+14155550100"
    assert final["email"] == "final@example.com"
    assert final["tags"] == ["a", "b"]
    assert final["version"] == 1 + 3 * len(changes)
