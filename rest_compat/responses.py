"""Fast JSON responses (orjson) and RFC 9457 problem details."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from resolvers.errors import DomainError

PROBLEM_TYPE_BASE = "https://contacts-gateway.dev/problems/"


class JSONBytes(Response):
    """A JSON response encoded by orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def problem_body(error: DomainError, request_id: str) -> dict[str, Any]:
    """The problem+json document for ``error``."""
    return {
        "type": PROBLEM_TYPE_BASE + error.code,
        "title": error.title,
        "status": error.status,
        "detail": error.message,
        "code": error.code,
        "errors": [{"field": e.field, "message": e.message} for e in error.errors],
        "request_id": request_id,
    }


def problem_response(error: DomainError, request_id: str) -> Response:
    """Render ``error`` as ``application/problem+json``."""
    headers = {**error.headers, "X-Request-ID": request_id}
    return Response(
        orjson.dumps(problem_body(error, request_id)),
        status_code=error.status,
        media_type="application/problem+json",
        headers=headers,
    )
