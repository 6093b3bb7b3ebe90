"""OpenTelemetry tracing, on only when ``CONTACTS_GATEWAY_OTLP_ENDPOINT`` is set.

Spans: one per HTTP request (the ASGI instrumentation), the GraphQL operation with its
parse/validate/resolve steps (Strawberry's ``OpenTelemetryExtension``), and one per database
statement (the SQLAlchemy instrumentation), exported over OTLP/HTTP in batches.

The OpenTelemetry packages are the optional extra ``contacts-gateway[otel]``: without an
endpoint nothing is imported and nothing is added to the request path; with an endpoint but
without the packages, the server logs one warning and runs untraced.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from contacts_gateway.settings import Settings

log = logging.getLogger("contacts_gateway.tracing")

_provider: Any = None
_instrumented_engines: weakref.WeakSet[Any] = weakref.WeakSet()
_warned = False


def available() -> bool:
    """Whether the ``otel`` extra is installed."""
    try:
        import opentelemetry.instrumentation.asgi
        import opentelemetry.instrumentation.sqlalchemy
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        return False
    return True


def enabled(settings: Settings) -> bool:
    """Tracing is on: an endpoint is configured and the packages are there (else warn once)."""
    global _warned
    if not settings.otlp_endpoint:
        return False
    if available():
        return True
    if not _warned:
        _warned = True
        log.warning(
            "CONTACTS_GATEWAY_OTLP_ENDPOINT is set but OpenTelemetry is not installed:"
            " tracing is off (pip install 'contacts-gateway[otel]')"
        )
    return False


def setup_provider(settings: Settings, exporter: Any = None) -> Any:
    """The process's tracer provider, made once: OTLP/HTTP to the endpoint, or ``exporter``."""
    global _provider
    if _provider is not None:
        return _provider
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: settings.otel_service_name}))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = str(settings.otlp_endpoint).rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    else:  # tests and tools hand in their own exporter (e.g. the in-memory one)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    _provider = provider
    return provider


def graphql_extensions(settings: Settings) -> list[Any]:
    """Strawberry's OpenTelemetry extension when tracing is on (none otherwise)."""
    if not enabled(settings):
        return []
    from strawberry.extensions.tracing import OpenTelemetryExtension

    provider = setup_provider(settings)
    return [lambda: OpenTelemetryExtension(tracer_provider=provider)]


def install(app: Any, settings: Settings, engine: Any) -> None:
    """HTTP request spans on ``app`` and statement spans on ``engine``, when tracing is on."""
    if not enabled(settings):
        return
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.instrumentation.sqlalchemy.version import __version__ as sa_version
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.trace import get_tracer

    provider = setup_provider(settings)
    app.add_middleware(
        OpenTelemetryMiddleware, tracer_provider=provider, excluded_urls="healthz,readyz,metrics"
    )
    sync_engine = engine.sync_engine
    if sync_engine not in _instrumented_engines:
        _instrumented_engines.add(sync_engine)
        tracer = get_tracer("contacts_gateway.db", sa_version, provider)
        usage = (
            NoOpMeterProvider()
            .get_meter("contacts_gateway.db")
            .create_up_down_counter("db.client.connections.usage")
        )
        EngineTracer(tracer, sync_engine, usage)
