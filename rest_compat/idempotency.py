"""The REST side of idempotency keys: one dependency every POST and PATCH route shares."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request, Response

from resolvers import idempotency
from resolvers.context import RequestContext
from rest_compat.responses import JSONBytes

#: Response headers worth storing with a replayable response.
_KEPT_HEADERS = ("etag", "location")

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=idempotency.MAX_KEY_LENGTH,
        pattern=idempotency.KEY_PATTERN,
        description=(
            "Makes the request safe to retry: the first response is stored for 24 h and "
            "replayed (with `Idempotent-Replayed: true`) for a retry with the same key; the "
            "same key with a different request → 422; while the first is running → 409."
        ),
    ),
]


@dataclass(frozen=True, slots=True)
class Idempotent:
    """The request's idempotency key (or None) and its fingerprint."""

    key: str | None
    fingerprint: str

    async def respond(
        self, ctx: RequestContext, produce: Callable[[], Awaitable[Response]]
    ) -> Response:
        """Run ``produce`` once per key; a replay answers the stored response."""
        if self.key is None:
            return await produce()

        async def effect() -> idempotency.StoredResponse:
            response = await produce()
            headers = {
                name: value for name, value in response.headers.items() if name in _KEPT_HEADERS
            }
            return idempotency.StoredResponse(
                response.status_code, headers, bytes(response.body).decode()
            )

        stored, replayed = await idempotency.run_once(
            ctx, key=self.key, fingerprint=self.fingerprint, effect=effect
        )
        response = Response(
            stored.body.encode(),
            status_code=stored.status,
            media_type=JSONBytes.media_type,
            headers=stored.headers,
        )
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response


async def idempotency_of(
    request: Request, idempotency_key: IdempotencyKeyHeader = None
) -> Idempotent:
    """Read and check the ``Idempotency-Key`` header and fingerprint the request."""
    # Not named ``key``: a route with a ``{key}`` path parameter would capture it.
    key = idempotency.check_key(idempotency_key)
    body = await request.body() if key is not None else b""
    return Idempotent(key, idempotency.fingerprint(request.method, request.url.path, body))


Idempotency = Annotated[Idempotent, Depends(idempotency_of)]
