"""Idempotency keys: one effect per key, replays, mismatches, concurrency, expiry, GraphQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import write_gate
from db.queries import idempotency as q
from db.types import utcnow
from db.uow import UnitOfWork
from resolvers import idempotency
from resolvers.context import RequestContext
from resolvers.errors import Conflict
from resolvers.keys import authenticate
from tests.conftest import Api
from tests.rest._support import assert_problem

pytestmark = pytest.mark.asyncio


async def _count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def test_replay_returns_the_first_response_and_writes_once(
    api: Api, engine: AsyncEngine
) -> None:
    body = {"name": "Ada", "email": "ada@example.com", "tags": ["vip"]}
    first = await api.post("/api/v2/contacts", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    # Same JSON, other key order and whitespace: the same request.
    again = await api.post(
        "/api/v2/contacts",
        content=b'{ "tags": ["vip"], "email": "ada@example.com", "name": "Ada" }',
        headers={"Idempotency-Key": "k-1", "Content-Type": "application/json"},
    )
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["ETag"] == first.headers["ETag"]
    assert await _count(engine, "contact") == 1
    # PATCH too: replayed, the version is bumped once.
    url = f"/api/v2/contacts/{first.json()['id']}"
    p1 = await api.patch(url, json={"name": "Ada L."}, headers={"Idempotency-Key": "p-1"})
    p2 = await api.patch(url, json={"name": "Ada L."}, headers={"Idempotency-Key": "p-1"})
    assert p1.status_code == p2.status_code == 200
    assert p2.headers["Idempotent-Replayed"] == "true"
    assert (await api.get(url)).json()["version"] == 2


async def test_same_key_other_request_is_422(api: Api, engine: AsyncEngine) -> None:
    await api.post("/api/v2/contacts", json={"name": "A"}, headers={"Idempotency-Key": "k"})
    other = await api.post("/api/v2/contacts", json={"name": "B"}, headers={"Idempotency-Key": "k"})
    assert_problem(other, 422, "validation_failed", "Idempotency-Key")
    other_path = await api.post(
        "/api/v2/companies", json={"name": "A"}, headers={"Idempotency-Key": "k"}
    )
    assert_problem(other_path, 422, "validation_failed", "Idempotency-Key")
    assert await _count(engine, "contact") == 1
    assert await _count(engine, "company") == 0


@pytest.mark.parametrize("bad", ["", "x" * 256, "tab\there", "naïve", " lead"])
async def test_malformed_key_is_422(api: Api, engine: AsyncEngine, bad: str) -> None:
    response = await api.post(
        "/api/v2/contacts", json={"name": "A"}, headers={"Idempotency-Key": bad.encode("utf-8")}
    )
    assert_problem(response, 422, "validation_failed", "Idempotency-Key")
    assert await _count(engine, "contact") == 0


async def test_keys_are_scoped_to_the_api_key(api: Api, other_api: Api, make_key) -> None:
    same_account = Api(api.client, await make_key("acme"))
    a = await api.post("/api/v2/contacts", json={"name": "A"}, headers={"Idempotency-Key": "k"})
    b = await same_account.post(
        "/api/v2/contacts", json={"name": "A"}, headers={"Idempotency-Key": "k"}
    )
    c = await other_api.post(
        "/api/v2/contacts", json={"name": "A"}, headers={"Idempotency-Key": "k"}
    )
    assert a.status_code == b.status_code == c.status_code == 201
    assert len({a.json()["id"], b.json()["id"], c.json()["id"]}) == 3


async def test_a_failed_request_stores_nothing_and_can_be_retried(
    api: Api, engine: AsyncEngine
) -> None:
    headers = {"Idempotency-Key": "retry-me"}
    await api.post("/api/v2/contacts", json={"name": "X", "email": "x@example.com"})
    clash = await api.post(
        "/api/v2/contacts", json={"name": "Y", "email": "x@example.com"}, headers=headers
    )
    assert_problem(clash, 409, "conflict", "email")
    assert await _count(engine, "idempotency_record") == 0
    contacts = (await api.get("/api/v2/contacts")).json()["data"]
    await api.delete(f"/api/v2/contacts/{contacts[0]['id']}")
    retry = await api.post(
        "/api/v2/contacts", json={"name": "Y", "email": "x@example.com"}, headers=headers
    )
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry.headers


async def test_concurrent_duplicates_create_one_contact(api: Api, engine: AsyncEngine) -> None:
    async def send() -> tuple[int, str]:
        r = await api.post(
            "/api/v2/contacts", json={"name": "Dup"}, headers={"Idempotency-Key": "same"}
        )
        return r.status_code, r.json().get("id") or r.json().get("code")

    results = await asyncio.gather(*(send() for _ in range(12)))
    statuses = {s for s, _ in results}
    assert statuses <= {201, 409}, results
    created_ids = {v for s, v in results if s == 201}
    assert len(created_ids) == 1
    assert {v for s, v in results if s == 409} <= {"conflict"}
    assert await _count(engine, "contact") == 1
    # Once the first has committed every retry replays it.
    late = await api.post(
        "/api/v2/contacts", json={"name": "Dup"}, headers={"Idempotency-Key": "same"}
    )
    assert late.status_code == 201 and late.json()["id"] in created_ids


async def _ctx(engine: AsyncEngine, raw_key: str) -> RequestContext:
    return RequestContext(uow=UnitOfWork(engine), principal=await authenticate(engine, raw_key))


async def test_duplicate_from_another_process_waits_or_conflicts(
    engine: AsyncEngine, key: str, dialect: str
) -> None:
    """Another process has no in-process claim: SQLite makes it wait and replay, PostgreSQL 409s."""
    first, second = await _ctx(engine, key), await _ctx(engine, key)
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_effect() -> idempotency.StoredResponse:
        started.set()
        await release.wait()
        return idempotency.StoredResponse(201, {}, '{"id": "first"}')

    async def fast_effect() -> idempotency.StoredResponse:
        return idempotency.StoredResponse(201, {}, '{"id": "second"}')

    async def run_first() -> tuple[idempotency.StoredResponse, bool]:
        result = await idempotency.run_once(first, key="x", fingerprint="f", effect=slow_effect)
        await first.uow.commit()
        return result

    task = asyncio.create_task(run_first())
    await started.wait()
    idempotency._in_flight.clear()  # what another process sees: no claim in its memory
    try:
        if dialect == "postgresql":
            with pytest.raises(Conflict):
                await idempotency.run_once(second, key="x", fingerprint="f", effect=fast_effect)
            release.set()
            assert (await task)[1] is False
        else:
            waiter = asyncio.create_task(
                idempotency.run_once(second, key="x", fingerprint="f", effect=fast_effect)
            )
            # SQLite: the second queues for the write lock the first holds…
            gate = write_gate(engine)
            assert gate is not None
            async with asyncio.timeout(10):
                while not gate[0]._waiters:  # type: ignore[attr-defined]  # noqa: ASYNC110
                    await asyncio.sleep(0)
            assert not waiter.done()
            # …and replays the first's response once it commits.
            release.set()
            assert (await task)[1] is False
            stored, replayed = await waiter
            assert replayed and stored.body == '{"id": "first"}'
    finally:
        release.set()
        await first.uow.close()
        await second.uow.close()


async def test_unique_index_stops_a_second_claim(engine: AsyncEngine, key: str) -> None:
    """The in-progress row is the last line of defence: a second insert cannot commit."""
    principal = await authenticate(engine, key)
    assert principal is not None
    now = utcnow()
    values = dict(
        account_id=principal.account_id,
        key_id=principal.key_id,
        idempotency_key="u",
        fingerprint="f",
        created_at=now,
        expires_at=now + timedelta(hours=1),
    )
    one, two = UnitOfWork(engine), UnitOfWork(engine)
    try:
        await q.insert_in_progress(await one.writer(), **values)
        await one.commit()
        with pytest.raises(sa.exc.IntegrityError):
            await q.insert_in_progress(await two.writer(), **values)
    finally:
        await one.close()
        await two.close()


async def test_expired_records_are_replaced_and_purged(api: Api, engine: AsyncEngine) -> None:
    headers = {"Idempotency-Key": "old"}
    first = await api.post("/api/v2/contacts", json={"name": "A"}, headers=headers)
    await api.post("/api/v2/contacts", json={"name": "B"}, headers={"Idempotency-Key": "older"})
    async with engine.begin() as conn:
        await conn.execute(
            sa.text("UPDATE idempotency_record SET expires_at = :t"),
            {"t": (utcnow() - timedelta(seconds=1)).replace(tzinfo=None)},
        )
    # Lazily on access: the key works again and runs again.
    again = await api.post("/api/v2/contacts", json={"name": "A"}, headers=headers)
    assert again.status_code == 201 and again.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in again.headers
    # And by the periodic purge: the other expired record goes, the fresh one stays.
    assert await idempotency.purge_expired(engine) == 1
    assert await _count(engine, "idempotency_record") == 1


CREATE = """mutation($input: CreateContactInput!, $key: String) {
  createContact(input: $input, idempotencyKey: $key) { id name version }
}"""


async def test_graphql_idempotency_key(api: Api, engine: AsyncEngine) -> None:
    variables = {"input": {"name": "Gql"}, "key": "g-1"}
    one = await api.gql(CREATE, variables)
    response = await api.post("/graphql", json={"query": CREATE, "variables": variables})
    two = response.json()
    assert "errors" not in one and "errors" not in two, (one, two)
    assert one["data"] == two["data"]
    assert response.headers["Idempotent-Replayed"] == "true"
    assert await _count(engine, "contact") == 1
    other = await api.gql(CREATE, {"input": {"name": "Other"}, "key": "g-1"})
    assert other["errors"][0]["extensions"]["code"] == "validation_failed"
    assert other["errors"][0]["extensions"]["field"] == "idempotencyKey"
    bad = await api.gql(CREATE, {"input": {"name": "Other"}, "key": "x" * 300})
    assert bad["errors"][0]["extensions"]["field"] == "idempotencyKey"
    assert await _count(engine, "contact") == 1


async def test_activity_and_custom_field_writes_honour_idempotency_keys(api: Api) -> None:
    contact = (await api.post("/api/v2/contacts", json={"name": "Idem Potent"})).json()
    item = {
        "type": "call",
        "subject": "Renewal",
        "occurred_at": "2026-01-15T10:00:00Z",
        "duration_seconds": 60,
    }
    url = f"/api/v2/contacts/{contact['id']}/activity"
    first = await api.post(url, json=item, headers={"Idempotency-Key": "act-1"})
    again = await api.post(url, json=item, headers={"Idempotency-Key": "act-1"})
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == first.json()["id"]
    listed = (await api.get(url)).json()
    assert listed["total"] == 1

    definition = {"key": "plan", "label": "Plan", "type": "text", "applies_to": "contacts"}
    made = await api.post(
        "/api/v2/custom-fields", json=definition, headers={"Idempotency-Key": "cf-1"}
    )
    replay = await api.post(
        "/api/v2/custom-fields", json=definition, headers={"Idempotency-Key": "cf-1"}
    )
    assert made.status_code == replay.status_code == 201
    assert replay.headers.get("Idempotent-Replayed") == "true"
    other = await api.post(
        "/api/v2/custom-fields",
        json={**definition, "label": "Other"},
        headers={"Idempotency-Key": "cf-1"},
    )
    assert other.status_code == 422
    patched = await api.patch(
        "/api/v2/custom-fields/plan", json={"label": "Tier"}, headers={"Idempotency-Key": "cf-2"}
    )
    replayed = await api.patch(
        "/api/v2/custom-fields/plan", json={"label": "Tier"}, headers={"Idempotency-Key": "cf-2"}
    )
    assert patched.status_code == replayed.status_code == 200
    assert replayed.headers.get("Idempotent-Replayed") == "true"
