"""The Provider protocol the sync engine programs against, and the factory that builds one."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import httpx

from providers.freshdesk import FreshdeskClient
from providers.http import RetryPolicy, Sleep
from providers.outbound import check_outbound_url, private_urls_allowed
from providers.records import CompanyItem, ContactItem, ListingStats
from providers.zendesk import ZendeskClient
from resolvers.errors import FieldError, ValidationFailed

PROVIDER_TYPES = ("freshdesk", "zendesk")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


@runtime_checkable
class Provider(Protocol):
    """What the sync engine needs from a helpdesk: mapped pages, the clock, and cleanup."""

    kind: str
    server_time_at_start: datetime | None
    contact_stats: ListingStats
    company_stats: ListingStats

    @property
    def next_since(self) -> datetime | None:
        """Highest safe `since` for the next run (provider clock; subtract an overlap too)."""
        ...

    def iter_contact_records(
        self, since: datetime | None = None, include_deleted: bool = True
    ) -> AsyncIterator[list[ContactItem]]:
        """Yield pages of mapped contacts (and skipped records) changed since `since`."""
        ...

    def iter_company_records(
        self, since: datetime | None = None
    ) -> AsyncIterator[list[CompanyItem]]:
        """Yield pages of mapped companies (and skipped records) changed since `since`."""
        ...

    async def aclose(self) -> None:
        """Release HTTP resources."""
        ...


def _text(config: Mapping[str, Any], key: str, errors: list[FieldError]) -> str:
    value = config.get(key)
    if not isinstance(value, str) or not value.strip():
        errors.append(FieldError(f"provider.{key}", "is required"))
        return ""
    return value.strip()


def _base_url(config: Mapping[str, Any], default: str, allow_private: bool) -> str | None:
    raw = config.get("base_url")
    if raw is not None and (not isinstance(raw, str) or not raw.strip()):
        raise ValidationFailed("base_url must be a URL string", field="base_url")
    url = raw.strip() if isinstance(raw, str) else None
    check_outbound_url(url or default, allow_private)
    return url


def make_provider(
    config: Mapping[str, Any],
    *,
    policy: RetryPolicy | None = None,
    sleep: Sleep = asyncio.sleep,
    transport: httpx.AsyncBaseTransport | None = None,
    allow_private: bool | None = None,
) -> FreshdeskClient | ZendeskClient:
    """Build the client a settings dict (`{"type": "freshdesk"|"zendesk", ...}`) describes."""
    allow = private_urls_allowed() if allow_private is None else allow_private
    kind = config.get("type")
    errors: list[FieldError] = []
    if kind == "freshdesk":
        domain = _text(config, "domain", errors).lower().rstrip(".")
        if domain and "." not in domain:
            domain += ".freshdesk.com"
        api_key = _text(config, "api_key", errors)
        if domain and not _HOSTNAME.match(domain):
            errors.append(
                FieldError("provider.domain", "must be a host name like acme.freshdesk.com")
            )
        if errors:
            raise ValidationFailed(f"{errors[0].field}: {errors[0].message}", errors=errors)
        base_url = _base_url(config, f"https://{domain}", allow)
        return FreshdeskClient(domain, api_key, base_url, policy, sleep, transport)
    if kind == "zendesk":
        subdomain = _text(config, "subdomain", errors).lower()
        email = _text(config, "email", errors)
        api_token = _text(config, "api_token", errors)
        if subdomain and not _SUBDOMAIN.match(subdomain):
            errors.append(FieldError("provider.subdomain", "must be a Zendesk subdomain like acme"))
        if errors:
            raise ValidationFailed(f"{errors[0].field}: {errors[0].message}", errors=errors)
        base_url = _base_url(config, f"https://{subdomain}.zendesk.com", allow)
        return ZendeskClient(subdomain, email, api_token, base_url, policy, sleep, transport)
    raise ValidationFailed(
        f"provider.type must be one of {', '.join(PROVIDER_TYPES)}", field="provider.type"
    )
