"""Builds the FastAPI application: REST routes, GraphQL, error handlers, middleware."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_gateway import __version__, metrics, tracing
from contacts_gateway.limits import (
    RateLimitMiddleware,
    TimeoutMiddleware,
    purge_idempotency_forever,
)
from contacts_gateway.metrics import GraphQLMetrics
from contacts_gateway.middleware import (
    BodyLimitMiddleware,
    RequestIdMiddleware,
    is_upload,
    upload_patterns,
)
from contacts_gateway.pubsub import EventHub
from contacts_gateway.ratelimit import Policy, make_limiter
from contacts_gateway.retry import RetryTransactions
from contacts_gateway.scheduler import SyncScheduler, sync_options_from
from contacts_gateway.settings import Settings, get_settings
from contacts_gateway.worker import DeliveryWorker
from db.engine import make_engine
from db.retry import RetryPolicy
from resolvers.blobstore import LocalBlobStore
from rest_compat import activity as activity_routes
from rest_compat import attachments as attachment_routes
from rest_compat import companies as companies_routes
from rest_compat import contacts as contacts_routes
from rest_compat import custom_fields as custom_field_routes
from rest_compat import health
from rest_compat import sync as sync_routes
from rest_compat import webhooks as webhook_routes
from rest_compat.errors import install_error_handlers
from schema import build_schema
from schema.router import IdeOptions, graphql_router

DESCRIPTION = """
Contacts and companies for a customer-support helpdesk.

* **REST** — the documented Aurion CS routes under `/api/v2` and `/api/v1`.
* **GraphQL** — `POST /graphql`; GraphiQL at `GET /graphql`.

Authenticate with an API key in the `X-API-Key` header. Errors are RFC 9457 problem details.
"""


GRAPHIQL_ASSETS = Path(__file__).with_name("static") / "graphiql"

#: Routes that take multipart file uploads (their own body limit; never replayed).
UPLOAD_PATHS = ("/api/v2/contacts/*/attachments", "/graphql")
UPLOAD_FRAMING_BYTES = 64 * 1024
_UPLOADS = upload_patterns(UPLOAD_PATHS)


def engine_for(settings: Settings) -> AsyncEngine:
    """The database engine the settings describe."""
    return make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
    )


def create_app(settings: Settings | None = None, engine: AsyncEngine | None = None) -> FastAPI:
    """The whole application; ``engine`` may be given (tests share one), else one is created."""
    settings = settings or get_settings()
    owns_engine = engine is None
    engine = engine or engine_for(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        purger = asyncio.create_task(
            purge_idempotency_forever(engine, settings.idempotency_purge_seconds)
        )
        scheduler = None
        if settings.scheduler_enabled:
            scheduler = SyncScheduler(
                engine, app.state.sync_options, poll_seconds=settings.scheduler_poll_seconds
            )
            scheduler.start()
        hub: EventHub = app.state.event_hub
        await hub.start()
        worker = None
        if settings.webhook_worker_enabled:
            worker = DeliveryWorker(engine, settings, hub=hub)
            await worker.start()
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
            await hub.stop()
            if scheduler is not None:
                await scheduler.stop()
            purger.cancel()
            await app.state.limiter.close()
            if owns_engine:
                await engine.dispose()

    app = FastAPI(
        title="contacts-gateway",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.limiter = make_limiter(settings.redis_url)
    app.state.sync_options = sync_options_from(settings)
    app.state.event_hub = EventHub(
        engine, poll_seconds=settings.events_poll_seconds, redis_url=settings.redis_url
    )
    app.state.request_extras = {
        "blob_store": LocalBlobStore(settings.blob_dir or settings.data_dir / "blobs"),
        "max_upload_bytes": settings.max_upload_bytes,
    }
    install_error_handlers(app)

    app.include_router(health.router)
    app.include_router(contacts_routes.router)
    app.include_router(companies_routes.router)
    app.include_router(activity_routes.router)
    app.include_router(attachment_routes.router)
    app.include_router(custom_field_routes.router)
    app.include_router(sync_routes.router)
    app.include_router(webhook_routes.router)
    schema = build_schema(
        max_depth=settings.graphql_max_depth,
        max_aliases=settings.graphql_max_aliases,
        max_tokens=settings.graphql_max_tokens,
        introspection=settings.graphql_introspection and not settings.production,
        max_cost=settings.graphql_max_cost,
        field_suggestions=not settings.production,
        extra_extensions=[GraphQLMetrics, *tracing.graphql_extensions(settings)],
    )
    metrics.install(app, enabled=settings.metrics_enabled, token=settings.metrics_token)
    tracing.install(app, settings, engine)
    ide = settings.graphql_ide and not settings.production
    app.include_router(
        graphql_router(schema, ide=ide, ide_options=IdeOptions(demo_key=settings.demo_key))
    )
    if ide:  # GraphiQL's JS/CSS, vendored: the IDE works offline (see static/graphiql/NOTICE.md)
        app.mount("/static/graphiql", StaticFiles(directory=GRAPHIQL_ASSETS), name="graphiql")

    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        # Multipart uploads stream to disk: the file limit plus room for the form's framing.
        upload_max_bytes=settings.max_upload_bytes + UPLOAD_FRAMING_BYTES,
        upload_paths=UPLOAD_PATHS,
    )
    app.add_middleware(  # uploads stream through once: their bodies are not recorded
        RetryTransactions,
        policy=RetryPolicy(attempts=settings.db_retry_attempts),
        no_replay=lambda scope: is_upload(scope, _UPLOADS),
    )  # re-runs requests PostgreSQL aborted (40001/40P01)
    app.add_middleware(TimeoutMiddleware, seconds=settings.request_timeout_seconds)
    if settings.rate_limit_enabled:
        app.add_middleware(
            RateLimitMiddleware,
            limiter=app.state.limiter,
            key_policy=Policy("per-key", settings.rate_limit_per_second, settings.rate_limit_burst),
            auth_policy=Policy(
                "auth-failures", settings.auth_failure_per_minute / 60, settings.auth_failure_burst
            ),
        )
    app.add_middleware(RequestIdMiddleware)
    return app
