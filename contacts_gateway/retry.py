"""ASGI middleware: re-run a whole request whose transaction PostgreSQL aborted (40001/40P01).

Why here and not in a dependency: a dependency cannot run the route body again, and
resuming after a savepoint is not a retry. Each attempt gets a fresh ``db.retry.Attempt``;
the request's unit of work rolls back instead of committing when its attempt failed (see
``rest_compat/deps.py``), and it ends before the response starts. So when the response of a
failed attempt starts, nothing of it has been committed or sent: it is discarded and the
request runs again with the same body (recorded as the app read it). When the attempts
are used up the client gets a 503 problem with ``Retry-After``, never a 500 and never a
GraphQL result describing writes that were rolled back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db import retry
from resolvers.errors import Unavailable
from rest_compat.responses import problem_response

log = logging.getLogger("contacts_gateway.retry")


class RetryTransactions:
    """Runs an HTTP request up to ``policy.attempts`` times while the database aborts it."""

    def __init__(
        self,
        app: ASGIApp,
        policy: retry.RetryPolicy = retry.DEFAULT_POLICY,
        no_replay: Callable[[Scope], bool] | None = None,
    ) -> None:
        self.app = app
        self.policy = policy
        # Requests whose body must stream through unrecorded (file uploads): run once.
        self.no_replay = no_replay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.no_replay is not None and self.no_replay(scope):
            # One attempt all the same: an aborted transaction must not commit half its work.
            await self._attempt(scope, receive, send, None, last=True)
            return
        received: list[Message] = []
        for number in range(1, self.policy.attempts + 1):
            last = number == self.policy.attempts
            if await self._attempt(scope, receive, send, received, last=last):
                return
            state = scope.get("state", {})
            log.warning(
                "request aborted by the database; retrying (attempt %d of %d)",
                number + 1,
                self.policy.attempts,
                extra={"request_id": state.get("request_id"), "path": scope.get("path")},
            )
            await asyncio.sleep(self.policy.delay(number))

    async def _attempt(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        received: list[Message] | None,
        *,
        last: bool,
    ) -> bool:
        """One run of the app; False when it must run again (nothing was sent).

        ``received`` records the request's messages for the next attempt (None: no record).
        """
        position = 0
        mode = "undecided"  # then "pass" (send through) or "drop" (discard this attempt)

        async def replaying_receive() -> Message:
            nonlocal position
            if received is None:
                return await receive()
            if position < len(received):
                message = received[position]
            else:
                message = await receive()
                received.append(message)
            position += 1
            return message

        with retry.attempt() as current:

            async def guarded_send(message: Message) -> None:
                nonlocal mode
                if mode == "undecided" and message["type"] == "http.response.start":
                    # A 503 the error handlers made is already the right final answer.
                    keep = not current.failed or (last and message["status"] == 503)
                    mode = "pass" if keep else "drop"
                if mode != "drop":
                    await send(message)

            try:
                await self.app(scope, replaying_receive, guarded_send)
            except Exception:
                if not current.failed or mode == "pass":
                    raise
                mode = "drop"
        if mode != "drop":
            return True
        if not last:
            return False
        request_id = str(scope.get("state", {}).get("request_id", "-"))
        busy = Unavailable("the database is busy; retry shortly", headers={"Retry-After": "1"})
        await problem_response(busy, request_id)(scope, replaying_receive, send)
        return True
