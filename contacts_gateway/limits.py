"""ASGI middleware that keeps one caller from hurting the others: rate limits and timeouts.

* :class:`RateLimitMiddleware` — a GCRA budget per API key (keyed by a hash of the
  ``X-API-Key`` header, checked *before* any database work, so a throttled caller costs
  nothing), the IETF ``RateLimit-Policy`` / ``RateLimit`` headers on every response to a
  request that carried a key, 429 + ``Retry-After`` + problem+json ``rate_limited`` when the
  budget is spent; and a second budget per client address for *rejected* keys, so guessing
  keys is throttled too.
* :class:`TimeoutMiddleware` — a request that has not started its response after
  ``seconds`` is cancelled (its transaction rolls back) and answered 503 + ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contacts_gateway.ratelimit import Decision, Limiter, Policy
from resolvers import idempotency
from resolvers.errors import RateLimited, Unavailable
from rest_compat.responses import problem_response

log = logging.getLogger("contacts_gateway.limits")

#: Paths nobody needs a key for (probes, docs): never limited.
PUBLIC_PATHS = ("/healthz", "/readyz", "/docs", "/redoc", "/openapi.json")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _rate_headers(policy: Policy, decision: Decision) -> list[tuple[bytes, bytes]]:
    return [
        (b"ratelimit-policy", policy.header().encode()),
        (b"ratelimit", decision.header(policy).encode()),
    ]


class RateLimitMiddleware:
    """Per-key budgets, per-address budgets for rejected keys, and the RateLimit headers."""

    def __init__(
        self, app: ASGIApp, *, limiter: Limiter, key_policy: Policy, auth_policy: Policy
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.key_policy = key_policy
        self.auth_policy = auth_policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(PUBLIC_PATHS):
            await self.app(scope, receive, send)
            return
        raw_key = _header(scope, b"x-api-key")
        if raw_key is None:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = f"auth:{client[0] if client else '-'}"
        request_id = str(scope.get("state", {}).get("request_id", "-"))

        guessing = await self.limiter.peek(address, self.auth_policy)
        if not guessing.allowed:
            await self._refuse(
                scope, receive, send, request_id, self.auth_policy, guessing,
                "too many rejected API keys from this address",
            )  # fmt: skip
            return
        bucket = "key:" + hashlib.sha256(raw_key.encode()).hexdigest()[:32]
        decision = await self.limiter.hit(bucket, self.key_policy)
        if not decision.allowed:
            await self._refuse(
                scope, receive, send, request_id, self.key_policy, decision,
                "this API key sent too many requests",
            )  # fmt: skip
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    *_rate_headers(self.key_policy, decision),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
        # The unit of work records the key's prefix once the key is accepted.
        if "key_prefix" not in scope.get("state", {}):
            await self.limiter.hit(address, self.auth_policy)

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request_id: str,
        policy: Policy,
        decision: Decision,
        message: str,
    ) -> None:
        error = RateLimited(
            f"{message}; retry after {decision.retry_after} s",
            headers={"Retry-After": str(decision.retry_after)},
        )
        response = problem_response(error, request_id)
        response.headers["RateLimit-Policy"] = policy.header()
        response.headers["RateLimit"] = decision.header(policy)
        await response(scope, receive, send)


class TimeoutMiddleware:
    """Answers 503 when a request has not started its response after ``seconds``.

    The request runs in its own task: at the deadline the client gets its 503 at once, then
    the task is cancelled and its unit of work rolls back (which may itself wait, e.g. for
    an SQLite statement stuck in the busy handler) while nobody waits for it.
    """

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = asyncio.Event()
        timed_out = False

        async def guarded_send(message: Message) -> None:
            if timed_out:
                return  # the client already has its 503
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        waiter = asyncio.ensure_future(started.wait())
        try:
            await asyncio.wait({task, waiter}, timeout=self.seconds, return_when="FIRST_COMPLETED")
        except BaseException:
            task.cancel()
            waiter.cancel()
            raise
        waiter.cancel()
        if task.done() or started.is_set():
            await task  # finished or streaming its response: no deadline now
            return
        timed_out = True
        request_id = str(scope.get("state", {}).get("request_id", "-"))
        log.warning(
            "request cancelled after %.1f s: %s %s (request_id=%s)",
            self.seconds,
            scope.get("method"),
            scope.get("path"),
            request_id,
        )
        error = Unavailable(
            f"the request was cancelled after {self.seconds:g} s; its transaction is rolled "
            "back. Retry shortly (repeat a write with the same Idempotency-Key)",
            headers={"Retry-After": "1"},
        )
        await problem_response(error, request_id)(scope, receive, send)
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


async def purge_idempotency_forever(engine: AsyncEngine, every_seconds: float) -> None:
    """Delete expired idempotency records now and then every ``every_seconds`` (run by serve)."""
    while True:
        try:
            purged = await idempotency.purge_expired(engine)
            if purged:
                log.info("purged %d expired idempotency records", purged)
        except Exception:  # a busy database now is no reason to stop purging later
            log.warning("idempotency purge failed; will retry", exc_info=True)
        await asyncio.sleep(every_seconds)
