"""ASGI middleware: request ids with one log line per request, and the body size limit."""

from __future__ import annotations

import logging
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contacts_gateway import metrics
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
            elapsed = time.perf_counter() - started
            metrics.request_finished(scope, status, elapsed)
            log.info(
                "%s %s %s",
                scope.get("method"),
                scope.get("path"),
                status,
                extra={
                    "request_id": request_id,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "key_prefix": state.get("key_prefix"),
                },
            )


class BodyLimitMiddleware:
    """Refuses bodies over the limit with 413, by Content-Length or while streaming.

    JSON bodies get ``max_bytes``. A ``multipart/form-data`` request to one of
    ``upload_paths`` (``*`` stands for one path segment) gets ``upload_max_bytes`` instead:
    uploads are streamed to disk by their route, which enforces the exact per-file limit.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        upload_max_bytes: int | None = None,
        upload_paths: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_max_bytes = upload_max_bytes if upload_max_bytes is not None else max_bytes
        self.upload_paths = tuple(_path_pattern(p) for p in upload_paths)

    def limit_for(self, scope: Scope) -> int:
        """The body limit of this request."""
        if is_upload(scope, self.upload_paths):
            return self.upload_max_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        request_id = scope.get("state", {}).get("request_id", "-")
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._refuse(scope, receive, send, request_id, limit)
            return
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise PayloadTooLarge(self._message(limit), field="body")
            return message

        refused = False

        async def guarded_send(message: Message) -> None:
            # The framework may turn the failed body read into its own 400: answer 413 instead.
            nonlocal refused
            if too_large:
                if not refused:
                    refused = True
                    await self._refuse(scope, receive, send, request_id, limit)
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except PayloadTooLarge:
            if not too_large:
                raise
            if not refused:
                await self._refuse(scope, receive, send, request_id, limit)

    def _message(self, limit: int) -> str:
        return f"the body is larger than {limit} bytes"

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, request_id: str, limit: int
    ) -> None:
        response = problem_response(PayloadTooLarge(self._message(limit), field="body"), request_id)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _path_pattern(pattern: str) -> re.Pattern[str]:
    parts = [re.escape(part) for part in pattern.split("*")]
    return re.compile("^" + "[^/]+".join(parts) + "$")


def is_upload(scope: Scope, paths: tuple[re.Pattern[str], ...]) -> bool:
    """A multipart/form-data request to one of the upload routes."""
    if scope.get("method") != "POST" or not any(p.match(scope.get("path", "")) for p in paths):
        return False
    content_type = dict(scope["headers"]).get(b"content-type", b"")
    return content_type.split(b";", 1)[0].strip().lower() == b"multipart/form-data"


def upload_patterns(paths: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """Compile upload route patterns (``*`` is one path segment)."""
    return tuple(_path_pattern(p) for p in paths)
