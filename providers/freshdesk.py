"""Freshdesk v2 client: paged contact/company listings mapped to provider-neutral records."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from providers.freshdesk_mapping import map_freshdesk_company, map_freshdesk_contact
from providers.http import ResilientFetcher, RetryPolicy, Sleep, server_time
from providers.paging import RecentIds, next_link, same_origin_url
from providers.records import CompanyItem, ContactItem, ListingStats, ProviderContact
from resolvers.errors import ProviderError

PER_PAGE = 100
CONTACT_STATES = ("blocked", "deleted", "unverified", "verified")


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("updated_since must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FreshdeskClient:
    """Async Freshdesk v2 client (Basic auth with the API key) over a resilient fetcher."""

    kind = "freshdesk"

    def __init__(
        self,
        domain: str,
        api_key: str,
        base_url: str | None = None,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        default_region: str | None = None,
        rng: random.Random | None = None,
        recheck_passes: int = 1,
    ) -> None:
        root = (base_url or f"https://{domain}").rstrip("/")
        if not root.endswith("/api/v2"):
            root += "/api/v2"
        self.base = httpx.URL(root + "/")
        self.default_region = default_region
        self._client = httpx.AsyncClient(
            auth=httpx.BasicAuth(api_key, "X"),
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "contacts-gateway-sync"},
            follow_redirects=False,
        )
        self.fetcher = ResilientFetcher(
            self._client, provider="freshdesk", policy=policy, sleep=sleep, rng=rng
        )
        self.server_time_at_start: datetime | None = None
        self.last_server_time: datetime | None = None
        self.recheck_passes = recheck_passes
        self.contact_stats = ListingStats()
        self.company_stats = ListingStats()

    @property
    def next_since(self) -> datetime | None:
        """Highest safe `since` for the next run: the provider's clock when this run began."""
        return self.server_time_at_start

    async def aclose(self) -> None:
        """Close the underlying HTTP connection pool."""
        await self._client.aclose()

    async def __aenter__(self) -> FreshdeskClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _pages(self, path: str, params: dict[str, str | int]) -> AsyncIterator[list[Any]]:
        url: str | None = str(self.base.join(path))
        query: dict[str, str | int] | None = {"per_page": PER_PAGE, **params}
        visited: set[str] = set()
        while url is not None:
            response = await self.fetcher.get(url, params=query)
            self.last_server_time = server_time(response)
            if self.server_time_at_start is None:
                self.server_time_at_start = self.last_server_time
            try:
                body = response.json()
            except ValueError:
                raise ProviderError(f"freshdesk returned non-JSON for {path}") from None
            if not isinstance(body, list):
                raise ProviderError(f"freshdesk returned a non-list page for {path}")
            yield body
            link = next_link(response)
            if link is None:
                return
            url = same_origin_url(self.base, link, "freshdesk")
            query = None
            if url in visited:
                raise ProviderError(f"freshdesk next-page link repeats itself: {url}")
            visited.add(url)

    async def fetch_server_time(self) -> datetime | None:
        """Fetch a one-record page only to read the provider's clock from its Date header."""
        response = await self.fetcher.get(str(self.base.join("contacts")), params={"per_page": 1})
        moment = server_time(response)
        if self.server_time_at_start is None:
            self.server_time_at_start = moment
        return moment

    def iter_contacts(
        self, updated_since: datetime | None = None, state: str | None = None
    ) -> AsyncIterator[list[Any]]:
        """Yield raw pages of `GET /contacts` (alphabetical), following `link` headers."""
        params: dict[str, str | int] = {}
        if updated_since is not None:
            params["updated_since"] = _iso(updated_since)
        if state is not None:
            if state not in CONTACT_STATES:
                raise ValueError(f"unknown Freshdesk contact state {state!r}")
            params["state"] = state
        return self._pages("contacts", params)

    def iter_companies(self, updated_since: datetime | None = None) -> AsyncIterator[list[Any]]:
        """Yield raw pages of `GET /companies`, following `link` headers."""
        params: dict[str, str | int] = {}
        if updated_since is not None:
            params["updated_since"] = _iso(updated_since)
        return self._pages("companies", params)

    async def iter_contact_records(
        self, since: datetime | None = None, include_deleted: bool = True
    ) -> AsyncIterator[list[ContactItem]]:
        """Yield mapped pages: live, `state=blocked`, `state=deleted`; re-list if rows shifted.

        Pages are alphabetical, so a write during the listing (insert, rename, delete, block)
        shifts later rows across page boundaries and can hide one. After the listings we ask
        whether anything changed since the pass began; if so, the listings run again (up to
        `recheck_passes` times). Repeated rows are the engine's no-op `skipped`.
        """
        states: list[str | None] = [None, "blocked"]
        if include_deleted:
            states.append("deleted")
        passes = 0
        while True:
            pass_start: datetime | None = None
            for state in states:
                async for page in self._contact_listing(since, state):
                    if pass_start is None:
                        pass_start = self.last_server_time
                    yield page
            if passes >= self.recheck_passes or pass_start is None:
                return
            watched: list[str | None] = [None, "blocked", "deleted"]
            if not await self._changed_since(pass_start - timedelta(seconds=1), watched):
                return
            passes += 1
            self.contact_stats.repasses += 1

    async def _contact_listing(
        self, since: datetime | None, state: str | None
    ) -> AsyncIterator[list[ContactItem]]:
        deleted, blocked = state == "deleted", state == "blocked"
        recent = RecentIds()
        async for raw_page in self.iter_contacts(since, state):
            page: list[ContactItem] = []
            ids: set[str] = set()
            for raw in raw_page:
                item = map_freshdesk_contact(
                    raw, deleted=deleted, blocked=blocked, default_region=self.default_region
                )
                if isinstance(item, ProviderContact):
                    if item.external_id in ids or recent.seen(item.external_id):
                        self.contact_stats.duplicates += 1
                        continue
                    ids.add(item.external_id)
                page.append(item)
            recent.remember(ids)
            self.contact_stats.count(page)
            yield page

    async def _changed_since(self, moment: datetime, states: list[str | None]) -> bool:
        """Return True when any contact listing has a row updated at or after `moment`."""
        url = str(self.base.join("contacts"))
        for state in states:
            params: dict[str, str | int] = {"per_page": 1, "updated_since": _iso(moment)}
            if state is not None:
                params["state"] = state
            response = await self.fetcher.get(url, params=params)
            try:
                body = response.json()
            except ValueError:
                raise ProviderError("freshdesk returned non-JSON for contacts") from None
            if not isinstance(body, list):
                raise ProviderError("freshdesk returned a non-list page for contacts")
            if body:
                return True
        return False

    async def iter_company_records(
        self, since: datetime | None = None
    ) -> AsyncIterator[list[CompanyItem]]:
        """Yield mapped pages of companies (Freshdesk deletes companies hard)."""
        async for raw_page in self.iter_companies(since):
            page: list[CompanyItem] = [map_freshdesk_company(raw) for raw in raw_page]
            self.company_stats.count(page)
            yield page
