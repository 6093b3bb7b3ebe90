"""Zendesk client: cursor-based user export and time-based organization export, mapped."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx

from providers.http import ResilientFetcher, RetryPolicy, Sleep, server_time
from providers.paging import RecentIds, same_origin_url
from providers.records import CompanyItem, ContactItem, ListingStats, ProviderContact
from providers.zendesk_mapping import map_zendesk_organization, map_zendesk_user
from resolvers.errors import ProviderError

MIN_AGE_SECONDS = 61
MAX_EMPTY_REPEATS = 3


def _object(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ProviderError(f"zendesk returned non-JSON for {what}") from None
    if not isinstance(body, dict):
        raise ProviderError(f"zendesk returned a non-object page for {what}")
    return body


def _list_field(body: dict[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProviderError(f"zendesk page field {key!r} is not a list")
    return value


class ZendeskClient:
    """Async Zendesk Support client (`{email}/token` Basic auth) over a resilient fetcher."""

    kind = "zendesk"

    def __init__(
        self,
        subdomain: str,
        email: str,
        api_token: str,
        base_url: str | None = None,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        page_size: int | None = None,
        default_region: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        root = (base_url or f"https://{subdomain}.zendesk.com").rstrip("/")
        if not root.endswith("/api/v2"):
            root += "/api/v2"
        self.base = httpx.URL(root + "/")
        self.page_size = page_size
        self.default_region = default_region
        self._client = httpx.AsyncClient(
            auth=httpx.BasicAuth(f"{email}/token", api_token),
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "contacts-gateway-sync"},
            follow_redirects=False,
        )
        self.fetcher = ResilientFetcher(
            self._client, provider="zendesk", policy=policy, sleep=sleep, rng=rng
        )
        self.server_time_at_start: datetime | None = None
        self.after_cursor: str | None = None
        self.contact_stats = ListingStats()
        self.company_stats = ListingStats()

    @property
    def next_since(self) -> datetime | None:
        """Highest safe `since` for the next run: run start minus the unexported last minute."""
        if self.server_time_at_start is None:
            return None
        return self.server_time_at_start - timedelta(seconds=MIN_AGE_SECONDS)

    async def aclose(self) -> None:
        """Close the underlying HTTP connection pool."""
        await self._client.aclose()

    async def __aenter__(self) -> ZendeskClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _start_time(self, since: datetime | None) -> int:
        """Epoch seconds for `start_time`, clamped to at least a minute in the past."""
        if since is None:
            return 0
        if since.tzinfo is None:
            raise ValueError("since must be timezone-aware")
        now = time.time()
        if self.server_time_at_start is not None:
            now = min(now, self.server_time_at_start.timestamp())
        return max(0, min(int(since.timestamp()), int(now) - MIN_AGE_SECONDS))

    async def _get(
        self, url: str, params: dict[str, str | int] | None, what: str
    ) -> dict[str, Any]:
        try:
            response = await self.fetcher.get(url, params=params)
        except ProviderError:
            retry_params = self._reclamp_too_recent(params)
            if retry_params is None:
                raise
            response = await self.fetcher.get(url, params=retry_params)
        if self.server_time_at_start is None:
            self.server_time_at_start = server_time(response)
        return _object(response, what)

    def _reclamp_too_recent(
        self, params: dict[str, str | int] | None
    ) -> dict[str, str | int] | None:
        """After a 422 "too recent start_time", re-clamp against the provider's own clock."""
        last = self.fetcher.last_response
        if params is None or "start_time" not in params or last is None:
            return None
        if last.status_code != 422 or "start_time" not in last.text:
            return None
        provider_now = server_time(last)
        if provider_now is None:
            return None
        clamped = int(provider_now.timestamp()) - MIN_AGE_SECONDS
        if int(params["start_time"]) <= clamped:
            return None
        return {**params, "start_time": max(0, clamped)}

    async def iter_users(
        self, start_time: datetime | None = None, cursor: str | None = None
    ) -> AsyncIterator[list[Any]]:
        """Yield raw user pages of the cursor export until `end_of_stream` (not an empty page)."""
        url = str(self.base.join("incremental/users/cursor"))
        params: dict[str, str | int] = (
            {"cursor": cursor} if cursor else {"start_time": self._start_time(start_time)}
        )
        if self.page_size:
            params["per_page"] = self.page_size
        repeats = 0
        while True:
            body = await self._get(url, params, "incremental/users/cursor")
            users = _list_field(body, "users")
            yield users
            after = body.get("after_cursor")
            if after is not None and not isinstance(after, str):
                raise ProviderError("zendesk after_cursor is not a string")
            if after:
                self.after_cursor = after
            if body.get("end_of_stream") is True:
                return
            if not after:
                raise ProviderError("zendesk export has no after_cursor before end_of_stream")
            repeats = repeats + 1 if not users and params.get("cursor") == after else 0
            if repeats >= MAX_EMPTY_REPEATS:
                raise ProviderError(f"zendesk cursor export is stuck at cursor {after}")
            params = {"cursor": after}
            if self.page_size:
                params["per_page"] = self.page_size

    async def iter_organizations(
        self, start_time: datetime | None = None
    ) -> AsyncIterator[list[Any]]:
        """Yield raw organization pages of the time-based export, deduplicating page overlaps."""
        url = str(self.base.join("incremental/organizations"))
        start = self._start_time(start_time)
        params: dict[str, str | int] | None = self._org_params(start)
        recent = RecentIds(pages=3)
        while True:
            body = await self._get(url, params, "incremental/organizations")
            orgs = _list_field(body, "organizations")
            fresh: list[Any] = []
            ids: set[str] = set()
            for org in orgs:
                key = str(org.get("id")) if isinstance(org, dict) else None
                if key is not None and (key in ids or recent.seen(key)):
                    self.company_stats.duplicates += 1
                    continue
                if key is not None:
                    ids.add(key)
                fresh.append(org)
            recent.remember(ids)
            if fresh:
                yield fresh
            if body.get("end_of_stream") is True:
                return
            next_start, next_url = self._next_org_page(body)
            if next_start <= start and not fresh:
                raise ProviderError(
                    f"zendesk organizations export does not advance past start_time={start};"
                    " refusing to loop"
                )
            start = next_start
            if next_url is not None:
                url, params = next_url, None
            else:
                params = self._org_params(start)

    def _org_params(self, start: int) -> dict[str, str | int]:
        params: dict[str, str | int] = {"start_time": start}
        if self.page_size:
            params["per_page"] = self.page_size
        return params

    def _next_org_page(self, body: dict[str, Any]) -> tuple[int, str | None]:
        next_page = body.get("next_page")
        end_time = body.get("end_time")
        if isinstance(next_page, str) and next_page:
            target = httpx.URL(next_page)
            raw_start = target.params.get("start_time")
            if raw_start is not None and raw_start.isdigit():
                return int(raw_start), same_origin_url(self.base, next_page, "zendesk")
        if isinstance(end_time, int) and not isinstance(end_time, bool):
            return end_time, None
        raise ProviderError("zendesk organizations page has neither next_page nor end_time")

    async def iter_contact_records(
        self, since: datetime | None = None, include_deleted: bool = True
    ) -> AsyncIterator[list[ContactItem]]:
        """Yield mapped user pages; non end-users are skipped, `active: false` means deleted."""
        async for raw_page in self.iter_users(since):
            page: list[ContactItem] = []
            for raw in raw_page:
                item = map_zendesk_user(raw, default_region=self.default_region)
                if isinstance(item, ProviderContact) and item.deleted and not include_deleted:
                    continue
                page.append(item)
            self.contact_stats.count(page)
            yield page

    async def iter_company_records(
        self, since: datetime | None = None
    ) -> AsyncIterator[list[CompanyItem]]:
        """Yield mapped organization pages (`deleted_at` marks deletions)."""
        async for raw_page in self.iter_organizations(since):
            page: list[CompanyItem] = [map_zendesk_organization(raw) for raw in raw_page]
            self.company_stats.count(page)
            yield page
