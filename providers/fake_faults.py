"""Fault injection for the fake providers: 429s, 500s, resets, slow pages and mid-run writes."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from providers.fake_common import FakeClock, json_body, json_response

FAULT_KINDS = ("429", "429_text", "500", "reset", "slow", "mutate")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Hook = Callable[[], None]
Mutator = Callable[[dict[str, Any]], None]


@dataclass(slots=True)
class Fault:
    """One injected fault; it fires on API request number `on_request` and the next ones."""

    kind: str
    on_request: int = 1
    times: int | None = 1
    retry_after: str | None = None
    status: int = 500
    delay: float = 0.0
    path: str | None = None
    body: str | None = None
    action: dict[str, Any] | None = None
    hook: Hook | None = None
    fired: int = 0

    def applies(self, number: int, path: str) -> bool:
        """Return True when this fault should fire for request `number` on `path`."""
        if number < self.on_request:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        return self.path is None or path.startswith(self.path)

    def describe(self) -> dict[str, Any]:
        """Describe the fault for the admin endpoint."""
        return {
            "kind": self.kind,
            "on_request": self.on_request,
            "times": self.times,
            "retry_after": self.retry_after,
            "status": self.status,
            "delay": self.delay,
            "path": self.path,
            "fired": self.fired,
        }


def fault_from_json(data: dict[str, Any]) -> Fault:
    """Build a Fault from the JSON accepted by `POST /__faults`."""
    kind = str(data.get("kind", ""))
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
    times = data.get("times", 1)
    if data.get("persistent") is True or times in (None, -1, "always"):
        times = None
    retry_after = data.get("retry_after")
    action = data.get("action")
    if kind == "mutate" and not isinstance(action, dict) and "op" in data:
        action = {k: v for k, v in data.items() if k in ("op", "id", "record")}
    return Fault(
        kind=kind,
        on_request=int(data.get("on_request", 1)),
        times=None if times is None else int(times),
        retry_after=None if retry_after is None else str(retry_after),
        status=int(data.get("status", 500)),
        delay=float(data.get("delay", 0.0)),
        path=data.get("path"),
        body=data.get("body"),
        action=action if isinstance(action, dict) else None,
    )


class FakeRateLimit:
    """A per-minute request budget on the fake clock; over budget answers 429 + Retry-After."""

    def __init__(self, per_minute: int | None = None) -> None:
        self.per_minute = per_minute
        self._window = -1
        self.used = 0
        self.rejected = 0

    def take(self, now: int) -> int | None:
        """Spend one request; return the Retry-After seconds when the budget is exhausted."""
        window = now // 60
        if window != self._window:
            self._window, self.used = window, 0
        self.used += 1
        if self.per_minute is None or self.used <= self.per_minute:
            return None
        self.rejected += 1
        return 60 - now % 60

    def remaining(self) -> int:
        """Requests left in the current window (a large number when unlimited)."""
        limit = self.per_minute if self.per_minute is not None else 700
        return max(0, limit - self.used)


@dataclass(slots=True)
class RequestLogEntry:
    """One API request the fake served."""

    number: int
    method: str
    path: str
    query: str


class FaultInjector:
    """Counts API requests, keeps a bounded log, and decides which faults fire on each one."""

    def __init__(self, log_size: int = 20_000) -> None:
        self._lock = threading.Lock()
        self.faults: list[Fault] = []
        self.requests = 0
        self.log: deque[RequestLogEntry] = deque(maxlen=log_size)
        self.mutator: Mutator | None = None
        self.errors: list[str] = []
        self.rate_limit = FakeRateLimit()

    def add(self, fault: Fault) -> Fault:
        """Queue a fault (thread-safe; tests call this from their own thread)."""
        with self._lock:
            self.faults.append(fault)
        return fault

    def inject(self, kind: str, **options: Any) -> Fault:
        """Queue a fault built from keyword options, e.g. `inject("429", retry_after="2")`."""
        hook = options.pop("hook", None)
        fault = fault_from_json({"kind": kind, **self._absolute(options)})
        fault.hook = hook
        return self.add(fault)

    def _absolute(self, options: dict[str, Any]) -> dict[str, Any]:
        """Turn a relative `after: k` into `on_request`: the k-th request from now."""
        if "after" in options:
            options = {**options, "on_request": self.requests + int(options.pop("after"))}
        return options

    def add_json(self, data: dict[str, Any]) -> Fault:
        """Queue a fault described by JSON (`on_request` absolute, or `after` relative)."""
        return self.add(fault_from_json(self._absolute(data)))

    def clear(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self.faults.clear()

    def begin(self, method: str, path: str, query: str) -> tuple[list[Fault], Fault | None]:
        """Register a request; return the mutations to run and the response fault, if any."""
        with self._lock:
            self.requests += 1
            number = self.requests
            self.log.append(RequestLogEntry(number, method, path, query))
            mutations: list[Fault] = []
            response_fault: Fault | None = None
            for fault in self.faults:
                if not fault.applies(number, path):
                    continue
                if fault.kind == "mutate":
                    fault.fired += 1
                    mutations.append(fault)
                elif response_fault is None:
                    fault.fired += 1
                    response_fault = fault
            return mutations, response_fault

    def run_mutation(self, fault: Fault) -> None:
        """Run a mutate fault: its Python hook, or its JSON action through the store."""
        try:
            if fault.hook is not None:
                fault.hook()
            if fault.action is not None and self.mutator is not None:
                self.mutator(fault.action)
        except Exception as exc:  # a broken test hook must not take the request down
            self.errors.append(f"{type(exc).__name__}: {exc}")

    def paths(self, prefix: str = "") -> list[str]:
        """Return `path?query` of logged requests whose path starts with `prefix`."""
        return [
            f"{e.path}?{e.query}" if e.query else e.path
            for e in list(self.log)
            if e.path.startswith(prefix)
        ]


class FakeProviderMiddleware:
    """ASGI middleware: Date header from the fake clock, request counting, faults, auth."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        faults: FaultInjector,
        clock: FakeClock,
        authorized: Callable[[Request], bool],
        unauthorized: Callable[[], Response],
        extra_headers: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        self.app = app
        self.faults = faults
        self.clock = clock
        self.authorized = authorized
        self.unauthorized = unauthorized
        self.extra_headers = extra_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_dated(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                headers.append((b"date", self.clock.http_date().encode("latin-1")))
                for key, value in (self.extra_headers() if self.extra_headers else {}).items():
                    headers.append((key.encode("latin-1"), value.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        path: str = scope["path"]
        if not path.startswith("/api/"):
            await self.app(scope, receive, send_dated)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        mutations, fault = self.faults.begin(scope["method"], path, query)
        for mutation in mutations:
            self.faults.run_mutation(mutation)
        if fault is not None and await self._apply(fault, scope, receive, send_dated):
            return
        retry_after = self.faults.rate_limit.take(self.clock.now())
        if retry_after is not None:
            limited = Response(
                "Rate limit exceeded",
                429,
                headers={"Retry-After": str(retry_after)},
                media_type="text/plain",
            )
            await limited(scope, receive, send_dated)
            return
        if not self.authorized(Request(scope)):
            await self.unauthorized()(scope, receive, send_dated)
            return
        await self.app(scope, receive, send_dated)

    async def _apply(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> bool:
        """Serve the fault; return True when it replaced the normal response."""
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay)
            return False
        if fault.kind == "reset":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", b"4096"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b'[{"id": 1, "na', "more_body": True})
            return True
        response: Response
        if fault.kind == "429":
            headers = {} if fault.retry_after is None else {"Retry-After": fault.retry_after}
            body = fault.body or '{"description":"You have exceeded the limit of requests"}'
            response = Response(body, 429, headers=headers, media_type="application/json")
        elif fault.kind == "429_text":
            headers = {} if fault.retry_after is None else {"Retry-After": fault.retry_after}
            body = fault.body or "Too Many Requests. Please slow down."
            response = Response(body, 429, headers=headers, media_type="text/plain")
        else:
            body = fault.body or "<html><body><h1>Internal Server Error</h1></body></html>"
            response = Response(body, fault.status, media_type="text/html")
        await response(scope, receive, send)
        return True


def admin_routes(faults: FaultInjector, clock: FakeClock) -> list[Route]:
    """Routes shared by both fakes: `/__faults`, `/__clock`, `/__stats`."""

    async def add_fault(request: Request) -> Response:
        try:
            data = await json_body(request)
            items = data.get("faults", [data])
            added = [faults.add_json(item).describe() for item in items]
        except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response({"added": added}, 201)

    async def list_faults(request: Request) -> Response:
        return json_response({"faults": [f.describe() for f in faults.faults]})

    async def clear_faults(request: Request) -> Response:
        faults.clear()
        return Response(status_code=204)

    async def set_rate_limit(request: Request) -> Response:
        data = await json_body(request)
        per_minute = data.get("per_minute")
        faults.rate_limit.per_minute = None if per_minute is None else int(per_minute)
        return json_response({"per_minute": faults.rate_limit.per_minute})

    async def get_clock(request: Request) -> Response:
        return json_response(clock.state())

    async def set_clock(request: Request) -> Response:
        try:
            data = await json_body(request)
        except (ValueError, orjson.JSONDecodeError) as exc:
            return json_response({"error": str(exc)}, 400)
        if "freeze" in data:
            clock.freeze(None if data["freeze"] in (True, None) else int(data["freeze"]))
        if "advance" in data:
            clock.advance(int(data["advance"]))
        if "offset" in data:
            clock.set_offset(int(data["offset"]))
        if data.get("unfreeze"):
            clock.unfreeze()
        return json_response(clock.state())

    async def stats(request: Request) -> Response:
        recent = [
            {"n": e.number, "method": e.method, "path": e.path, "query": e.query}
            for e in list(faults.log)[-int(request.query_params.get("last", "200")) :]
        ]
        return json_response(
            {
                "requests": faults.requests,
                "rate_limited": faults.rate_limit.rejected,
                "log": recent,
                "errors": faults.errors,
            }
        )

    return [
        Route("/__faults", add_fault, methods=["POST"]),
        Route("/__faults", list_faults, methods=["GET"]),
        Route("/__faults", clear_faults, methods=["DELETE"]),
        Route("/__ratelimit", set_rate_limit, methods=["POST"]),
        Route("/__clock", get_clock, methods=["GET"]),
        Route("/__clock", set_clock, methods=["POST"]),
        Route("/__stats", stats, methods=["GET"]),
    ]
