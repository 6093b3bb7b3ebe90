"""Pagination helpers: Link-header parsing and a bounded duplicate filter across pages."""

from __future__ import annotations

import re
from collections import deque

import httpx

from resolvers.errors import ProviderError

_NEXT_LINK = re.compile(r'<(.*?)>;\s*rel="next"')


def next_link(response: httpx.Response) -> str | None:
    """Return the URL of the `link: <…>; rel="next"` header, or None on the last page."""
    header = response.headers.get("link")
    if not header:
        return None
    match = _NEXT_LINK.search(header)
    return match.group(1) if match else None


def same_origin_url(base: httpx.URL, link: str, provider: str) -> str:
    """Re-anchor a next-page link on our configured origin, keeping its path and query."""
    try:
        target = httpx.URL(link)
    except httpx.InvalidURL:
        raise ProviderError(f"{provider} sent an unusable next-page link") from None
    if target.is_relative_url:
        target = base.join(link)
    raw_path = target.raw_path.decode("ascii")
    return str(base.copy_with(raw_path=raw_path.encode("ascii"), fragment=None))


class RecentIds:
    """Remembers the ids of the last few pages so a page shift cannot yield a record twice."""

    def __init__(self, pages: int = 2) -> None:
        self._pages: deque[set[str]] = deque(maxlen=pages)

    def seen(self, external_id: str) -> bool:
        """Return True when `external_id` appeared on one of the remembered pages."""
        return any(external_id in page for page in self._pages)

    def remember(self, ids: set[str]) -> None:
        """Remember one page's ids, forgetting the oldest page."""
        self._pages.append(ids)
