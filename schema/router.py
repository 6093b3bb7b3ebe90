"""The FastAPI router serving POST /graphql and GraphiQL on GET /graphql."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import strawberry
from fastapi import Request
from fastapi.responses import HTMLResponse
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from schema.context import get_context
from schema.errors import map_error
from schema.subscriptions import authenticate_connection

#: The example GraphiQL opens with (a contacts page with nested companies).
EXAMPLE_QUERY = """# contacts-gateway: Ctrl-Enter runs the query. The X-API-Key header goes in the
# Headers tab below. Docs: the book icon on the left; docs/GRAPHQL.md in the repository.
query Contacts($first: Int = 10, $search: String) {
  contacts(first: $first, search: $search) {
    totalCount
    nodes {
      id
      name
      email
      tags
      company { name }
    }
    pageInfo { endCursor hasNextPage }
  }
}
"""

_TEMPLATE = Path(__file__).with_name("graphiql.html")


@dataclass(frozen=True)
class IdeOptions:
    """How GraphiQL is served: where its vendored assets are, and the demo key to pre-fill."""

    assets_url: str = "/static/graphiql"
    demo_key: str | None = None


def graphiql_html(options: IdeOptions) -> str:
    """The GraphiQL page: local assets, the example query, the key header (pre-filled in demo)."""
    key = options.demo_key or "<your API key>"
    config = {
        "defaultQuery": EXAMPLE_QUERY,
        "headers": orjson.dumps({"X-API-Key": key}, option=orjson.OPT_INDENT_2).decode(),
        "showHeaders": True,
    }
    # Safe inside <script>: no "</" can close the element early.
    script_json = orjson.dumps(config).decode().replace("</", "<\\/")
    return (
        _TEMPLATE.read_text(encoding="utf-8")
        .replace("{{ASSETS}}", options.assets_url.rstrip("/"))
        .replace("{{CONFIG}}", script_json)
    )


class GatewayGraphQLRouter(GraphQLRouter[Any, Any]):
    """Strawberry's router, encoding responses with orjson, serving our offline GraphiQL."""

    ide_options: IdeOptions = IdeOptions()

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        """GraphiQL from the vendored assets (Strawberry's default page loads them from a CDN)."""
        return HTMLResponse(graphiql_html(self.ide_options))

    def encode_json(self, data: GraphQLHTTPResponse) -> str:  # type: ignore[override]
        # A str, not bytes: Strawberry sends bytes over WebSockets as binary frames, which
        # graphql-transport-ws clients (GraphiQL's, browsers') reject; text frames work.
        return orjson.dumps(data).decode()

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """Give every error an ``extensions.code``, also those raised before execution (syntax)."""
        if result.errors:
            request_id = str(getattr(request.state, "request_id", "-"))
            result.errors = [map_error(e, request_id) for e in result.errors]
        return await super().process_result(request, result)

    async def on_ws_connect(self, context: Any) -> Any:
        """Subscriptions authenticate with the API key in the ``connection_init`` payload."""
        return await authenticate_connection(context)


def graphql_router(
    schema: strawberry.Schema, *, ide: bool, ide_options: IdeOptions | None = None
) -> GraphQLRouter[Any, Any]:
    """Mount point for the schema: JSON over POST, GraphiQL over GET when ``ide``."""
    router = GatewayGraphQLRouter(
        schema,
        path="/graphql",
        graphql_ide="graphiql" if ide else None,
        context_getter=get_context,
        allow_queries_via_get=False,
        # File uploads (GraphQL multipart request spec). Not a CSRF risk here: every call
        # needs the X-API-Key header, which a cross-site form cannot send.
        multipart_uploads_enabled=True,
    )
    router.ide_options = ide_options or IdeOptions()
    return router


__all__ = ["EXAMPLE_QUERY", "IdeOptions", "Request", "graphiql_html", "graphql_router"]
