"""Webhook delivery over real HTTP: signatures, retries, ordering, leases, SSRF at send time."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_gateway.settings import Settings
from contacts_gateway.worker import DeliveryWorker
from db.queries.webhooks import delivery, endpoint
from db.types import utcnow
from tests.conftest import Api
from tests.events.conftest import (
    Receiver,
    WorkerMaker,
    delivery_rows,
    eventually,
    standard_webhooks_verify,
)


async def _hook(api: Api, url: str, events: list[str] | None = None) -> dict[str, str]:
    r = await api.post("/api/v2/webhooks", json={"url": url, "events": events or ["*"]})
    assert r.status_code == 201, r.text
    return r.json()


async def test_delivered_signed_with_the_standard_webhooks_scheme(
    api: Api, receiver: Receiver, start_worker: WorkerMaker
) -> None:
    hook = await _hook(api, receiver.url, ["contact.*"])
    contact = (await api.post("/api/v2/contacts", json={"name": "Ann"})).json()
    await api.post("/api/v2/companies", json={"name": "Acme"})  # not subscribed
    worker = await start_worker()
    await eventually(lambda: len(receiver.requests) >= 1)
    got = receiver.requests[0]
    assert got.path == "/hooks"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["webhook-id"].startswith("evt_")
    assert standard_webhooks_verify(hook["secret"], got.headers, got.body)
    # Tampering breaks it: the verifier really checks.
    assert not standard_webhooks_verify(hook["secret"], got.headers, got.body + b" ")
    body = receiver.bodies()[0]
    assert body["type"] == "contact.created"
    assert body["timestamp"].endswith("Z")
    assert body["data"]["object"] == contact
    assert body["data"]["version"] == 1
    assert set(body["data"]) == {"account", "version", "object"}

    deliveries = (await api.get(f"/api/v2/webhooks/{hook['id']}/deliveries")).json()
    await eventually(lambda: _statuses(api, hook["id"]), timeout=5)
    deliveries = (await api.get(f"/api/v2/webhooks/{hook['id']}/deliveries")).json()
    assert deliveries["total"] == 1
    d = deliveries["data"][0]
    assert d["status"] == "delivered" and d["attempts"] == 1 and d["last_status_code"] == 200
    assert d["event_id"] == got.headers["webhook-id"] and d["last_duration_ms"] >= 0
    await worker.until_idle()  # the worker looks again: nothing is sent twice
    assert len(receiver.requests) == 1


async def _statuses(api: Api, hook_id: str) -> bool:
    data = (await api.get(f"/api/v2/webhooks/{hook_id}/deliveries")).json()["data"]
    return all(d["status"] == "delivered" for d in data) and bool(data)


async def test_three_failures_then_success_same_id_growing_delays(
    api: Api, receiver: Receiver, start_worker: WorkerMaker
) -> None:
    receiver.script = [(500, {}), (502, {}), (404, {})]
    hook = await _hook(api, receiver.url)
    await api.post("/api/v2/contacts", json={"name": "Ann"})
    await start_worker()
    await eventually(lambda: len(receiver.requests) == 4, timeout=15)
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert len(ids) == 1
    assert all(
        standard_webhooks_verify(hook["secret"], r.headers, r.body) for r in receiver.requests
    )
    gaps = [b.at - a.at for a, b in zip(receiver.requests, receiver.requests[1:], strict=False)]
    # schedule 0.2, 0.4, 0.8 s: no retry comes before its step, so the waits grow (a fixed
    # delay fails the second bound). No upper bound: that would time the host, and a busy
    # CI machine can stall a worker pass by half a second.
    assert gaps[0] >= 0.19 and gaps[1] >= 0.39 and gaps[2] >= 0.79, gaps
    await eventually(lambda: _statuses(api, hook["id"]))
    d = (await api.get(f"/api/v2/webhooks/{hook['id']}/deliveries")).json()["data"][0]
    assert d["attempts"] == 4 and d["status"] == "delivered" and d["last_status_code"] == 200
    hook_now = (await api.get(f"/api/v2/webhooks/{hook['id']}")).json()
    assert hook_now["failing_since"] is None and hook_now["enabled"] is True


async def test_retry_after_is_honoured_on_429(
    api: Api, receiver: Receiver, start_worker: WorkerMaker
) -> None:
    receiver.script = [(429, {"Retry-After": "1"})]
    await _hook(api, receiver.url)
    await api.post("/api/v2/contacts", json={"name": "Ann"})
    await start_worker()
    await eventually(lambda: len(receiver.requests) == 2, timeout=10)
    gap = receiver.requests[1].at - receiver.requests[0].at
    assert gap >= 0.95, gap  # not the 0.2 s of the schedule


async def test_exhausted_schedule_is_dead_and_next_event_goes(
    api: Api, receiver: Receiver, start_worker: WorkerMaker, engine: AsyncEngine
) -> None:
    receiver.script = [(500, {})] * 3
    hook = await _hook(api, receiver.url)
    await api.post("/api/v2/contacts", json={"name": "First"})
    await api.post("/api/v2/contacts", json={"name": "Second"})
    await start_worker(webhook_retry_schedule=[0.05, 0.05])
    await eventually(lambda: len(receiver.requests) == 4, timeout=10)
    names = [b["data"]["object"]["name"] for b in receiver.bodies()]
    # Per endpoint, commit order: the second waits until the first is finished (dead).
    assert names == ["First", "First", "First", "Second"]

    async def finished() -> list[dict[str, object]] | None:
        rows = await delivery_rows(engine)
        return rows if [r["status"] for r in rows] == ["dead", "delivered"] else None

    rows = await eventually(finished)
    # A manual retry sends the dead one again.
    dead = rows[0]
    r = await api.post(f"/api/v2/webhooks/{hook['id']}/deliveries/{dead['id']}/retry")
    assert r.status_code == 202 and r.json()["status"] == "pending"
    await eventually(lambda: len(receiver.requests) == 5, timeout=5)
    assert receiver.requests[4].headers["webhook-id"] == dead["event_id"]


async def test_410_disables_the_endpoint(
    api: Api, receiver: Receiver, start_worker: WorkerMaker
) -> None:
    receiver.script = [(410, {})]
    hook = await _hook(api, receiver.url)
    await api.post("/api/v2/contacts", json={"name": "Ann"})
    worker = await start_worker()

    async def disabled() -> bool:
        return not (await api.get(f"/api/v2/webhooks/{hook['id']}")).json()["enabled"]

    await eventually(disabled)
    h = (await api.get(f"/api/v2/webhooks/{hook['id']}")).json()
    assert "410" in h["disabled_reason"]
    await api.post("/api/v2/contacts", json={"name": "Bob"})  # no delivery for a disabled one
    await worker.until_idle()
    assert len(receiver.requests) == 1
    deliveries = (await api.get(f"/api/v2/webhooks/{hook['id']}/deliveries")).json()
    assert [d["status"] for d in deliveries["data"]] == ["dead"]
    # Enabling it again clears the reason.
    h = (await api.patch(f"/api/v2/webhooks/{hook['id']}", json={"enabled": True})).json()
    assert h["enabled"] is True and h["disabled_reason"] is None


async def test_failing_for_too_long_disables_with_a_reason(
    api: Api, receiver: Receiver, start_worker: WorkerMaker, engine: AsyncEngine
) -> None:
    receiver.default = (500, {})
    hook = await _hook(api, receiver.url)
    await api.post("/api/v2/contacts", json={"name": "Ann"})
    # 1e-6 days = 86 ms: the second failure comes after the first by more than that.
    worker = await start_worker(
        webhook_disable_after_days=1e-6, webhook_retry_schedule=[0.2, 0.2, 0.2]
    )

    async def disabled() -> bool:
        return not (await api.get(f"/api/v2/webhooks/{hook['id']}")).json()["enabled"]

    await eventually(disabled)
    h = (await api.get(f"/api/v2/webhooks/{hook['id']}")).json()
    assert h["disabled_reason"].startswith("failing without a success since")
    assert h["failing_since"] is not None
    count = len(receiver.requests)
    # The undelivered event is kept for a re-enable; make its retry due now: a disabled
    # endpoint's due delivery is still not attempted.
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(delivery).values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
    await worker.until_idle()
    assert len(receiver.requests) == count
    assert [r["status"] for r in await delivery_rows(engine)] == ["failed"]


async def test_commit_then_crash_loses_nothing(
    api: Api, receiver: Receiver, start_worker: WorkerMaker
) -> None:
    # No worker runs while the changes commit (the server "died" before delivering)…
    hook = await _hook(api, receiver.url)
    for name in ("A", "B", "C"):
        await api.post("/api/v2/contacts", json={"name": name})
    assert receiver.requests == []
    # …a worker started later delivers everything, in commit order.
    await start_worker()
    await eventually(lambda: len(receiver.requests) == 3)
    assert [b["data"]["object"]["name"] for b in receiver.bodies()] == ["A", "B", "C"]
    assert all(
        standard_webhooks_verify(hook["secret"], r.headers, r.body) for r in receiver.requests
    )


async def test_a_crashed_attempt_is_retried_after_its_lease_expires(
    api: Api, receiver: Receiver, engine: AsyncEngine, fast_settings: Settings
) -> None:
    await _hook(api, receiver.url)
    await api.post("/api/v2/contacts", json={"name": "Ann"})
    # A worker leases the delivery and dies before sending (we claim and never send).
    from db.queries import webhooks as q
    from db.uow import UnitOfWork

    uow = UnitOfWork(engine)
    session = await uow.writer()
    now = utcnow()
    claimed = await q.claim_due(
        session, owner="dead-worker", now=now, lease_until=now + timedelta(seconds=1), limit=10
    )
    await uow.commit()
    await uow.close()
    assert len(claimed) == 1
    worker = DeliveryWorker(engine, fast_settings)
    await worker.start()
    try:
        assert await worker.run_once() == 0  # leased by someone else: not touched
        await eventually(lambda: len(receiver.requests) == 1, timeout=5)

        async def delivered() -> bool:
            return (await delivery_rows(engine))[0]["status"] == "delivered"

        await eventually(delivered)
    finally:
        await worker.stop()
    rows = await delivery_rows(engine)
    assert rows[0]["status"] == "delivered" and rows[0]["attempts"] == 2


async def test_several_workers_never_send_the_same_attempt_twice(
    api: Api, receiver: Receiver, engine: AsyncEngine, fast_settings: Settings
) -> None:
    hooks = [await _hook(api, receiver.url + f"/{i}") for i in range(3)]
    for i in range(10):
        await api.post("/api/v2/contacts", json={"name": f"c{i}"})
    workers = [DeliveryWorker(engine, fast_settings) for _ in range(4)]
    await asyncio.gather(*(w.start() for w in workers))
    try:
        await eventually(lambda: len(receiver.requests) >= 30, timeout=20)
        for worker in workers:
            await worker.until_idle()
    finally:
        await asyncio.gather(*(w.stop() for w in workers))
    assert len(receiver.requests) == 30
    pairs = [(r.path, r.headers["webhook-id"]) for r in receiver.requests]
    assert len(set(pairs)) == 30
    for i in range(len(hooks)):
        names = [
            b["data"]["object"]["name"]
            for r, b in zip(receiver.requests, receiver.bodies(), strict=True)
            if r.path == f"/hooks/{i}"
        ]
        assert names == [f"c{n}" for n in range(10)]  # per endpoint, commit order
    rows = await delivery_rows(engine)
    assert all(r["status"] == "delivered" and r["attempts"] == 1 for r in rows)


async def test_rotation_signs_with_both_secrets_during_the_overlap(
    api: Api, receiver: Receiver, start_worker: WorkerMaker
) -> None:
    hook = await _hook(api, receiver.url)
    r = await api.post(f"/api/v2/webhooks/{hook['id']}/rotate-secret")
    assert r.status_code == 200
    new_secret = r.json()["secret"]
    assert new_secret != hook["secret"] and new_secret.startswith("whsec_")
    assert r.json()["previous_secret_expires_at"] is not None
    await api.post("/api/v2/contacts", json={"name": "Ann"})
    await start_worker()
    await eventually(lambda: len(receiver.requests) == 1)
    got = receiver.requests[0]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert standard_webhooks_verify(new_secret, got.headers, got.body)
    assert standard_webhooks_verify(hook["secret"], got.headers, got.body)


async def test_ping_from_the_test_endpoint(
    api: Api, receiver: Receiver, start_worker: WorkerMaker
) -> None:
    hook = await _hook(api, receiver.url, ["company.*"])
    r = await api.post(f"/api/v2/webhooks/{hook['id']}/test")
    assert r.status_code == 202 and r.json()["event_type"] == "ping"
    await start_worker()
    await eventually(lambda: len(receiver.requests) == 1)
    assert receiver.bodies()[0]["type"] == "ping"
    assert standard_webhooks_verify(
        hook["secret"], receiver.requests[0].headers, receiver.requests[0].body
    )


async def test_send_time_guard_refuses_private_addresses_without_traffic(
    api: Api, receiver: Receiver, start_worker: WorkerMaker, engine: AsyncEngine
) -> None:
    # Created while private URLs were allowed; the worker runs where they are not.
    hook = await _hook(api, receiver.url)
    await api.post("/api/v2/contacts", json={"name": "Ann"})
    await start_worker(allow_private_urls=False)

    async def refused() -> bool:
        rows = await delivery_rows(engine)
        return bool(rows) and rows[0]["attempts"] >= 1 and rows[0]["last_error"] is not None

    await eventually(refused)
    rows = await delivery_rows(engine)
    assert rows[0]["last_error"].startswith("refused:")
    assert rows[0]["status"] == "failed" and rows[0]["last_status_code"] is None
    assert receiver.requests == []
    assert hook["id"] == rows[0]["endpoint_id"]


async def test_dns_rebinding_is_caught_at_send_time(
    api: Api, receiver: Receiver, start_worker: WorkerMaker, engine: AsyncEngine
) -> None:
    # The name resolved to a public address when the endpoint was made; now it answers with
    # a private one (the resolver is the DNS stub; no traffic leaves the machine).
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(endpoint).values(
                id="wh_rebind",
                account_id=(await _account_id(engine)),
                url="https://hooks.example.test/x",
                events=["*"],
                enabled=True,
                description="",
                secret="whsec_" + "A" * 44,
                created_at=sa.func.now(),
                updated_at=sa.func.now(),
            )
        )
    await api.post("/api/v2/contacts", json={"name": "Ann"})

    async def rebinding(host: str, port: int) -> list[str]:
        assert host == "hooks.example.test"
        return ["10.0.0.1"]

    await start_worker(allow_private_urls=False, resolver=rebinding)

    async def refused() -> bool:
        rows = await delivery_rows(engine)
        return bool(rows) and rows[0]["last_error"] is not None

    await eventually(refused)
    rows = await delivery_rows(engine)
    assert "10.0.0.1" in rows[0]["last_error"] and rows[0]["last_error"].startswith("refused:")


async def _account_id(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        return str(await conn.scalar(sa.text("SELECT id FROM account WHERE name = 'acme'")))


async def test_redirects_are_not_followed(
    api: Api, receiver: Receiver, start_worker: WorkerMaker, engine: AsyncEngine
) -> None:
    receiver.script = [(302, {"Location": receiver.url + "/elsewhere"})]
    await _hook(api, receiver.url)
    await api.post("/api/v2/contacts", json={"name": "Ann"})
    worker = await start_worker(webhook_retry_schedule=[5.0])

    async def recorded() -> list[dict[str, object]] | None:
        rows = await delivery_rows(engine)
        return rows if rows and rows[0]["status"] == "failed" else None

    rows = await eventually(recorded)
    assert rows[0]["last_status_code"] == 302 and rows[0]["last_error"]
    await worker.until_idle()
    assert [r.path for r in receiver.requests] == ["/hooks"]


async def test_slow_receiver_times_out(
    api: Api, engine: AsyncEngine, start_worker: WorkerMaker
) -> None:
    import socket

    # A server that accepts and never answers.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        await _hook(api, f"http://127.0.0.1:{sock.getsockname()[1]}/slow")
        await api.post("/api/v2/contacts", json={"name": "Ann"})
        await start_worker(webhook_timeout_seconds=0.3, webhook_retry_schedule=[30.0])

        async def timed_out() -> bool:
            rows = await delivery_rows(engine)
            return bool(rows) and rows[0]["last_error"] == "timed out"

        await eventually(timed_out, timeout=5)
    finally:
        sock.close()
    _ = delivery  # the table is used by the fixtures too


async def test_the_claim_finds_each_queue_head_through_the_open_index(
    api: Api, receiver: Receiver, engine: AsyncEngine, dialect: str
) -> None:
    """The head of an endpoint's queue is one seek in the partial index of open deliveries,
    not a walk over the finished ones before it (which made a backlog drain quadratic)."""
    from db.queries import webhooks as q
    from db.uow import UnitOfWork

    await _hook(api, receiver.url)
    for name in ("A", "B"):
        await api.post("/api/v2/contacts", json={"name": name})
    seen: list[tuple[str, object]] = []

    def on_execute(
        conn: object, cursor: object, statement: str, parameters: object, *_: object
    ) -> None:
        if statement.lstrip().upper().startswith("UPDATE WEBHOOK_DELIVERY"):
            seen.append((statement, parameters))

    sa.event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    uow = UnitOfWork(engine)
    try:
        now = utcnow()
        session = await uow.writer()
        claimed = await q.claim_due(
            session, owner="w", now=now, lease_until=now + timedelta(seconds=5), limit=10
        )
        await uow.rollback()
    finally:
        await uow.close()
        sa.event.remove(engine.sync_engine, "before_cursor_execute", on_execute)
    assert [c.event_type for c in claimed] == ["contact.created"]  # one head per endpoint
    ((statement, parameters),) = seen
    async with engine.connect() as conn:
        if dialect == "sqlite":
            rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        else:  # a tiny table is rightly scanned: forbid that to see what the shape allows
            await conn.exec_driver_sql("SET enable_seqscan = off")
            rows = await conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        plan = "\n".join(str(r[-1]) for r in rows)
    assert "ix_webhook_delivery_open" in plan, plan
    assert not re.search(r"SCAN (webhook_delivery|head)\b", plan), plan  # SQLite: no walk
    if dialect == "sqlite":  # driven from the endpoints: deliveries only by key or head seek
        outer = [line for line in plan.splitlines() if re.search(r"\bwebhook_delivery\b", line)]
        assert outer and all("(id=?)" in line for line in outer), plan
    assert "Seq Scan on webhook_delivery" not in plan, plan
