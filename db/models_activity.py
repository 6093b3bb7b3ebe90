"""Tables of the contact timeline: activity items, attachments, custom field definitions.

No ``from __future__ import annotations`` here: SQLModel resolves field types at runtime.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from db.types import JSONType, UTCDateTime


def _ts(nullable: bool = False) -> Any:
    return Field(sa_column=sa.Column(UTCDateTime(), nullable=nullable))


class Activity(SQLModel, table=True):
    """One conversation, ticket or call of a contact (``act_`` ids)."""

    __tablename__ = "activity"
    __table_args__ = (
        # The timeline order: newest first by occurred_at, then id (a keyset).
        sa.Index(
            "ix_activity_account_contact_time", "account_id", "contact_id", "occurred_at", "id"
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    account_id: str = Field(foreign_key="account.id", max_length=40)
    contact_id: str = Field(
        sa_column=sa.Column(
            sa.String(40), sa.ForeignKey("contact.id", ondelete="CASCADE"), nullable=False
        )
    )
    type: str = Field(max_length=20)
    subject: str | None = Field(default=None, max_length=500)
    status: str | None = Field(default=None, max_length=40)
    channel: str | None = Field(default=None, max_length=40)
    direction: str | None = Field(default=None, max_length=20)
    summary: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    occurred_at: datetime = _ts()
    duration_seconds: int | None = Field(default=None)
    external_id: str | None = Field(default=None, max_length=128)
    source: str = Field(default="api", max_length=40)
    created_at: datetime = _ts()


class Attachment(SQLModel, table=True):
    """A file of a contact (``att_`` ids); the bytes live in the blob store under the id."""

    __tablename__ = "attachment"
    __table_args__ = (
        sa.Index(
            "ix_attachment_account_contact_created", "account_id", "contact_id", "created_at", "id"
        ),
        sa.Index("ix_attachment_account_activity", "account_id", "activity_id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    account_id: str = Field(foreign_key="account.id", max_length=40)
    contact_id: str = Field(
        sa_column=sa.Column(
            sa.String(40), sa.ForeignKey("contact.id", ondelete="CASCADE"), nullable=False
        )
    )
    activity_id: str | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.String(40), sa.ForeignKey("activity.id", ondelete="CASCADE"), nullable=True
        ),
    )
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))
    sha256: str = Field(max_length=64)
    created_at: datetime = _ts()


class CustomFieldDefinition(SQLModel, table=True):
    """One custom field an account defines for its contacts or companies."""

    __tablename__ = "custom_field_definition"

    account_id: str = Field(foreign_key="account.id", max_length=40, primary_key=True)
    key: str = Field(max_length=64, primary_key=True)
    label: str = Field(max_length=255)
    type: str = Field(max_length=20)
    options: list[str] = Field(default_factory=list, sa_column=sa.Column(JSONType, nullable=False))
    required: bool = Field(default=False)
    applies_to: str = Field(max_length=20)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
