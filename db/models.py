"""SQLModel tables. Every table carries ``account_id`` and its indexes lead with it.

No ``from __future__ import annotations`` here: SQLModel resolves field types at runtime.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from db.types import JSONType, UTCDateTime


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index))


def _json(default: Any) -> Any:
    return Field(
        default_factory=lambda: type(default)(),
        sa_column=sa.Column(JSONType, nullable=False),
    )


class Account(SQLModel, table=True):
    """A tenant: every other row belongs to exactly one account."""

    __tablename__ = "account"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    created_at: datetime = _ts()
    # Maintained in the same transaction as contact inserts/deletes: an O(1) unfiltered total.
    contact_count: int = Field(default=0)


class ApiKey(SQLModel, table=True):
    """An API key: only its SHA-256 and a short visible prefix are stored."""

    __tablename__ = "api_key"

    id: str = Field(primary_key=True, max_length=40)
    account_id: str = Field(foreign_key="account.id", max_length=40, index=True)
    name: str = Field(default="", max_length=100)
    prefix: str = Field(max_length=32, index=True)
    key_hash: str = Field(max_length=64)
    scopes: str = Field(max_length=500)
    created_at: datetime = _ts()
    last_used_at: datetime | None = _ts(nullable=True)
    revoked_at: datetime | None = _ts(nullable=True)


class Company(SQLModel, table=True):
    """An organisation grouping contacts; soft-deleted via ``deleted_at``."""

    __tablename__ = "company"
    __table_args__ = (
        sa.Index("ix_company_account_created", "account_id", "created_at", "id"),
        sa.Index(
            "ux_company_account_domain_active",
            "account_id",
            "domain",
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL AND domain IS NOT NULL"),
            postgresql_where=sa.text("deleted_at IS NULL AND domain IS NOT NULL"),
        ),
        sa.Index(
            "ux_company_account_external",
            "account_id",
            "external_provider",
            "external_id",
            unique=True,
            sqlite_where=sa.text("external_id IS NOT NULL"),
            postgresql_where=sa.text("external_id IS NOT NULL"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    account_id: str = Field(foreign_key="account.id", max_length=40)
    name: str = Field(max_length=255)
    # Stored lower-cased: host names are case-insensitive.
    domain: str | None = Field(default=None, max_length=253)
    tags: list[str] = _json([])
    custom_fields: dict[str, Any] = _json({})
    external_provider: str | None = Field(default=None, max_length=20)
    external_id: str | None = Field(default=None, max_length=64)
    version: int = Field(default=1)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    deleted_at: datetime | None = _ts(nullable=True)


class Contact(SQLModel, table=True):
    """A person who writes in. ``deleted_at`` is only set for sync tombstones."""

    __tablename__ = "contact"
    __table_args__ = (
        sa.Index("ix_contact_account_created", "account_id", "created_at", "id"),
        # Revision 0006: lists filter live rows; index-only deep offsets and counts.
        sa.Index(
            "ix_contact_account_live_created",
            "account_id",
            "created_at",
            "id",
            "deleted_at",
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        ),
        sa.Index(
            "ix_contact_account_tombstones",
            "account_id",
            sqlite_where=sa.text("deleted_at IS NOT NULL"),
            postgresql_where=sa.text("deleted_at IS NOT NULL"),
        ),
        sa.Index("ix_contact_account_company", "account_id", "company_id"),
        sa.Index(
            "ux_contact_account_email",
            "account_id",
            "email_norm",
            unique=True,
            sqlite_where=sa.text("email_norm IS NOT NULL AND deleted_at IS NULL"),
            postgresql_where=sa.text("email_norm IS NOT NULL AND deleted_at IS NULL"),
        ),
        sa.Index(
            "ux_contact_account_external",
            "account_id",
            "external_provider",
            "external_id",
            unique=True,
            sqlite_where=sa.text("external_id IS NOT NULL"),
            postgresql_where=sa.text("external_id IS NOT NULL"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    account_id: str = Field(foreign_key="account.id", max_length=40)
    name: str = Field(max_length=255)
    email: str | None = Field(default=None, max_length=320)
    # casefold()ed email: the unique key, so uniqueness does not depend on SQL lower().
    email_norm: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=32)
    company_id: str | None = Field(
        default=None,
        sa_column=sa.Column(sa.String(40), sa.ForeignKey("company.id"), nullable=True),
    )
    tags: list[str] = _json([])
    custom_fields: dict[str, Any] = _json({})
    external_provider: str | None = Field(default=None, max_length=20)
    external_id: str | None = Field(default=None, max_length=64)
    external_updated_at: datetime | None = _ts(nullable=True)
    version: int = Field(default=1)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    deleted_at: datetime | None = _ts(nullable=True)
    deleted_reason: str | None = Field(default=None, max_length=40)


class ContactTag(SQLModel, table=True):
    """Tag membership, indexed both ways: contacts with a tag, and tags of a contact."""

    __tablename__ = "contact_tag"
    __table_args__ = (sa.Index("ix_contact_tag_contact", "contact_id"),)

    account_id: str = Field(primary_key=True, max_length=40)
    tag: str = Field(primary_key=True, max_length=64)
    contact_id: str = Field(
        sa_column=sa.Column(
            sa.String(40), sa.ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True
        )
    )


class CompanyTag(SQLModel, table=True):
    """Tag membership of companies, indexed both ways."""

    __tablename__ = "company_tag"
    __table_args__ = (sa.Index("ix_company_tag_company", "company_id"),)

    account_id: str = Field(primary_key=True, max_length=40)
    tag: str = Field(primary_key=True, max_length=64)
    company_id: str = Field(
        sa_column=sa.Column(
            sa.String(40), sa.ForeignKey("company.id", ondelete="CASCADE"), primary_key=True
        )
    )


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table behind a SQLModel class (for Core queries)."""
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    return table
