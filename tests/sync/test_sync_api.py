"""The v1 sync routes and their GraphQL twins: scopes, tenancy, bad input, secrets."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from providers.fake_testing import RunningFake, VirtualSleep
from tests.conftest import Api, KeyMaker
from tests.sync.conftest import configure, sync

FD = {"type": "freshdesk", "domain": "acme.freshdesk.com", "api_key": "fd-secret-123"}


async def test_settings_defaults_then_partial_updates(api: Api) -> None:
    got = await api.get("/api/v1/contacts/settings")
    assert got.status_code == 200
    assert got.json() == {
        "auto_sync_enabled": False,
        "sync_interval_hours": 24,
        "last_synced_at": None,
        "next_due_at": None,
        "provider": None,
    }
    put = await api.put(
        "/api/v1/contacts/settings", json={"auto_sync_enabled": True, "sync_interval_hours": 12}
    )
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["auto_sync_enabled"] is True and body["sync_interval_hours"] == 12
    assert body["next_due_at"] is not None
    put = await api.put("/api/v1/contacts/settings", json={"sync_interval_hours": 8})
    assert put.json()["auto_sync_enabled"] is True and put.json()["sync_interval_hours"] == 8


async def test_secrets_are_encrypted_at_rest_and_never_returned(
    api: Api, engine: AsyncEngine
) -> None:
    put = await api.put("/api/v1/contacts/settings", json={"provider": FD})
    assert put.status_code == 200, put.text
    assert "fd-secret-123" not in put.text
    got = await api.get("/api/v1/contacts/settings")
    assert "fd-secret-123" not in got.text
    assert got.json()["provider"] == {
        "type": "freshdesk",
        "domain": "acme.freshdesk.com",
        "configured": True,
    }
    async with engine.connect() as conn:
        row = (await conn.execute(sa.text("SELECT * FROM sync_settings"))).one()
    assert "fd-secret-123" not in str(tuple(row))
    # Leaving the secret out keeps the stored one (GET never shows it to send back).
    put = await api.put(
        "/api/v1/contacts/settings",
        json={"provider": {"type": "freshdesk", "domain": "other.freshdesk.com"}},
    )
    assert put.status_code == 200, put.text
    assert put.json()["provider"]["domain"] == "other.freshdesk.com"
    # …but not across provider types.
    switched = await api.put(
        "/api/v1/contacts/settings",
        json={"provider": {"type": "zendesk", "subdomain": "acme", "email": "a@acme.io"}},
    )
    assert switched.status_code == 422
    assert switched.json()["errors"][0]["field"] == "provider.api_token"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sync_interval_hours": 0}, "sync_interval_hours"),
        ({"sync_interval_hours": 169}, "sync_interval_hours"),
        ({"sync_interval_hours": None}, "sync_interval_hours"),
        ({"auto_sync_enabled": "often"}, "auto_sync_enabled"),
        ({"surprise": 1}, "surprise"),
        ({"provider": {"type": "hubspot"}}, "provider.type"),
        ({"provider": {"type": "freshdesk", "api_key": "k"}}, "provider.domain"),
        ({"provider": {"type": "freshdesk", "domain": "a.freshdesk.com"}}, "provider.api_key"),
        ({"provider": {**FD, "domain": "not a host"}}, "provider.domain"),
        ({"provider": {**FD, "extra": 1}}, "provider.extra"),
        ({"provider": {**FD, "api_key": 123}}, "provider.api_key"),
        (
            {"provider": {"type": "zendesk", "subdomain": "a", "api_token": "t"}},
            "provider.email",
        ),
        ({"provider": {**FD, "base_url": "ftp://x.io"}}, "provider.base_url"),
    ],
)
async def test_bad_settings_are_422_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    response = await api.put("/api/v1/contacts/settings", json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "validation_failed"
    assert field in [e["field"] for e in problem["errors"]], problem
    assert (await api.get("/api/v1/contacts/settings")).json()["provider"] is None


async def test_base_url_must_be_public_https_unless_private_urls_are_allowed(
    api: Api, app: Any
) -> None:
    app.state.sync_options = replace(app.state.sync_options, allow_private_urls=False)
    for url, rule in [
        ("http://acme.example.com", "https"),
        ("https://127.0.0.1:8443", "private"),
        ("https://10.1.2.3", "private"),
    ]:
        response = await api.put(
            "/api/v1/contacts/settings", json={"provider": {**FD, "base_url": url}}
        )
        assert response.status_code == 422, url
        error = response.json()["errors"][0]
        assert error["field"] == "provider.base_url" and rule in error["message"]


async def test_scopes_of_the_v1_routes(
    make_key: KeyMaker, api_as: Callable[[str | None], Api]
) -> None:
    reader = api_as(await make_key("acme", ["config:read"]))
    contacts_only = api_as(await make_key("acme", ["contacts:read", "contacts:write"]))
    anonymous = api_as(None)
    assert (await reader.get("/api/v1/contacts/settings")).status_code == 200
    assert (await reader.get("/api/v1/contacts/sync-history")).status_code == 200
    for call in (
        reader.put("/api/v1/contacts/settings", json={"sync_interval_hours": 2}),
        reader.post("/api/v1/contacts/sync"),
    ):
        response = await call
        assert response.status_code == 403
        assert "config:write" in response.json()["detail"]
    for call in (
        contacts_only.get("/api/v1/contacts/settings"),
        contacts_only.get("/api/v1/contacts/sync-history"),
    ):
        response = await call
        assert response.status_code == 403
        assert "config:read" in response.json()["detail"]
    for call in (
        anonymous.get("/api/v1/contacts/settings"),
        anonymous.put("/api/v1/contacts/settings", json={}),
        anonymous.post("/api/v1/contacts/sync"),
        anonymous.get("/api/v1/contacts/sync-history"),
    ):
        assert (await call).status_code == 401


async def test_sync_without_provider_is_409_and_bad_mode_is_422(api: Api) -> None:
    response = await api.post("/api/v1/contacts/sync")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict" and "provider" in response.json()["detail"]
    response = await api.post("/api/v1/contacts/sync", params={"mode": "everything"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "mode"
    for limit in (0, 101, -1):
        response = await api.get("/api/v1/contacts/sync-history", params={"limit": limit})
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "limit"


async def test_tenancy_settings_history_and_data_stay_per_account(
    api: Api,
    other_api: Api,
    start_fake: Callable[..., RunningFake],
    vsleep: VirtualSleep,
) -> None:
    fake = start_fake("freshdesk")
    fake.store.create_contact({"name": "Ann", "email": "ann@a.io"})
    await configure(api, fake)
    run = await sync(api)
    assert run["created"] == 1
    assert (await other_api.get("/api/v1/contacts/settings")).json()["provider"] is None
    history = (await other_api.get("/api/v1/contacts/sync-history")).json()
    assert history == {"data": [], "total": 0, "limit": 10, "offset": 0}
    assert (await other_api.post("/api/v1/contacts/sync")).status_code == 409
    assert (await other_api.get("/api/v2/contacts")).json()["total"] == 0
    mine = (await api.get("/api/v1/contacts/sync-history", params={"limit": 1})).json()
    assert mine["total"] == 1 and mine["data"][0]["id"] == run["id"]
    assert set(run) >= {
        "id",
        "status",
        "created",
        "updated",
        "skipped",
        "deleted",
        "failed",
        "started_at",
        "finished_at",
    }
    assert run["started_at"].endswith("Z") and run["finished_at"].endswith("Z")
    assert "error" not in run


SETTINGS_Q = "{ syncSettings { autoSyncEnabled syncIntervalHours lastSyncedAt provider { type domain configured } } }"
UPDATE_M = """mutation($input: SyncSettingsInput!) {
  updateSyncSettings(input: $input) { autoSyncEnabled syncIntervalHours provider { type baseUrl configured } }
}"""
SYNC_M = "mutation($mode: SyncMode) { syncContacts(mode: $mode) { id status mode trigger created updated skipped deleted failed startedAt finishedAt error skippedReasons } }"
RUNS_Q = "query($limit: Int) { syncRuns(limit: $limit) { id status created } }"


async def test_graphql_twins(
    api: Api, start_fake: Callable[..., RunningFake], vsleep: VirtualSleep
) -> None:
    fake = start_fake("freshdesk")
    fake.store.create_contact({"name": "Ann", "email": "ann@a.io"})
    body = await api.gql(SETTINGS_Q)
    assert body["data"]["syncSettings"]["provider"] is None
    no_provider = await api.gql(SYNC_M, {"mode": "MANUAL"})
    assert no_provider["errors"][0]["extensions"]["code"] == "conflict"
    config = fake.config()
    provider = {
        "type": "freshdesk",
        "domain": config["domain"],
        "apiKey": config["api_key"],
        "baseUrl": config["base_url"],
    }
    updated = await api.gql(
        UPDATE_M,
        {"input": {"autoSyncEnabled": False, "syncIntervalHours": 6, "provider": provider}},
    )
    assert "errors" not in updated, updated
    assert updated["data"]["updateSyncSettings"]["provider"]["configured"] is True
    assert config["api_key"] not in str(updated)
    bad = await api.gql(UPDATE_M, {"input": {"syncIntervalHours": 500}})
    assert bad["errors"][0]["extensions"]["code"] == "validation_failed"
    assert bad["errors"][0]["extensions"]["field"] == "syncIntervalHours"
    bad = await api.gql(
        UPDATE_M, {"input": {"provider": {**provider, "apiKey": None, "domain": "bad domain!"}}}
    )
    assert bad["errors"][0]["extensions"]["field"] == "provider.domain"
    run = await api.gql(SYNC_M, {"mode": "FULL"})
    assert "errors" not in run, run
    assert run["data"]["syncContacts"]["status"] == "completed"
    assert run["data"]["syncContacts"]["mode"] == "full"
    assert run["data"]["syncContacts"]["created"] == 1
    runs = await api.gql(RUNS_Q, {"limit": 5})
    assert [r["id"] for r in runs["data"]["syncRuns"]] == [run["data"]["syncContacts"]["id"]]
    bad_limit = await api.gql(RUNS_Q, {"limit": 0})
    assert bad_limit["errors"][0]["extensions"]["field"] == "limit"


async def test_graphql_scopes(make_key: KeyMaker, api_as: Callable[[str | None], Api]) -> None:
    reader = api_as(await make_key("acme", ["config:read"]))
    outsider = api_as(await make_key("acme", ["contacts:read"]))
    assert "errors" not in await reader.gql(SETTINGS_Q)
    for query, variables in ((SYNC_M, {}), (UPDATE_M, {"input": {"syncIntervalHours": 2}})):
        body = await reader.gql(query, variables)
        assert body["errors"][0]["extensions"]["code"] == "forbidden"
        assert "config:write" in body["errors"][0]["message"]
    for query in (SETTINGS_Q, "{ syncRuns { id } }"):
        body = await outsider.gql(query)
        assert body["errors"][0]["extensions"]["code"] == "forbidden"
    anonymous = await api_as(None).gql(SETTINGS_Q)
    assert anonymous["errors"][0]["extensions"]["code"] == "unauthenticated"


async def test_settings_and_sync_in_one_graphql_document(
    api: Api, start_fake: Callable[..., RunningFake], vsleep: VirtualSleep
) -> None:
    fake = start_fake("freshdesk")
    fake.store.create_contact({"name": "Ann", "email": "ann@a.io"})
    config = fake.config()
    document = """mutation($input: SyncSettingsInput!) {
      updateSyncSettings(input: $input) { provider { type } }
      syncContacts(mode: FULL) { status created }
    }"""
    provider = {
        "type": "freshdesk",
        "domain": config["domain"],
        "apiKey": config["api_key"],
        "baseUrl": config["base_url"],
    }
    body = await api.gql(document, {"input": {"provider": provider}})
    assert "errors" not in body, body
    assert body["data"]["syncContacts"] == {"status": "completed", "created": 1}


async def test_a_run_longer_than_the_wait_answers_202_running_and_finishes(
    api: Api, app: Any, start_fake: Callable[..., RunningFake], vsleep: VirtualSleep
) -> None:
    fake = start_fake("freshdesk")
    fake.store.create_contact({"name": "Ann", "email": "ann@a.io"})
    await configure(api, fake)
    app.state.sync_options = replace(app.state.sync_options, wait_seconds=0.05)
    fake.faults.inject("slow", delay=0.5, path="/api/v2/companies", after=1)
    response = await api.post("/api/v1/contacts/sync")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "running"
    run_id = response.json()["id"]
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        history = (await api.get("/api/v1/contacts/sync-history")).json()["data"]
        if history[0]["status"] != "running":
            break
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)
    assert history[0]["id"] == run_id and history[0]["status"] == "completed"
    assert history[0]["created"] == 1


async def test_credentials_stored_under_another_server_key(
    api: Api, app: Any, start_fake: Callable[..., RunningFake], vsleep: VirtualSleep
) -> None:
    fake = start_fake("freshdesk")
    await configure(api, fake)
    app.state.sync_options = replace(app.state.sync_options, secret_key=b"A" * 43 + b"=")
    response = await api.post("/api/v1/contacts/sync")
    assert response.status_code == 409
    assert "CONTACTS_GATEWAY_SECRET_KEY" in response.json()["detail"]
    await configure(api, fake)  # entering the credentials again fixes it
    assert (await sync(api))["status"] == "completed"
