"""SSRF guard for provider base URLs: https only, no private or loopback targets."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from resolvers.errors import ValidationFailed

ALLOW_PRIVATE_ENV = "CONTACTS_GATEWAY_ALLOW_PRIVATE_URLS"

Resolver = Callable[[str, int], list[str]]


def private_urls_allowed() -> bool:
    """Return True when CONTACTS_GATEWAY_ALLOW_PRIVATE_URLS=1 permits private/http targets."""
    return os.environ.get(ALLOW_PRIVATE_ENV, "").strip().lower() in {"1", "true", "yes"}


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _is_forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


def check_outbound_url(url: str, allow_private: bool, *, resolver: Resolver | None = None) -> None:
    """Raise ValidationFailed(field="base_url") unless `url` is a safe outbound target."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationFailed("base_url is not a valid URL", field="base_url") from None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in ("https", "http") or not host:
        raise ValidationFailed("base_url must be an absolute http(s) URL", field="base_url")
    if parts.username or parts.password:
        raise ValidationFailed("base_url must not contain credentials", field="base_url")
    if allow_private:
        return
    if scheme != "https":
        raise ValidationFailed("base_url must use https", field="base_url")
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = (resolver or _resolve)(host, port or 443)
        except OSError:
            raise ValidationFailed("base_url host does not resolve", field="base_url") from None
    if not addresses:
        raise ValidationFailed("base_url host does not resolve", field="base_url")
    for address in addresses:
        if _is_forbidden(address):
            raise ValidationFailed(
                "base_url points to a private, loopback or reserved address", field="base_url"
            )
