"""Pages: REST limit/offset and GraphQL keyset cursors over (created_at, id)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from db.records import Keyset
from resolvers.errors import ValidationFailed

MAX_PAGE = 100
DEFAULT_PAGE = 25


class _Ordered(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...


T = TypeVar("T", bound=_Ordered)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Which slice of a list to return, and whether to count the total."""

    limit: int = DEFAULT_PAGE
    offset: int = 0
    after: Keyset | None = None
    with_total: bool = True

    @classmethod
    def rest(cls, limit: int, offset: int, *, max_limit: int = MAX_PAGE) -> PageRequest:
        """A REST page: limit 1..max_limit, offset >= 0."""
        if not 1 <= limit <= max_limit:
            raise ValidationFailed(f"limit must be between 1 and {max_limit}", field="limit")
        if offset < 0:
            raise ValidationFailed("offset must be 0 or more", field="offset")
        return cls(limit=limit, offset=offset)

    @classmethod
    def graphql(
        cls, first: int, after: str | None, *, with_total: bool, max_first: int = MAX_PAGE
    ) -> PageRequest:
        """A GraphQL connection page: first 1..max_first, after an opaque cursor."""
        if not 1 <= first <= max_first:
            raise ValidationFailed(f"first must be between 1 and {max_first}", field="first")
        return cls(
            limit=first, after=decode_cursor(after) if after else None, with_total=with_total
        )


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of results; ``total`` is None when it was not asked for."""

    items: list[T]
    total: int | None
    limit: int
    offset: int
    has_next: bool

    @property
    def end_cursor(self) -> str | None:
        """The cursor after the last item."""
        return cursor_of(self.items[-1]) if self.items else None

    @property
    def start_cursor(self) -> str | None:
        """The cursor of the first item."""
        return cursor_of(self.items[0]) if self.items else None


def cursor_of(item: _Ordered) -> str:
    """An opaque cursor naming ``item``'s position."""
    raw = f"{item.created_at.isoformat()}|{item.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Keyset:
    """The position a cursor names; a malformed cursor is a 422 naming ``after``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, _, item_id = base64.urlsafe_b64decode(padded.encode()).decode().partition("|")
        created_at = datetime.fromisoformat(created)
        if created_at.tzinfo is None or not item_id:
            raise ValueError(cursor)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("after is not a cursor this API issued", field="after") from exc
    return Keyset(created_at=created_at, id=item_id)


def page_of(rows: list[T], request: PageRequest, total: int | None) -> Page[T]:
    """Trim the extra look-ahead row and build the page."""
    has_next = len(rows) > request.limit
    return Page(
        items=rows[: request.limit],
        total=total,
        limit=request.limit,
        offset=request.offset,
        has_next=has_next,
    )
