"""Prometheus metrics: one registry for the process, a tiny API to record, ``GET /metrics``.

Families (all prefixed ``contacts_gateway_``):

* ``http_requests_total{method,route,status}`` and ``http_request_duration_seconds{method,route}``
  — ``route`` is the route template (``/api/v2/contacts/{contact_id}``), never the raw path;
* ``graphql_operations_total{operation,type}``, ``graphql_errors_total{operation,code}`` and
  ``graphql_operation_duration_seconds{type}`` — ``operation`` is the client's operation name;
* ``db_pool_connections{state}`` — the SQLAlchemy pool, read when scraped;
* ``sync_runs_total{provider,status}``, ``sync_records_total{provider,outcome}``;
* ``webhook_deliveries_total{outcome}``, ``webhook_delivery_lag_seconds``.

Other code records through the functions below (``sync_run_finished``,
``webhook_attempted``…); the domain layer, which must not import this package, reports
through the hooks in ``resolvers/observability.py``, which :func:`install` connects.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

from graphql import GraphQLError
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from strawberry.extensions import SchemaExtension

from resolvers import observability
from resolvers.errors import DomainError

disable_created_metrics()  # no `_created` series beside every counter and histogram
REGISTRY = CollectorRegistry(auto_describe=True)
_P = "contacts_gateway_"
#: Latency buckets (seconds): a fast API; everything beyond 10 s is an incident anyway.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

HTTP_REQUESTS = Counter(
    _P + "http_requests_total",
    "HTTP requests by route template, method and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    _P + "http_request_duration_seconds",
    "Time to the end of the response, by route template and method.",
    ["method", "route"],
    buckets=_BUCKETS,
    registry=REGISTRY,
)
GRAPHQL_OPERATIONS = Counter(
    _P + "graphql_operations_total",
    "GraphQL operations by operation name and type (query, mutation, subscription).",
    ["operation", "type"],
    registry=REGISTRY,
)
GRAPHQL_ERRORS = Counter(
    _P + "graphql_errors_total",
    "Errors in GraphQL results by operation name and extensions.code.",
    ["operation", "code"],
    registry=REGISTRY,
)
GRAPHQL_DURATION = Histogram(
    _P + "graphql_operation_duration_seconds",
    "Time to parse, validate and execute a GraphQL operation.",
    ["type"],
    buckets=_BUCKETS,
    registry=REGISTRY,
)
DB_POOL = Gauge(
    _P + "db_pool_connections",
    "Database connections: pool size, checked out (in use), checked in (idle), overflow.",
    ["state"],
    registry=REGISTRY,
)
SYNC_RUNS = Counter(
    _P + "sync_runs_total",
    "Finished provider sync runs by provider and status.",
    ["provider", "status"],
    registry=REGISTRY,
)
SYNC_RECORDS = Counter(
    _P + "sync_records_total",
    "Records a sync wrote, by provider and outcome (created, updated, deleted, …).",
    ["provider", "outcome"],
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    _P + "webhook_deliveries_total",
    "Webhook delivery attempts by outcome (delivered, retry, failed, …).",
    ["outcome"],
    registry=REGISTRY,
)
WEBHOOK_LAG = Histogram(
    _P + "webhook_delivery_lag_seconds",
    "Time from the event to its successful delivery.",
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 1800, 7200, 36000, 86400),
    registry=REGISTRY,
)

#: Client-chosen operation names are capped, so a client cannot grow the label set forever.
MAX_OPERATION_NAMES = 200
_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,63}$")
_seen_operations: set[str] = set()


def operation_label(name: str | None) -> str:
    """The label of a GraphQL operation name: ``anonymous``, the name, or ``other``."""
    if not name:
        return "anonymous"
    if not _NAME.match(name):
        return "other"
    if name not in _seen_operations:
        if len(_seen_operations) >= MAX_OPERATION_NAMES:
            return "other"
        _seen_operations.add(name)
    return name


def route_label(scope: Mapping[str, Any]) -> str:
    """The route template that answered (``unmatched`` for 404s no route claimed)."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else "unmatched"


def request_finished(scope: Mapping[str, Any], status: int, seconds: float) -> None:
    """Record one HTTP request (the request-id middleware calls this for every request)."""
    method = str(scope.get("method", "-"))
    route = route_label(scope)
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_DURATION.labels(method, route).observe(seconds)


def graphql_operation(name: str | None, kind: str, codes: list[str], seconds: float) -> None:
    """Record one GraphQL operation and the ``extensions.code`` of each error it answered."""
    label = operation_label(name)
    GRAPHQL_OPERATIONS.labels(label, kind).inc()
    GRAPHQL_DURATION.labels(kind).observe(seconds)
    for code in codes:
        GRAPHQL_ERRORS.labels(label, code).inc()


def sync_run_finished(provider: str, status: str, counts: Mapping[str, int]) -> None:
    """Record a finished sync run and what it wrote (``counts``: outcome → records)."""
    SYNC_RUNS.labels(provider, status).inc()
    for outcome, count in counts.items():
        if count:
            SYNC_RECORDS.labels(provider, outcome).inc(count)


def webhook_attempted(outcome: str, lag_seconds: float | None = None) -> None:
    """Record one delivery attempt; ``lag_seconds`` (event → delivered) for successful ones."""
    WEBHOOK_DELIVERIES.labels(outcome).inc()
    if lag_seconds is not None:
        WEBHOOK_LAG.observe(max(lag_seconds, 0.0))


def observe_pool(engine: Any) -> None:
    """Copy the engine's pool counters into the gauge (SQLite's NullPool etc. report 0)."""
    pool = engine.sync_engine.pool
    for state, method in (
        ("size", "size"),
        ("checked_out", "checkedout"),
        ("checked_in", "checkedin"),
        ("overflow", "overflow"),
    ):
        reader = getattr(pool, method, None)
        value = reader() if callable(reader) else 0
        DB_POOL.labels(state).set(max(int(value), 0))


class GraphQLMetrics(SchemaExtension):
    """Counts each operation by name and type, and each error in its result by code."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        except Exception as exc:  # parse errors leave the operation by raising
            code = "validation_failed" if isinstance(exc, GraphQLError) else "internal"
            graphql_operation(None, "invalid", [code], time.perf_counter() - started)
            raise
        context = self.execution_context
        try:
            kind = context.operation_type.value
            name = context.operation_name
        except Exception:  # an unparsable document has no operation
            kind, name = "invalid", None
        result = context.result
        errors = list(getattr(result, "errors", None) or []) or list(
            context.pre_execution_errors or []
        )
        graphql_operation(
            name, kind, [error_code(e) for e in errors], time.perf_counter() - started
        )


def error_code(error: Any) -> str:
    """The ``extensions.code`` the client sees (parse and validation errors get theirs later)."""
    code = (error.extensions or {}).get("code")
    if code:
        return str(code)
    original = getattr(error, "original_error", None)
    if isinstance(original, DomainError):
        return original.code
    return (
        "validation_failed"
        if original is None or isinstance(original, GraphQLError)
        else "internal"
    )


def metrics_endpoint(token: str | None) -> Any:
    """``GET /metrics``: the Prometheus text format; with ``token``, only for that bearer."""
    expected = f"Bearer {token}".encode() if token else None

    async def endpoint(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return Response(
                    "metrics need the bearer token\n",
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                    media_type="text/plain",
                )
        observe_pool(request.app.state.engine)
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return endpoint


def install(app: Any, *, enabled: bool, token: str | None) -> None:
    """Serve ``/metrics`` (when ``enabled``) and connect the domain layer's hooks."""
    observability.on_sync_run_finished(sync_run_finished)
    if enabled:
        app.add_route("/metrics", metrics_endpoint(token), methods=["GET"], include_in_schema=False)
