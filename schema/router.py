"""The FastAPI router serving POST /graphql and GraphiQL on GET /graphql."""

from __future__ import annotations

from typing import Any

import orjson
import strawberry
from fastapi import Request
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from schema.context import get_context
from schema.errors import map_error


class GatewayGraphQLRouter(GraphQLRouter[Any, Any]):
    """Strawberry's router, encoding responses with orjson."""

    def encode_json(self, data: GraphQLHTTPResponse) -> bytes:  # type: ignore[override]
        return orjson.dumps(data)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """Give every error an ``extensions.code``, also those raised before execution (syntax)."""
        if result.errors:
            request_id = str(getattr(request.state, "request_id", "-"))
            result.errors = [map_error(e, request_id) for e in result.errors]
        return await super().process_result(request, result)


def graphql_router(schema: strawberry.Schema, *, ide: bool) -> GraphQLRouter[Any, Any]:
    """Mount point for the schema: JSON over POST, GraphiQL over GET when ``ide``."""
    return GatewayGraphQLRouter(
        schema,
        path="/graphql",
        graphql_ide="graphiql" if ide else None,
        context_getter=get_context,
        allow_queries_via_get=False,
        # File uploads (GraphQL multipart request spec). Not a CSRF risk here: every call
        # needs the X-API-Key header, which a cross-site form cannot send.
        multipart_uploads_enabled=True,
    )


__all__ = ["Request", "graphql_router"]
