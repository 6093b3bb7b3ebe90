"""Light, immutable rows the domain layer returns: built from Core rows, not ORM instances."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """A contact as the API shows it."""

    id: str
    name: str
    email: str | None
    phone: str | None
    company_id: str | None
    company_name: str | None
    tags: list[str]
    custom_fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    version: int


@dataclass(frozen=True, slots=True)
class CompanyRecord:
    """A company as the API shows it; ``contact_count`` is filled in batches."""

    id: str
    name: str
    domain: str | None
    tags: list[str]
    custom_fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    version: int
    contact_count: int = 0


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key's public face: never its secret or hash."""

    id: str
    account_id: str
    account_name: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class Keyset:
    """A position in the (created_at, id) descending order."""

    created_at: datetime
    id: str


@dataclass(slots=True)
class ListFilter:
    """Filters shared by the contact and company lists."""

    search: str | None = None
    tags: list[str] = field(default_factory=list)
    company_id: str | None = None
    include_deleted: bool = False
    #: key → value; typed (str, number, bool, [item]) by resolvers.custom_fields.typed_filter.
    custom_fields: dict[str, Any] = field(default_factory=dict)
