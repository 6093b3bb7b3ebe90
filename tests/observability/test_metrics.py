"""``GET /metrics``: every family after a short scripted session; route templates, not paths;
GraphQL operations by name with error codes; pool gauges; off or behind a token by setting."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_gateway import metrics
from contacts_gateway.app import create_app
from contacts_gateway.settings import Settings
from resolvers import observability
from tests.conftest import Api

FAMILIES = [
    "contacts_gateway_http_requests_total",
    "contacts_gateway_http_request_duration_seconds",
    "contacts_gateway_graphql_operations_total",
    "contacts_gateway_graphql_errors_total",
    "contacts_gateway_graphql_operation_duration_seconds",
    "contacts_gateway_db_pool_connections",
    "contacts_gateway_sync_runs_total",
    "contacts_gateway_sync_records_total",
    "contacts_gateway_webhook_deliveries_total",
    "contacts_gateway_webhook_delivery_lag_seconds",
]


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in the exposition text (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(4))
    return 0.0


async def scrape(client: httpx.AsyncClient, **headers: str) -> str:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return response.text


async def test_a_short_session_shows_every_family(
    api: Api, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    before = await scrape(client)
    route = "/api/v2/contacts/{contact_id}"
    created = await api.post("/api/v2/contacts", json={"name": "Ada", "email": "ada@example.com"})
    assert created.status_code == 201
    assert (await api.get(f"/api/v2/contacts/{created.json()['id']}")).status_code == 200
    assert (await api.get("/api/v2/contacts/ct_missing")).status_code == 404
    assert (await client.get("/no/such/route")).status_code == 404
    ok = await api.gql("query MetricsProbe { contacts(first: 2) { totalCount } }")
    assert "errors" not in ok
    bad = await api.gql('query MetricsProbe { contact(id: "x") { nme } }')
    assert bad["errors"]
    unparsable = await api.post("/graphql", json={"query": "query Broken { contacts("})
    assert unparsable.json()["errors"][0]["extensions"]["code"] == "validation_failed"
    denied = await client.post(
        "/graphql", json={"query": "query MetricsDenied { contacts(first: 1) { totalCount } }"}
    )
    assert denied.json()["errors"][0]["extensions"]["code"] == "unauthenticated"
    # The domain layer's hook (sync runs) and the delivery worker's call (webhooks).
    observability.sync_run_finished("freshdesk", "completed", {"created": 7, "updated": 2})
    metrics.webhook_attempted("delivered", lag_seconds=1.5)

    text = await scrape(client)
    for family in FAMILIES:
        assert re.search(rf"^# TYPE {family.removesuffix('_total')}(_total)? ", text, re.M), family

    def grew(name: str, **labels: str) -> float:
        return sample(text, name, **labels) - sample(before, name, **labels)

    http = "contacts_gateway_http_requests_total"
    assert grew(http, method="GET", route=route, status="200") == 1
    assert grew(http, method="GET", route=route, status="404") == 1
    assert grew(http, method="POST", route="/api/v2/contacts", status="201") == 1
    assert grew(http, method="GET", route="unmatched", status="404") == 1
    assert "ct_missing" not in text and "/no/such/route" not in text  # templates, not paths
    assert (
        grew("contacts_gateway_http_request_duration_seconds_count", method="GET", route=route) == 2
    )
    ops = "contacts_gateway_graphql_operations_total"
    assert grew(ops, operation="MetricsProbe", type="query") == 2
    errors = "contacts_gateway_graphql_errors_total"
    assert grew(errors, operation="MetricsProbe", code="validation_failed") == 1
    assert grew(errors, operation="MetricsDenied", code="unauthenticated") == 1
    assert grew(ops, operation="anonymous", type="invalid") == 1  # the syntax error
    assert grew("contacts_gateway_sync_runs_total", provider="freshdesk", status="completed") == 1
    assert grew("contacts_gateway_sync_records_total", provider="freshdesk", outcome="created") == 7
    assert grew("contacts_gateway_webhook_deliveries_total", outcome="delivered") == 1
    assert grew("contacts_gateway_webhook_delivery_lag_seconds_count") == 1
    assert 'contacts_gateway_db_pool_connections{state="checked_out"}' in text


async def test_pool_gauge_counts_connections_in_use(
    client: httpx.AsyncClient, engine: AsyncEngine, dialect: str
) -> None:
    async with engine.connect() as held:
        await held.exec_driver_sql("SELECT 1")
        text = await scrape(client)
        in_use = sample(text, "contacts_gateway_db_pool_connections", state="checked_out")
        assert in_use >= 1
    text = await scrape(client)
    assert sample(text, "contacts_gateway_db_pool_connections", state="checked_out") < in_use


async def test_graphql_operation_names_are_capped(api: Api) -> None:
    for i in range(metrics.MAX_OPERATION_NAMES + 5):
        metrics.operation_label(f"Op{i}")
    assert metrics.operation_label("NeverSeenBeforeXyz") == "other"
    assert metrics.operation_label(None) == "anonymous"
    assert metrics.operation_label("bad name{}") == "other"


async def _client_for(settings: Settings, engine: AsyncEngine) -> Any:
    app = create_app(settings, engine=engine)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    )


async def test_metrics_can_be_switched_off(settings: Settings, engine: AsyncEngine) -> None:
    off = settings.model_copy(update={"metrics_enabled": False})
    async with await _client_for(off, engine) as client:
        assert (await client.get("/metrics")).status_code == 404


@pytest.mark.parametrize(
    ("given", "status"),
    [(None, 401), ("Bearer wrong", 401), ("s3cret-metrics", 401), ("Bearer s3cret-metrics", 200)],
)
async def test_metrics_token_is_required_when_set(
    settings: Settings, engine: AsyncEngine, given: str | None, status: int
) -> None:
    protected = settings.model_copy(update={"metrics_token": "s3cret-metrics"})
    headers = {"Authorization": given} if given else {}
    async with await _client_for(protected, engine) as client:
        response = await client.get("/metrics", headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "contacts_gateway_" not in response.text


async def test_a_real_sync_run_is_counted(api: Api, client: httpx.AsyncClient) -> None:
    from providers.fake_testing import running_fake

    before = await scrape(client)
    with running_fake("freshdesk", contacts=5) as fake:
        configured = await api.put("/api/v1/contacts/settings", json={"provider": fake.config()})
        assert configured.status_code == 200, configured.text
        run = await api.post("/api/v1/contacts/sync?mode=full")
    assert run.status_code == 200, run.text
    assert run.json()["status"] == "completed" and run.json()["created"] == 5
    text = await scrape(client)
    runs = "contacts_gateway_sync_runs_total"
    records = "contacts_gateway_sync_records_total"
    assert (
        sample(text, runs, provider="freshdesk", status="completed")
        - sample(before, runs, provider="freshdesk", status="completed")
        == 1
    )
    assert (
        sample(text, records, provider="freshdesk", outcome="created")
        - sample(before, records, provider="freshdesk", outcome="created")
        == 5
    )
