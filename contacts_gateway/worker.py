"""The webhook delivery worker: leases due deliveries, signs and POSTs them, records outcomes.

It runs inside ``serve`` (setting ``webhook_worker_enabled``) and alone as
``contacts-gateway worker``; any number of them may run against one database. A delivery is
leased with one atomic UPDATE before it is sent (see ``db.queries.webhooks.claim_due``), so
two workers never make the same attempt; a worker that dies mid-attempt loses its lease when
it expires and the next attempt is made by another worker. Per endpoint only the oldest open
delivery is eligible, so events reach an endpoint in commit order.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import os
import random
import socket
import time
from datetime import datetime, timedelta

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_gateway import metrics
from contacts_gateway.pubsub import EventHub
from contacts_gateway.settings import Settings
from db.ids import new_id
from db.queries import webhooks as q
from db.queries.webhooks import ClaimedDelivery
from db.types import utcnow
from db.uow import UnitOfWork
from resolvers.timestamps import iso_z
from resolvers.webhook_http import RefusedAddress, Resolver, post_pinned, signature

log = logging.getLogger(__name__)

USER_AGENT = "contacts-gateway-webhooks/1"
#: Extra lease time beyond the request timeout (recording the outcome, scheduling).
LEASE_MARGIN = timedelta(seconds=30)


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - utcnow()).total_seconds())


def build_body(delivery: ClaimedDelivery) -> bytes:
    """The JSON body: ``{"type", "timestamp", "data"}``."""
    return orjson.dumps(
        {
            "type": delivery.event_type,
            "timestamp": iso_z(delivery.event_created_at),
            "data": delivery.payload,
        }
    )


def signatures(delivery: ClaimedDelivery, timestamp: int, body: bytes, now: datetime) -> str:
    """The ``webhook-signature`` value: the current secret, plus the previous one in overlap."""
    sigs = [signature(delivery.secret, delivery.event_id, timestamp, body)]
    if (
        delivery.previous_secret
        and delivery.previous_secret_expires_at is not None
        and delivery.previous_secret_expires_at > now
    ):
        sigs.append(signature(delivery.previous_secret, delivery.event_id, timestamp, body))
    return " ".join(sigs)


class DeliveryWorker:
    """Delivers webhook events until stopped."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        *,
        hub: EventHub | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.hub = hub
        self.resolver = resolver
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{new_id('w')[-6:]}"
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set after a pass that found nothing to do
        self._passes = 0  # passes begun
        self._last_idle_pass = 0
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        """Start delivering in the background."""
        if self._task is not None:
            return
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=self.settings.webhook_concurrency * 2),
        )
        if self.hub is not None:
            self.hub.add_waker(self._wake.set)
        self._task = asyncio.create_task(self._loop(), name="webhook-worker")

    async def stop(self) -> None:
        """Stop after the attempts in flight (their leases expire if they cannot finish)."""
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            grace = self.settings.webhook_timeout_seconds + 1
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._task), timeout=grace)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            self._stopping = False
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def wake(self) -> None:
        """Look for due deliveries now."""
        self._wake.set()

    async def until_idle(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wake the worker and return once it has looked again and found nothing due (and
        nothing in flight): what an operator's drain, or a test, waits on instead of a sleep.
        A pass whose claim failed does not count. TimeoutError after ``timeout`` seconds."""
        begun = self._passes
        async with asyncio.timeout(timeout):
            while self._last_idle_pass <= begun:  # a pass begun before the call may miss work
                self._idle.clear()
                self.wake()
                await self._idle.wait()

    async def _loop(self) -> None:
        """Keep up to ``webhook_concurrency`` endpoints in flight, each served back to back.

        A slow endpoint holds one slot only: the others are claimed as slots free up (a task
        finishing, new events, or the poll interval for retries coming due).
        """
        inflight: set[asyncio.Task[None]] = set()

        def finished(task: asyncio.Task[None]) -> None:
            inflight.discard(task)
            self._wake.set()

        while not self._stopping:
            self._wake.clear()
            self._passes += 1
            this_pass = self._passes
            free = self.settings.webhook_concurrency - len(inflight)
            claim_failed = False
            if free > 0:
                try:
                    claimed = await self._claim(limit=free)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("webhook worker: claiming failed; retrying")
                    claimed, claim_failed = [], True
                for delivery in claimed:
                    task = asyncio.create_task(self._attempt(delivery))
                    inflight.add(task)
                    task.add_done_callback(finished)
            if not inflight and not claim_failed:
                self._last_idle_pass = this_pass
                self._idle.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), timeout=self.settings.webhook_poll_seconds
                )
        if inflight:  # stopping: let the attempts in flight record their outcome
            await asyncio.gather(*inflight, return_exceptions=True)

    async def run_once(self) -> int:
        """Lease the due deliveries and attempt them (and each endpoint's next ones); returns
        how many were claimed at first."""
        claimed = await self._claim(limit=self.settings.webhook_concurrency)
        if claimed:
            await asyncio.gather(*(self._attempt(d) for d in claimed))
        return len(claimed)

    async def _claim(self, *, limit: int) -> list[ClaimedDelivery]:
        now = utcnow()
        lease_until = now + self._lease_time()
        uow = UnitOfWork(self.engine)
        try:
            session = await uow.writer()
            claimed = await q.claim_due(
                session,
                owner=self.owner,
                now=now,
                lease_until=lease_until,
                limit=limit,
            )
            await uow.commit()
            return claimed
        except BaseException:
            await uow.rollback()
            raise
        finally:
            await uow.close()

    async def _attempt(self, delivery: ClaimedDelivery) -> None:
        """Send it, then go on with the endpoint's next due delivery while there is one.

        The outcome and the claim of the endpoint's next delivery share one transaction, so
        a busy endpoint is served back to back without waiting for the rest of the batch.
        """
        current: ClaimedDelivery | None = delivery
        while current is not None:
            try:
                current = await self._send(current)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The lease expires and another attempt is made; nothing is lost.
                log.exception("webhook worker: recording an attempt failed")
                return

    async def _send(self, delivery: ClaimedDelivery) -> ClaimedDelivery | None:
        assert self._client is not None
        body = build_body(delivery)
        now = utcnow()
        timestamp = int(time.time())
        headers = {
            "webhook-id": delivery.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signatures(delivery, timestamp, body, now),
        }
        status: int | None = None
        error: str | None = None
        retry_after: float | None = None
        started = time.perf_counter()
        try:
            response = await post_pinned(
                self._client,
                delivery.url,
                body=body,
                headers=headers,
                allow_private=self.settings.allow_private_urls,
                timeout_seconds=self.settings.webhook_timeout_seconds,
                resolver=self.resolver,
            )
            status = response.status_code
            if status in (429, 503):
                retry_after = retry_after_seconds(response.headers.get("retry-after"))
            if 300 <= status < 400:
                error = "redirects are not followed"
            elif not 200 <= status < 300:
                error = f"HTTP {status}"
        except RefusedAddress as exc:
            error = f"refused: {exc}"
        except httpx.TimeoutException:
            error = "timed out"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        duration_ms = int((time.perf_counter() - started) * 1000)
        return await self._record(delivery, status, error, duration_ms, retry_after)

    def _next_delay(self, attempts: int, retry_after: float | None) -> float | None:
        """Seconds until the next attempt, or None when the schedule is exhausted."""
        schedule = self.settings.webhook_retry_schedule
        if attempts > len(schedule):
            return None
        delay = schedule[attempts - 1]
        delay += delay * self.settings.webhook_retry_jitter * random.random()
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.settings.webhook_max_retry_after_seconds))
        return delay

    async def _record(
        self,
        delivery: ClaimedDelivery,
        status: int | None,
        error: str | None,
        duration_ms: int,
        retry_after: float | None,
    ) -> ClaimedDelivery | None:
        now = utcnow()
        values: dict[str, object] = {
            "last_status_code": status,
            "last_duration_ms": duration_ms,
            "last_error": error,
            "last_attempt_at": now,
        }
        health: dict[str, object] = {}
        if error is None:
            values.update(status="delivered", delivered_at=now)
            if delivery.failing_since is not None:  # healthy again (no write when it was)
                health = {"failing_since": None}
        elif status == 410:
            values["status"] = "dead"
            health = {
                "enabled": False,
                "disabled_reason": "the endpoint answered 410 Gone",
                "updated_at": now,
            }
        else:
            delay = self._next_delay(delivery.attempts, retry_after)
            if delay is None:
                values["status"] = "dead"
            else:
                values.update(status="failed", next_attempt_at=now + timedelta(seconds=delay))
            failing_since = delivery.failing_since or now
            health = {"failing_since": failing_since}
            limit = timedelta(days=self.settings.webhook_disable_after_days)
            if now - failing_since >= limit:
                health.update(
                    enabled=False,
                    disabled_reason=(
                        f"failing without a success since {iso_z(failing_since)}"
                        f" ({self.settings.webhook_disable_after_days:g} days)"
                    ),
                    updated_at=now,
                )
        uow = UnitOfWork(self.engine)
        try:
            session = await uow.writer()
            if (
                await q.finish_attempt(
                    session, delivery_id=delivery.id, owner=self.owner, values=values
                )
                and health
            ):
                await q.set_endpoint_health(
                    session,
                    account_id=delivery.account_id,
                    endpoint_id=delivery.endpoint_id,
                    values=health,
                )
            following: list[ClaimedDelivery] = []
            if not self._stopping and error is None:
                following = await q.claim_due(
                    session,
                    owner=self.owner,
                    now=now,
                    lease_until=now + self._lease_time(),
                    limit=1,
                    only_endpoint=(delivery.account_id, delivery.endpoint_id),
                )
            await uow.commit()
        except BaseException:
            await uow.rollback()
            raise
        finally:
            await uow.close()
        log.info(
            "webhook %s %s attempt %d -> %s",
            delivery.event_type,
            delivery.id,
            delivery.attempts,
            "delivered" if error is None else error,
            extra={"endpoint_id": delivery.endpoint_id, "duration_ms": duration_ms},
        )
        metrics.webhook_attempted(
            str(values.get("status", "failed")),
            (now - delivery.event_created_at).total_seconds() if error is None else None,
        )
        return following[0] if following else None

    def _lease_time(self) -> timedelta:
        return timedelta(seconds=self.settings.webhook_timeout_seconds) + LEASE_MARGIN


async def run_worker(settings: Settings, engine: AsyncEngine, stop: asyncio.Event) -> None:
    """Run a hub and a worker until ``stop`` is set (``contacts-gateway worker``)."""
    hub = EventHub(engine, poll_seconds=settings.events_poll_seconds, redis_url=settings.redis_url)
    worker = DeliveryWorker(engine, settings, hub=hub)
    await hub.start()
    await worker.start()
    try:
        await stop.wait()
    finally:
        await worker.stop()
        await hub.stop()
