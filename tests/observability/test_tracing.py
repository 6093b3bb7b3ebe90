"""Tracing: spans for HTTP requests, GraphQL operations and SQL statements when an OTLP
endpoint is configured (collected here by the in-memory exporter: no network); none otherwise."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_gateway import tracing
from contacts_gateway.app import create_app
from contacts_gateway.settings import Settings

pytest.importorskip("opentelemetry.sdk.trace", reason="the [otel] extra is not installed")
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

EXPORTER = InMemorySpanExporter()


@pytest.fixture
async def traced(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    # Nothing listens on this port: were the OTLP exporter used, the spans would be lost.
    on = settings.model_copy(update={"otlp_endpoint": "http://127.0.0.1:9"})
    tracing.setup_provider(on, exporter=EXPORTER)  # the process's provider, made once
    app = create_app(on, engine=engine)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        EXPORTER.clear()
        yield client


async def test_a_request_traces_http_graphql_and_sql_in_one_trace(
    traced: httpx.AsyncClient, key: str
) -> None:
    EXPORTER.clear()  # the key's creation ran traced too
    response = await traced.post(
        "/graphql",
        json={"query": "query Traced { contacts(first: 3) { totalCount nodes { id } } }"},
        headers={"X-API-Key": key},
    )
    assert response.status_code == 200 and "errors" not in response.json()
    spans = EXPORTER.get_finished_spans()
    http = [s for s in spans if s.attributes and s.attributes.get("http.method") == "POST"]
    server = [s for s in http if s.kind.name == "SERVER"]
    assert server, [s.name for s in spans]
    graphql = [s for s in spans if "Traced" in s.name or "GraphQL" in s.name]
    assert graphql, [s.name for s in spans]
    sql = [s for s in spans if s.attributes and "db.system" in s.attributes]
    assert sql, [s.name for s in spans]
    trace_ids = {s.context.trace_id for s in [*server, *graphql, *sql]}
    assert len(trace_ids) == 1, "HTTP, GraphQL and SQL spans belong to one trace"
    statements = " ".join(str(s.attributes.get("db.statement", "")) for s in sql if s.attributes)
    assert key not in statements and all(key not in str(s.attributes) for s in spans)


async def test_rest_requests_are_traced_and_health_checks_are_not(
    traced: httpx.AsyncClient, key: str
) -> None:
    EXPORTER.clear()
    assert (await traced.get("/api/v2/contacts", headers={"X-API-Key": key})).status_code == 200
    assert (await traced.get("/healthz")).status_code == 200
    names = [s.name for s in EXPORTER.get_finished_spans()]
    assert any(n.startswith("GET /api/v2/contacts") for n in names), names
    assert not any("healthz" in n for n in names), names


async def test_without_an_endpoint_nothing_is_instrumented(
    settings: Settings, engine: AsyncEngine
) -> None:
    assert settings.otlp_endpoint is None
    assert tracing.graphql_extensions(settings) == []
    app = create_app(settings, engine=engine)
    assert not any("OpenTelemetry" in m.cls.__name__ for m in app.user_middleware)  # type: ignore[attr-defined]
    EXPORTER.clear()
    async with engine.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))
    assert EXPORTER.get_finished_spans() == ()


async def test_endpoint_without_the_otel_packages_warns_once_and_runs_untraced(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.instrumentation.asgi", None)
    monkeypatch.setattr(tracing, "_warned", False)
    on = settings.model_copy(update={"otlp_endpoint": "http://127.0.0.1:9"})
    with caplog.at_level(logging.WARNING, logger="contacts_gateway.tracing"):
        assert tracing.enabled(on) is False
        assert tracing.enabled(on) is False
    warnings = [r for r in caplog.records if "OpenTelemetry is not installed" in r.getMessage()]
    assert len(warnings) == 1
