"""The idempotency table: the first response to a keyed request, kept for 24 hours.

No ``from __future__ import annotations`` here: SQLModel resolves field types at runtime.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from db.types import JSONType, UTCDateTime


class IdempotencyRecord(SQLModel, table=True):
    """One ``Idempotency-Key`` of one API key: its request fingerprint and stored response.

    Written in the same transaction as the request's effect, so the two commit together.
    """

    __tablename__ = "idempotency_record"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "key_id", "idempotency_key", name="ux_idempotency_key"),
        sa.Index("ix_idempotency_account_expires", "account_id", "expires_at"),
        sa.Index("ix_idempotency_expires", "expires_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="account.id", max_length=40)
    key_id: str = Field(max_length=40)
    idempotency_key: str = Field(max_length=255)
    fingerprint: str = Field(max_length=64)
    state: str = Field(max_length=12)  # in_progress | done
    response_status: int | None = Field(default=None)
    response_headers: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(JSONType, nullable=False)
    )
    response_body: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
