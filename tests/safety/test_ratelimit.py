"""Rate limits: per key budgets, RateLimit headers, 429s, failed-auth throttling, Redis."""

from __future__ import annotations

import asyncio
import os
import re
import secrets

import pytest

from contacts_gateway.ratelimit import MemoryLimiter, Policy, RedisLimiter
from tests.rest._support import assert_problem
from tests.safety.conftest import ClientMaker

pytestmark = pytest.mark.asyncio

REDIS_URL = os.environ.get("CONTACTS_GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POLICY = re.compile(r'^"per-key";q=(\d+);w=(\d+)$')
STATE = re.compile(r'^"per-key";r=(\d+);t=(\d+)$')


async def test_budget_headers_and_429(client_with: ClientMaker, key: str, other_key: str) -> None:
    client = await client_with(rate_limit_burst=3, rate_limit_per_second=0.5)
    remaining = []
    for _ in range(3):
        r = await client.get("/api/v2/contacts", headers={"X-API-Key": key})
        assert r.status_code == 200
        assert POLICY.match(r.headers["RateLimit-Policy"]).groups() == ("3", "6")
        remaining.append(int(STATE.match(r.headers["RateLimit"]).group(1)))
    assert remaining == [2, 1, 0]
    refused = await client.get("/api/v2/contacts", headers={"X-API-Key": key})
    body = assert_problem(refused, 429, "rate_limited")
    assert "too many requests" in body["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 2
    assert STATE.match(refused.headers["RateLimit"]).group(1) == "0"
    # Another key has its own budget; probes need none.
    assert (
        await client.get("/api/v2/contacts", headers={"X-API-Key": other_key})
    ).status_code == 200
    assert (await client.get("/healthz")).status_code == 200
    # GraphQL counts too.
    gql = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"X-API-Key": key}
    )
    assert gql.status_code == 429


async def test_rejected_keys_are_throttled_per_address(client_with: ClientMaker, key: str) -> None:
    client = await client_with(auth_failure_burst=3, auth_failure_per_minute=1)
    for _ in range(3):
        bad = {"X-API-Key": "ak_live_" + secrets.token_hex(8)}
        assert (await client.get("/api/v2/contacts", headers=bad)).status_code == 401
    # GraphQL reports a bad key in the body, but it is still a rejected key.
    blocked = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"X-API-Key": "ak_live_nope"}
    )
    assert_problem(blocked, 429, "rate_limited")
    assert int(blocked.headers["Retry-After"]) >= 1
    # The whole address waits, even with a good key; another address does not.
    assert (await client.get("/api/v2/contacts", headers={"X-API-Key": key})).status_code == 429
    elsewhere = await client_with(
        auth_failure_burst=3, auth_failure_per_minute=1, client=("10.0.0.9", 1)
    )
    assert (await elsewhere.get("/api/v2/contacts", headers={"X-API-Key": key})).status_code == 200


async def test_memory_limiter_refills() -> None:
    limiter = MemoryLimiter()
    policy = Policy("t", rate=50, burst=2)
    assert (await limiter.hit("k", policy)).allowed
    assert (await limiter.hit("k", policy)).allowed
    refused = await limiter.hit("k", policy)
    assert not refused.allowed and refused.retry_after == 1
    assert not (await limiter.peek("k", policy)).allowed

    # Refilled after one interval (20 ms): poll with a deadline.
    deadline = asyncio.get_running_loop().time() + 2
    for _ in range(1000):
        if (
            await limiter.peek("k", policy)
        ).allowed or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.005)
    assert (await limiter.hit("k", policy)).allowed


async def _redis_or_skip() -> RedisLimiter:
    limiter = RedisLimiter(REDIS_URL)
    try:
        await limiter._redis.ping()
    except Exception as exc:
        await limiter.close()
        pytest.skip(
            f"REDIS NOT REACHABLE at {REDIS_URL} ({exc}): SKIPPING the Redis rate-limit test"
        )
    return limiter


async def test_redis_limiter_shares_one_budget_between_replicas(
    client_with: ClientMaker, key: str
) -> None:
    probe = await _redis_or_skip()
    await probe.close()
    settings = dict(redis_url=REDIS_URL, rate_limit_burst=4, rate_limit_per_second=0.2)
    replica_a = await client_with(**settings)
    replica_b = await client_with(**settings)
    statuses = []
    for i in range(6):
        client = replica_a if i % 2 == 0 else replica_b
        r = await client.get("/api/v2/contacts", headers={"X-API-Key": key})
        statuses.append(r.status_code)
    assert statuses == [200, 200, 200, 200, 429, 429]


async def test_redis_limiter_policy_and_outage() -> None:
    limiter = await _redis_or_skip()
    try:
        policy = Policy("t", rate=1, burst=2)
        name = "test:" + secrets.token_hex(6)
        first = await limiter.hit(name, policy)
        assert first.allowed and first.remaining == 1
        assert (await limiter.hit(name, policy)).allowed
        refused = await limiter.hit(name, policy)
        assert not refused.allowed and refused.retry_after >= 1
    finally:
        await limiter.close()
    # A Redis that cannot be reached fails open.
    down = RedisLimiter("redis://127.0.0.1:1/0", timeout=0.2)
    try:
        assert (await down.hit("x", Policy("t", rate=1, burst=1))).allowed
    finally:
        await down.close()
