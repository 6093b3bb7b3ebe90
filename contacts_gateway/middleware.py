"""ASGI middleware: request ids with one log line per request, and the body size limit."""

from __future__ import annotations

import logging
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from resolvers.errors import PayloadTooLarge
from rest_compat.responses import problem_response

log = logging.getLogger("contacts_gateway.access")


class RequestIdMiddleware:
    """Gives each request an id (or keeps a sane incoming X-Request-ID), logs one line for it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = (
            incoming
            if 0 < len(incoming) <= 64 and incoming.isprintable()
            else ("req_" + secrets.token_hex(8))
        )
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "%s %s %s",
                scope.get("method"),
                scope.get("path"),
                status,
                extra={
                    "request_id": request_id,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "key_prefix": state.get("key_prefix"),
                },
            )


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._exempt(scope):
            await self.app(scope, receive, send)
            return
        request_id = scope.get("state", {}).get("request_id", "-")
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(scope, receive, send, request_id)
            return
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise PayloadTooLarge(self._message())
            return message

        try:
            await self.app(scope, limited_receive, send)
        except PayloadTooLarge:
            if not too_large:
                raise
            await self._refuse(scope, receive, send, request_id)

    def _exempt(self, scope: Scope) -> bool:
        path: str = scope.get("path", "")
        return any(path.startswith(p) and path.endswith(s) for p, s in self.exempt_prefixes_pairs())

    def exempt_prefixes_pairs(self) -> list[tuple[str, str]]:
        return [
            (p.split("*")[0], p.split("*")[1] if "*" in p else "") for p in self.exempt_prefixes
        ]

    def _message(self) -> str:
        return f"the body is larger than {self.max_bytes} bytes"

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        response = problem_response(PayloadTooLarge(self._message()), request_id)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)
