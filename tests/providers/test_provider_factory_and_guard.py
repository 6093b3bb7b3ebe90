"""Provider factory, SSRF guard, Retry-After and Date parsing."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from providers.base import Provider, make_provider
from providers.freshdesk import FreshdeskClient
from providers.http import check_outbound_url, parse_retry_after, private_urls_allowed, server_time
from providers.zendesk import ZendeskClient
from resolvers.errors import ValidationFailed

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("Thu, 01 Jan 2026 12:00:30 GMT", 30.0),
        ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_server_time_reads_date_header() -> None:
    response = httpx.Response(200, headers={"Date": "Thu, 01 Jan 2026 12:00:00 GMT"})
    assert server_time(response) == NOW
    assert server_time(httpx.Response(200)) is None
    assert server_time(httpx.Response(200, headers={"Date": "garbage"})) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/api",
        "https://10.1.2.3",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]:8443",
        "https://[::ffff:192.168.0.1]",
        "https://0.0.0.0",
        "http://93.184.216.34",
        "ftp://93.184.216.34",
        "https://user:pw@93.184.216.34",
        "not a url",
    ],
)
def test_outbound_guard_rejects_unsafe_urls(url: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        check_outbound_url(url, allow_private=False)
    assert info.value.field == "base_url"


def test_outbound_guard_resolves_names_and_allows_public() -> None:
    check_outbound_url("https://93.184.216.34/api/v2", allow_private=False)
    check_outbound_url(
        "https://acme.freshdesk.com", allow_private=False, resolver=lambda h, p: ["104.18.1.1"]
    )
    with pytest.raises(ValidationFailed):
        check_outbound_url(
            "https://evil.example", allow_private=False, resolver=lambda h, p: ["10.0.0.5"]
        )
    check_outbound_url("http://127.0.0.1:9999", allow_private=True)


def test_private_urls_allowed_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTACTS_GATEWAY_ALLOW_PRIVATE_URLS", "1")
    assert private_urls_allowed()
    monkeypatch.setenv("CONTACTS_GATEWAY_ALLOW_PRIVATE_URLS", "0")
    assert not private_urls_allowed()
    monkeypatch.delenv("CONTACTS_GATEWAY_ALLOW_PRIVATE_URLS")
    assert not private_urls_allowed()
    with pytest.raises(ValidationFailed):
        make_provider(
            {
                "type": "freshdesk",
                "domain": "a.freshdesk.com",
                "api_key": "k",
                "base_url": "http://127.0.0.1:1",
            }
        )


@pytest.mark.asyncio
async def test_make_provider_builds_both_kinds() -> None:
    fd = make_provider(
        {
            "type": "freshdesk",
            "domain": "acme.freshdesk.com",
            "api_key": "k",
            "base_url": "http://127.0.0.1:1/",
        }
    )
    zd = make_provider(
        {
            "type": "zendesk",
            "subdomain": "acme",
            "email": "a@b.io",
            "api_token": "t",
            "base_url": "http://127.0.0.1:2",
        }
    )
    assert isinstance(fd, FreshdeskClient) and isinstance(zd, ZendeskClient)
    assert isinstance(fd, Provider) and isinstance(zd, Provider)
    assert str(fd.base) == "http://127.0.0.1:1/api/v2/"
    bare = make_provider({"type": "freshdesk", "domain": "acme", "api_key": "k"})
    assert isinstance(bare, FreshdeskClient)
    assert str(bare.base) == "https://acme.freshdesk.com/api/v2/"
    await bare.aclose()
    assert str(zd.base) == "http://127.0.0.1:2/api/v2/"
    await fd.aclose()
    await zd.aclose()


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"type": "nope"}, "provider.type"),
        ({"type": "freshdesk", "api_key": "k"}, "provider.domain"),
        ({"type": "freshdesk", "domain": "acme.freshdesk.com"}, "provider.api_key"),
        ({"type": "freshdesk", "domain": "bad domain", "api_key": "k"}, "provider.domain"),
        ({"type": "zendesk", "subdomain": "acme", "email": "a@b.io"}, "provider.api_token"),
        (
            {"type": "zendesk", "subdomain": "a.b/c", "email": "e", "api_token": "t"},
            "provider.subdomain",
        ),
    ],
)
def test_make_provider_validates_config(config: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        make_provider(config)
    assert info.value.errors[0].field == field
