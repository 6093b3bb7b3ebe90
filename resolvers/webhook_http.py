"""Outbound webhook HTTP: URL rules, the SSRF guard, Standard Webhooks signing, the sender.

The guard resolves the host itself, refuses non-public addresses (unless private URLs are
allowed), and then connects to exactly the address it checked: the request goes to the IP,
with the original ``Host`` header and TLS server name, so a DNS answer that changes between
the check and the connection (DNS rebinding) cannot redirect it. Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urlsplit, urlunsplit

import httpx

from resolvers.errors import ValidationFailed

ALLOW_PRIVATE_ENV = "CONTACTS_GATEWAY_ALLOW_PRIVATE_URLS"
SECRET_PREFIX = "whsec_"
MAX_URL_LENGTH = 2048

#: ``(host, port) -> addresses``; the default asks the system resolver.
Resolver = Callable[[str, int], Awaitable[list[str]]]


class RefusedAddress(Exception):
    """The URL's host resolves to an address webhooks may not be sent to."""


def private_urls_allowed() -> bool:
    """Whether CONTACTS_GATEWAY_ALLOW_PRIVATE_URLS permits private/loopback/http targets."""
    return os.environ.get(ALLOW_PRIVATE_ENV, "").strip().lower() in {"1", "true", "yes"}


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address (not loopback/private/link-local/…)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host``."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _literal_ip(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


async def addresses_of(
    host: str, port: int, *, allow_private: bool, resolver: Resolver | None = None
) -> list[str]:
    """The host's addresses, all checked; raises RefusedAddress when one is not public."""
    literal = _literal_ip(host)
    try:
        addresses = [literal] if literal else await (resolver or system_resolver)(host, port)
    except OSError as exc:
        raise RefusedAddress(f"{host} does not resolve") from exc
    if not addresses:
        raise RefusedAddress(f"{host} does not resolve")
    if not allow_private:
        for address in addresses:
            if not is_public_address(address):
                raise RefusedAddress(
                    f"{host} resolves to {address}, a private, loopback or reserved address"
                )
    return addresses


async def check_webhook_url(
    url: str, *, allow_private: bool, resolver: Resolver | None = None, field: str = "url"
) -> str:
    """Validate a webhook URL (https, no credentials, public host); returns it trimmed."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise ValidationFailed(f"url must be at most {MAX_URL_LENGTH} characters", field=field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationFailed("url is not a valid URL", field=field) from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        raise ValidationFailed("url must be an absolute https URL", field=field)
    if parts.username or parts.password:
        raise ValidationFailed("url must not contain credentials", field=field)
    if parts.fragment:
        raise ValidationFailed("url must not contain a fragment", field=field)
    if allow_private:
        return url  # any address is allowed: nothing to resolve now (the sender checks)
    if scheme != "https":
        raise ValidationFailed("url must use https", field=field)
    try:
        await addresses_of(
            parts.hostname,
            port or 443,
            allow_private=False,
            resolver=resolver,
        )
    except RefusedAddress as exc:
        raise ValidationFailed(f"url refused: {exc}", field=field) from None
    return url


# ---------------------------------------------------------------- signing


def new_secret() -> str:
    """A signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` keyed by the decoded secret."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


# ---------------------------------------------------------------- sending


async def post_pinned(
    client: httpx.AsyncClient,
    url: str,
    *,
    body: bytes,
    headers: Mapping[str, str],
    allow_private: bool,
    timeout_seconds: float,
    resolver: Resolver | None = None,
) -> httpx.Response:
    """POST ``body`` to ``url`` at an address checked by the SSRF guard; no redirects.

    Raises RefusedAddress before any traffic when the host is not allowed.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    scheme = parts.scheme.lower()
    if scheme != "https" and not allow_private:
        raise RefusedAddress("only https URLs are allowed")
    port = parts.port or (443 if scheme == "https" else 80)
    address = (await addresses_of(host, port, allow_private=allow_private, resolver=resolver))[0]
    ip_host = f"[{address}]" if ":" in address else address
    netloc = f"{ip_host}:{parts.port}" if parts.port else ip_host
    pinned = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = parts.netloc.rsplit("@", 1)[-1]
    request = client.build_request(
        "POST",
        pinned,
        content=body,
        headers={**headers, "Host": host_header, "Content-Type": "application/json"},
        timeout=timeout_seconds,
        # TLS is negotiated (SNI) and verified for the name, not the pinned address.
        extensions={"sni_hostname": host} if scheme == "https" else {},
    )
    # Only the status and headers matter: the body is never read (a receiver cannot make
    # us buffer an arbitrarily large answer).
    response = await client.send(request, follow_redirects=False, stream=True)
    await response.aclose()
    return response
