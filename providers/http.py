"""Resilient HTTP fetching for provider clients: retries, Retry-After, backoff, wait caps."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from providers.outbound import check_outbound_url, private_urls_allowed
from resolvers.errors import ProviderAuthError, ProviderError

__all__ = [
    "QueryParams",
    "ResilientFetcher",
    "RetryPolicy",
    "Sleep",
    "check_outbound_url",
    "parse_retry_after",
    "private_urls_allowed",
    "server_time",
]

Sleep = Callable[[float], Awaitable[None]]
QueryParams = Mapping[str, str | int]

_RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to retry: attempts per request, backoff shape, and the total waiting budget."""

    max_attempts: int = 10
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_total_wait: float = 900.0
    default_retry_after: float = 60.0
    timeout: float = 30.0


def server_time(response: httpx.Response) -> datetime | None:
    """Return the response's `Date` header as an aware UTC datetime (the provider's clock)."""
    value = response.headers.get("date")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Return the seconds a `Retry-After` value (delta-seconds or HTTP-date) asks us to wait."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if seconds == seconds else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def _excerpt(response: httpx.Response, limit: int = 200) -> str:
    try:
        text = response.text
    except (UnicodeDecodeError, httpx.ResponseNotRead):
        return ""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


class ResilientFetcher:
    """GETs through an httpx.AsyncClient, retrying what is transient and failing fast on auth."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        provider: str,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.provider = provider
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.total_waited = 0.0
        self.retries = 0
        self.requests = 0
        self.last_response: httpx.Response | None = None

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.policy.max_delay, self.policy.base_delay * (2 ** (attempt - 1)))
        return self.rng.uniform(0.0, max(ceiling, 0.0))

    async def _wait(self, seconds: float, attempt: int, why: str) -> None:
        if attempt >= self.policy.max_attempts:
            raise ProviderError(f"{self.provider}: gave up after {attempt} attempts: {why}")
        if self.total_waited + seconds > self.policy.max_total_wait:
            raise ProviderError(
                f"{self.provider}: gave up after {self.total_waited:.0f} s of waiting"
                f" (next wait {seconds:.0f} s would exceed the {self.policy.max_total_wait:.0f} s"
                f" budget): {why}"
            )
        self.total_waited += seconds
        self.retries += 1
        await self.sleep(seconds)

    def _retry_after(self, response: httpx.Response) -> float | None:
        now = server_time(response) or datetime.fromtimestamp(time.time(), UTC)
        return parse_retry_after(response.headers.get("retry-after"), now)

    async def get(self, url: str, params: QueryParams | None = None) -> httpx.Response:
        """GET `url`, retrying 429/5xx/network errors; raise ProviderError when it cannot."""
        attempt = 0
        while True:
            attempt += 1
            self.requests += 1
            try:
                response = await self.client.get(url, params=params, timeout=self.policy.timeout)
            except _RETRYABLE_ERRORS as exc:
                why = f"{type(exc).__name__} on GET {httpx.URL(url).path}"
                await self._wait(self._backoff(attempt), attempt, why)
                continue
            self.last_response = response
            status = response.status_code
            if status < 300:
                return response
            if status in (401, 403):
                raise ProviderAuthError(
                    f"{self.provider} rejected the credentials (HTTP {status});"
                    " check the configured API key or token"
                )
            if status == 429:
                wait = self._retry_after(response)
                if wait is None:
                    wait = self.policy.default_retry_after
                await self._wait(wait, attempt, "HTTP 429 rate limited")
                continue
            if status >= 500:
                wait = self._retry_after(response)
                if wait is None:
                    wait = self._backoff(attempt)
                await self._wait(wait, attempt, f"HTTP {status}: {_excerpt(response, 120)}")
                continue
            raise ProviderError(
                f"{self.provider} answered HTTP {status} on GET {response.url.path}:"
                f" {_excerpt(response)}"
            )
