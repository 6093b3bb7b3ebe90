"""Rate limits: GCRA (a token bucket kept as one timestamp per key), in-process or in Redis.

Each key has a *policy*: ``burst`` requests at once, refilled at ``rate`` per second. GCRA
stores only the "theoretical arrival time" (TAT) of a key: a request is allowed when
``TAT - now <= burst_interval``; each allowed request moves the TAT by ``1/rate``.

With ``CONTACTS_GATEWAY_REDIS_URL`` set, the TAT lives in Redis and is updated by one Lua
script (atomic; Redis's own clock), so every replica draws from one budget. When Redis is
unreachable the limiter fails open (logs a warning, allows the request): an outage of the
limiter store must not become an outage of the API.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("contacts_gateway.ratelimit")


@dataclass(frozen=True, slots=True)
class Policy:
    """``burst`` requests at once, refilled at ``rate`` per second."""

    name: str
    rate: float
    burst: int

    @property
    def interval(self) -> float:
        """Seconds one request costs."""
        return 1.0 / self.rate

    @property
    def window(self) -> int:
        """Seconds to refill the whole burst (the ``w`` of ``RateLimit-Policy``)."""
        return max(1, math.ceil(self.burst / self.rate))

    def header(self) -> str:
        """``RateLimit-Policy`` (draft-ietf-httpapi-ratelimit-headers, structured field)."""
        return f'"{self.name}";q={self.burst};w={self.window}'


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one check: allowed or not, what remains, and when to come back."""

    allowed: bool
    remaining: int
    reset: int  # seconds until the bucket is full again
    retry_after: int  # seconds until one request would be allowed (0 when allowed)

    def header(self, policy: Policy) -> str:
        """``RateLimit`` (structured field): remaining quota and seconds to reset."""
        return f'"{policy.name}";r={self.remaining};t={self.reset}'


def _decide(tat: float, now: float, policy: Policy, *, consume: bool) -> tuple[Decision, float]:
    """GCRA: the decision and the new TAT (unchanged when refused or only peeking)."""
    tat = max(tat, now)
    tolerance = policy.interval * policy.burst
    new_tat = tat + policy.interval
    allow_at = new_tat - tolerance
    if allow_at > now:
        remaining = 0
        return Decision(
            False, remaining, math.ceil(tat - now), max(1, math.ceil(allow_at - now))
        ), tat
    kept = new_tat if consume else tat
    remaining = int((tolerance - (kept - now)) / policy.interval + 1e-9)
    return Decision(True, max(0, remaining), math.ceil(kept - now), 0), kept


class Limiter(Protocol):
    """Where the TATs live."""

    async def hit(self, key: str, policy: Policy) -> Decision:
        """Count one request against ``key`` (refused requests are not counted)."""
        ...

    async def peek(self, key: str, policy: Policy) -> Decision:
        """Whether one more request would be allowed, without counting it."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class MemoryLimiter:
    """TATs in a dict of this process; stale keys are pruned as the dict grows."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._tat: dict[str, float] = {}
        self._max_keys = max_keys

    async def hit(self, key: str, policy: Policy) -> Decision:
        now = time.monotonic()
        decision, tat = _decide(self._tat.get(key, now), now, policy, consume=True)
        if decision.allowed:
            self._tat[key] = tat
            if len(self._tat) > self._max_keys:
                self._prune(now)
        return decision

    async def peek(self, key: str, policy: Policy) -> Decision:
        now = time.monotonic()
        return _decide(self._tat.get(key, now), now, policy, consume=False)[0]

    def _prune(self, now: float) -> None:
        # A TAT in the past means a full bucket: the same as no entry at all.
        for key in [k for k, tat in self._tat.items() if tat <= now]:
            del self._tat[key]
        while len(self._tat) > self._max_keys:  # still too many: drop the oldest
            self._tat.pop(next(iter(self._tat)))

    async def close(self) -> None:
        self._tat.clear()


#: KEYS[1] = bucket; ARGV = interval, tolerance, consume (1/0). Returns {allowed, tat-now, allow_at-now} in ms.
_GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local consume = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if allow_at > now then
  return {0, tat - now, allow_at - now}
end
if consume == 1 then
  redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now + 1000)
  return {1, new_tat - now, 0}
end
return {1, tat - now, 0}
"""


class RedisLimiter:
    """TATs in Redis, updated atomically by a Lua script: replicas share one budget."""

    def __init__(self, url: str, *, prefix: str = "cg:rl:", timeout: float = 0.5) -> None:
        import redis.asyncio as redis

        self._redis: Any = redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._script: Any = self._redis.register_script(_GCRA_LUA)
        self._prefix = prefix
        self._warned_at = 0.0

    async def _run(self, key: str, policy: Policy, consume: bool) -> Decision:
        interval_ms = max(1, round(policy.interval * 1000))
        tolerance_ms = interval_ms * policy.burst
        try:
            allowed, tat_ms, allow_ms = await self._script(
                keys=[self._prefix + key], args=[interval_ms, tolerance_ms, 1 if consume else 0]
            )
        except Exception as exc:  # any Redis error or timeout: fail open
            now = time.monotonic()
            if now - self._warned_at > 60:
                self._warned_at = now
                log.warning("rate limiter store unavailable, allowing requests: %s", exc)
            return Decision(True, policy.burst, 0, 0)
        tat_ms, allow_ms = int(tat_ms), int(allow_ms)
        if not allowed:
            return Decision(False, 0, math.ceil(tat_ms / 1000), max(1, math.ceil(allow_ms / 1000)))
        remaining = (tolerance_ms - tat_ms) // interval_ms
        return Decision(True, max(0, remaining), math.ceil(tat_ms / 1000), 0)

    async def hit(self, key: str, policy: Policy) -> Decision:
        return await self._run(key, policy, True)

    async def peek(self, key: str, policy: Policy) -> Decision:
        return await self._run(key, policy, False)

    async def close(self) -> None:
        await self._redis.aclose()


def make_limiter(redis_url: str | None) -> Limiter:
    """Redis when a URL is configured, else this process's memory."""
    if redis_url:
        return RedisLimiter(redis_url)
    return MemoryLimiter()
