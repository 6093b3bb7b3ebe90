"""The process's event hub: tells subscribers and the delivery worker about committed events.

The outbox is the only source of truth; the hub only learns *when* to read it:

* PostgreSQL: a trigger on ``event_outbox`` runs ``pg_notify('cg_events', 'account:seq')``.
  NOTIFY is transactional, so every replica hears of exactly the committed events, in commit
  order; the hub LISTENs on a dedicated connection and reads the announced rows.
* SQLite: the hub tails the outbox by sequence number (one writer: sequence order is commit
  order). It reads right after a commit in this process, every ``events_poll_seconds`` (so
  other processes' events arrive within that delay), and immediately when a Redis doorbell
  rings (``redis_url`` set: every commit that wrote events publishes on ``cg_events``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db.engine import is_sqlite
from db.queries import events as q
from db.queries.events import EventRecord
from resolvers.events import add_commit_listener

log = logging.getLogger(__name__)

CHANNEL = "cg_events"
#: Events a slow subscriber may fall behind before it is cut off (it must resubscribe).
SUBSCRIBER_BACKLOG = 1000


class SubscriberOverflow(Exception):
    """A subscriber fell too far behind and lost its place."""


class Subscription:
    """One subscriber's queue of events of one account."""

    def __init__(self, hub: EventHub, account_id: str) -> None:
        self.hub = hub
        self.account_id = account_id
        self.queue: asyncio.Queue[EventRecord | None] = asyncio.Queue(SUBSCRIBER_BACKLOG)
        self.overflowed = False

    def offer(self, event: EventRecord) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            self.queue.get_nowait()
            self.queue.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[EventRecord]:
        while True:
            event = await self.queue.get()
            if event is None:
                raise SubscriberOverflow("the subscriber fell too far behind")
            yield event

    def close(self) -> None:
        self.hub.unsubscribe(self)


class EventHub:
    """Routes committed events to this process's subscribers (by account) and wakers."""

    def __init__(
        self, engine: AsyncEngine, *, poll_seconds: float = 1.0, redis_url: str | None = None
    ) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.redis_url = redis_url
        self.sqlite = is_sqlite(str(engine.url))
        self._subscribers: dict[str, set[Subscription]] = {}
        self._wakers: list[Callable[[], None]] = []
        self._kick = asyncio.Event()
        self._announced: list[int] = []
        self._last_seq = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._remove_listener: Callable[[], None] | None = None
        self._redis: Any = None
        self._started = False

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Begin following the outbox from its current end."""
        if self._started:
            return
        self._started = True
        async with AsyncSession(self.engine) as session:
            self._last_seq = await q.last_seq_all_accounts(session)
        self._remove_listener = add_commit_listener(self._local_commit)
        if self.sqlite:
            if self.redis_url:
                self._tasks.append(asyncio.create_task(self._redis_doorbell()))
        else:
            self._tasks.append(asyncio.create_task(self._pg_listen()))
        self._tasks.append(asyncio.create_task(self._pump()))

    async def stop(self) -> None:
        """Stop following; subscribers see their iteration end."""
        if self._remove_listener is not None:
            self._remove_listener()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
        self._started = False

    # ------------------------------------------------------------ subscribers and wakers

    def subscribe(self, account_id: str) -> Subscription:
        """A new queue of the account's events from now on."""
        sub = Subscription(self, account_id)
        self._subscribers.setdefault(account_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a subscriber."""
        subs = self._subscribers.get(sub.account_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                self._subscribers.pop(sub.account_id, None)

    def add_waker(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever new events were committed (the delivery worker)."""
        self._wakers.append(callback)

    @property
    def subscriber_count(self) -> int:
        """How many subscribers this process serves."""
        return sum(len(s) for s in self._subscribers.values())

    # ------------------------------------------------------------ internals

    def _local_commit(self) -> None:
        # Runs right after a commit in this process (inside the event loop's thread).
        self._wake()
        if self.sqlite:
            self._kick.set()
            if self._redis is not None:
                asyncio.get_running_loop().create_task(self._publish_doorbell())

    def _wake(self) -> None:
        for waker in list(self._wakers):
            waker()

    async def _publish_doorbell(self) -> None:
        with contextlib.suppress(Exception):
            await self._redis.publish(CHANNEL, "1")

    async def _pump(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=self.poll_seconds)
            self._kick.clear()
            try:
                await self._read_new()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event hub: reading the outbox failed; retrying")

    async def _read_new(self) -> None:
        async with AsyncSession(self.engine) as session:
            if self.sqlite:
                while True:
                    batch = await q.tail_all_accounts(session, after_seq=self._last_seq)
                    if not batch:
                        return
                    self._dispatch(batch)
                    self._last_seq = batch[-1].seq
            else:
                seqs, self._announced = self._announced, []
                if seqs:
                    self._dispatch(await q.events_by_seq_all_accounts(session, seqs=seqs))

    def _dispatch(self, batch: list[EventRecord]) -> None:
        if not batch:
            return
        for event in batch:
            for sub in list(self._subscribers.get(event.account_id, ())):
                sub.offer(event)
        if not self.sqlite:
            self._wake()

    async def _pg_listen(self) -> None:
        import asyncpg

        dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

        def on_notify(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            _, _, seq = payload.rpartition(":")
            if seq.isdigit():
                self._announced.append(int(seq))
                self._kick.set()

        while True:
            try:
                conn = await asyncpg.connect(dsn)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("event hub: cannot LISTEN on PostgreSQL; retrying in 1 s")
                await asyncio.sleep(1)
                continue
            try:
                await conn.add_listener(CHANNEL, on_notify)
                while not conn.is_closed():
                    await asyncio.sleep(self.poll_seconds)
                    # Wakes the worker for due retries too: a cheap keep-alive.
                    await conn.execute("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("event hub: LISTEN connection lost; reconnecting")
            finally:
                with contextlib.suppress(Exception):
                    await conn.close()

    async def _redis_doorbell(self) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(self.redis_url)
        while True:
            try:
                pubsub = self._redis.pubsub()
                await pubsub.subscribe(CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._kick.set()
                        self._wake()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("event hub: Redis doorbell lost; retrying in 1 s")
                await asyncio.sleep(1)
