"""The webhooks API (REST and GraphQL): rules, secrets, tenancy, scopes and bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db.queries.webhooks import endpoint
from tests.conftest import Api, KeyMaker
from tests.rest._support import assert_problem

URL = "https://hooks.example.com/in"  # never called: no worker runs in these tests


@pytest.fixture
def public_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run as production does: private and http URLs refused."""
    monkeypatch.setenv("CONTACTS_GATEWAY_ALLOW_PRIVATE_URLS", "0")


async def _create(api: Api, **body: Any) -> dict[str, Any]:
    r = await api.post("/api/v2/webhooks", json={"url": "http://127.0.0.1:9/h", **body})
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_returns_the_secret_once(api: Api, engine: AsyncEngine) -> None:
    created = await _create(api, events=["contact.*", "company.deleted"], description=" CRM ")
    assert created["id"].startswith("wh_")
    assert created["secret"].startswith("whsec_")
    import base64

    assert len(base64.b64decode(created["secret"][6:])) >= 24
    assert created["events"] == ["contact.*", "company.deleted"]
    assert created["description"] == "CRM" and created["enabled"] is True
    got = (await api.get(f"/api/v2/webhooks/{created['id']}")).json()
    assert "secret" not in got and got == {k: v for k, v in created.items() if k != "secret"}
    listed = (await api.get("/api/v2/webhooks")).json()
    assert listed["total"] == 1 and "secret" not in listed["data"][0]
    assert {"data", "total", "limit", "offset"} == set(listed)
    # Nor through GraphQL.
    body = await api.gql("{ webhooks { nodes { id url } totalCount } }")
    assert body["data"]["webhooks"]["totalCount"] == 1
    # The default filter is everything.
    default = await _create(api)
    assert default["events"] == ["*"]


async def test_patch_delete_and_their_rules(api: Api) -> None:
    hook = await _create(api)
    r = await api.patch(
        f"/api/v2/webhooks/{hook['id']}",
        json={"events": ["company.*"], "enabled": False, "description": "off"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["events"] == ["company.*"] and r.json()["enabled"] is False
    assert_problem(
        await api.patch(f"/api/v2/webhooks/{hook['id']}", json={"url": None}),
        422,
        "validation_failed",
        "url",
    )
    assert (await api.delete(f"/api/v2/webhooks/{hook['id']}")).status_code == 204
    assert_problem(await api.get(f"/api/v2/webhooks/{hook['id']}"), 404, "not_found")
    assert_problem(await api.delete(f"/api/v2/webhooks/{hook['id']}"), 404, "not_found")


async def test_only_matching_events_are_queued(api: Api, engine: AsyncEngine) -> None:
    contacts_hook = await _create(api, events=["contact.created"])
    all_hook = await _create(api, events=["*"])
    disabled = await _create(api, events=["*"], enabled=False)
    await api.post("/api/v2/contacts", json={"name": "Ann"})
    await api.post("/api/v2/companies", json={"name": "Acme"})
    counts = {}
    for h in (contacts_hook, all_hook, disabled):
        counts[h["id"]] = (await api.get(f"/api/v2/webhooks/{h['id']}/deliveries")).json()["total"]
    assert counts == {contacts_hook["id"]: 1, all_hook["id"]: 2, disabled["id"]: 0}
    assert_problem(await api.post(f"/api/v2/webhooks/{disabled['id']}/test"), 409, "conflict")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "url"),
        ({"url": ""}, "url"),
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://user:pw@example.com/x"}, "url"),
        ({"url": "https://example.com/" + "x" * 2100}, "url"),
        ({"url": URL, "events": []}, "events"),
        ({"url": URL, "events": ["contact.exploded"]}, "events"),
        ({"url": URL, "events": ["ping"]}, "events"),
        ({"url": URL, "events": "contact.*"}, "events"),
        ({"url": URL, "events": [""]}, "events.0"),
        ({"url": URL, "enabled": "maybe"}, "enabled"),
        ({"url": URL, "description": "d" * 501}, "description"),
        ({"url": URL, "secret": "whsec_mine"}, "secret"),
        ({"url": URL, "id": "wh_mine"}, "id"),
    ],
)
async def test_bad_input_is_422_naming_the_field(
    api: Api, engine: AsyncEngine, body: dict[str, Any], field: str
) -> None:
    assert_problem(await api.post("/api/v2/webhooks", json=body), 422, "validation_failed", field)
    async with engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(endpoint)) == 0


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/h",
        "https://10.0.0.1/h",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/h",
        "https://[::ffff:127.0.0.1]/h",
        "https://localhost:8443/h",
        "https://0.0.0.0/h",
        "https://192.168.1.10/h",
        "http://93.184.216.34/h",  # public, but http
    ],
)
async def test_private_or_plain_http_urls_refused(api: Api, public_only: None, url: str) -> None:
    assert_problem(
        await api.post("/api/v2/webhooks", json={"url": url}), 422, "validation_failed", "url"
    )


async def test_private_url_refused_on_patch_too(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = await _create(api)
    monkeypatch.setenv("CONTACTS_GATEWAY_ALLOW_PRIVATE_URLS", "0")
    assert_problem(
        await api.patch(f"/api/v2/webhooks/{hook['id']}", json={"url": "https://10.0.0.1/h"}),
        422,
        "validation_failed",
        "url",
    )


async def test_public_https_url_accepted(api: Api, public_only: None) -> None:
    r = await api.post("/api/v2/webhooks", json={"url": "https://93.184.216.34/hooks"})
    assert r.status_code == 201, r.text


def _routes(hook_id: str, delivery_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", f"/api/v2/webhooks/{hook_id}", None),
        ("PATCH", f"/api/v2/webhooks/{hook_id}", {"description": "x"}),
        ("POST", f"/api/v2/webhooks/{hook_id}/rotate-secret", None),
        ("POST", f"/api/v2/webhooks/{hook_id}/test", None),
        ("GET", f"/api/v2/webhooks/{hook_id}/deliveries", None),
        ("POST", f"/api/v2/webhooks/{hook_id}/deliveries/{delivery_id}/retry", None),
        ("DELETE", f"/api/v2/webhooks/{hook_id}", None),
    ]


async def test_another_accounts_webhook_is_404_everywhere(api: Api, other_api: Api) -> None:
    hook = await _create(api)
    delivery = (await api.post(f"/api/v2/webhooks/{hook['id']}/test")).json()
    for method, path, body in _routes(hook["id"], delivery["id"]):
        r = await other_api.request(method, path, json=body)
        assert_problem(r, 404, "not_found")
    assert (await other_api.get("/api/v2/webhooks")).json()["total"] == 0
    # Still intact for its owner.
    assert (await api.get(f"/api/v2/webhooks/{hook['id']}")).status_code == 200
    # A delivery id of another endpoint of the same account is 404 too.
    other_hook = await _create(api)
    assert_problem(
        await api.post(f"/api/v2/webhooks/{other_hook['id']}/deliveries/{delivery['id']}/retry"),
        404,
        "not_found",
    )


async def test_scopes(api: Api, make_key: KeyMaker, api_as: Callable[[str | None], Api]) -> None:
    hook = await _create(api)
    delivery = (await api.post(f"/api/v2/webhooks/{hook['id']}/test")).json()
    reader = api_as(await make_key("acme", scopes=["config:read"]))
    contacts_only = api_as(await make_key("acme", scopes=["contacts:read", "contacts:write"]))
    anonymous = api_as(None)
    for method, path, body in [
        ("GET", "/api/v2/webhooks", None),
        ("POST", "/api/v2/webhooks", {"url": URL}),
        *_routes(hook["id"], delivery["id"]),
    ]:
        assert_problem(await anonymous.request(method, path, json=body), 401, "unauthenticated")
        r = await contacts_only.request(method, path, json=body)
        assert_problem(r, 403, "forbidden")
        r = await reader.request(method, path, json=body)
        if method == "GET":
            assert r.status_code == 200, (path, r.text)
        else:
            assert_problem(r, 403, "forbidden")
            assert "config:write" in r.json()["detail"]


async def test_pagination_and_bad_paging(api: Api) -> None:
    for _ in range(3):
        await _create(api)
    page = (await api.get("/api/v2/webhooks", params={"limit": 2, "offset": 1})).json()
    assert page["total"] == 3 and len(page["data"]) == 2 and page["offset"] == 1
    for params in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "x"}):
        r = await api.get("/api/v2/webhooks", params=params)
        assert r.status_code == 422, (params, r.text)
    hook = page["data"][0]
    r = await api.get(f"/api/v2/webhooks/{hook['id']}/deliveries", params={"limit": 0})
    assert r.status_code == 422


async def test_graphql_twins(api: Api, other_api: Api, public_only: None) -> None:
    created = await api.gql(
        """mutation($url: String!) { createWebhook(input: {url: $url, events: ["contact.*"]}) {
             secret webhook { id url events enabled } } }""",
        {"url": "https://93.184.216.34/h"},
    )
    out = created["data"]["createWebhook"]
    assert out["secret"].startswith("whsec_")
    hook_id = out["webhook"]["id"]
    refused = await api.gql(
        """mutation { createWebhook(input: {url: "https://169.254.169.254/x"}) { secret } }"""
    )
    assert refused["errors"][0]["extensions"]["code"] == "validation_failed"
    assert refused["errors"][0]["extensions"]["field"] == "url"
    bad = await api.gql("""mutation { createWebhook(input: {url: "https://93.184.216.34/h",
        events: ["nope.*"]}) { secret } }""")
    assert bad["errors"][0]["extensions"]["field"] == "events"
    updated = await api.gql(
        """mutation($id: ID!) { updateWebhook(id: $id, input: {enabled: false}) { enabled } }""",
        {"id": hook_id},
    )
    assert updated["data"]["updateWebhook"]["enabled"] is False
    rotated = await api.gql(
        """mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret
             webhook { previousSecretExpiresAt } } }""",
        {"id": hook_id},
    )
    assert rotated["data"]["rotateWebhookSecret"]["secret"] != out["secret"]
    await api.gql(
        """mutation($id: ID!) { updateWebhook(id: $id, input: {enabled: true}) { enabled } }""",
        {"id": hook_id},
    )
    ping = await api.gql(
        """mutation($id: ID!) { testWebhook(id: $id) { id eventType status } }""", {"id": hook_id}
    )
    delivery_id = ping["data"]["testWebhook"]["id"]
    log = await api.gql(
        """query($id: ID!) { webhookDeliveries(webhookId: $id) { totalCount
             nodes { id status attempts lastStatusCode } } }""",
        {"id": hook_id},
    )
    assert log["data"]["webhookDeliveries"]["totalCount"] == 1
    retried = await api.gql(
        """mutation($w: ID!, $d: ID!) { retryWebhookDelivery(webhookId: $w, deliveryId: $d) {
             status } }""",
        {"w": hook_id, "d": delivery_id},
    )
    assert retried["data"]["retryWebhookDelivery"]["status"] == "pending"
    # Tenancy: null for a read, not_found for a change.
    other = await other_api.gql("query($id: ID!) { webhook(id: $id) { id } }", {"id": hook_id})
    assert other["data"]["webhook"] is None
    other = await other_api.gql("mutation($id: ID!) { deleteWebhook(id: $id) }", {"id": hook_id})
    assert other["errors"][0]["extensions"]["code"] == "not_found"
    deleted = await api.gql("mutation($id: ID!) { deleteWebhook(id: $id) }", {"id": hook_id})
    assert deleted["data"]["deleteWebhook"] == hook_id


async def test_graphql_scopes(make_key: KeyMaker, api_as: Callable[[str | None], Api]) -> None:
    contacts_only = api_as(await make_key("acme", scopes=["contacts:read"]))
    body = await contacts_only.gql("{ webhooks { totalCount } }")
    assert body["errors"][0]["extensions"]["code"] == "forbidden"
    reader = api_as(await make_key("acme", scopes=["config:read"]))
    body = await reader.gql(
        'mutation { createWebhook(input: {url: "http://127.0.0.1:9/x"}) { secret } }'
    )
    assert body["errors"][0]["extensions"]["code"] == "forbidden"
