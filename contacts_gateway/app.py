"""Builds the FastAPI application: REST routes, GraphQL, error handlers, middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_gateway import __version__
from contacts_gateway.middleware import BodyLimitMiddleware, RequestIdMiddleware
from contacts_gateway.settings import Settings, get_settings
from db.engine import make_engine
from rest_compat import companies as companies_routes
from rest_compat import contacts as contacts_routes
from rest_compat import health
from rest_compat.errors import install_error_handlers
from schema import build_schema
from schema.router import graphql_router

DESCRIPTION = """
Contacts and companies for a customer-support helpdesk.

* **REST** — the documented Aurion CS routes under `/api/v2` and `/api/v1`.
* **GraphQL** — `POST /graphql`; GraphiQL at `GET /graphql`.

Authenticate with an API key in the `X-API-Key` header. Errors are RFC 9457 problem details.
"""


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
        try:
            yield
        finally:
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
    install_error_handlers(app)

    app.include_router(health.router)
    app.include_router(contacts_routes.router)
    app.include_router(companies_routes.router)
    schema = build_schema(
        max_depth=settings.graphql_max_depth,
        max_aliases=settings.graphql_max_aliases,
        max_tokens=settings.graphql_max_tokens,
        introspection=settings.graphql_introspection,
    )
    app.include_router(graphql_router(schema, ide=settings.graphql_ide))

    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    return app
