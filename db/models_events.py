"""Event outbox, webhook endpoints and their deliveries.

No ``from __future__ import annotations`` here: SQLModel resolves field types at runtime.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from db.types import JSONType, UTCDateTime

# INTEGER PRIMARY KEY is SQLite's rowid (monotonic, assigned in commit order because SQLite
# has one writer); BIGSERIAL on PostgreSQL (commit order per account: see db/queries/events).
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(nullable: bool = False) -> Any:
    return Field(sa_column=sa.Column(UTCDateTime(), nullable=nullable))


class EventOutbox(SQLModel, table=True):
    """One domain event, written in the transaction of the change it describes."""

    __tablename__ = "event_outbox"
    __table_args__ = (
        sa.Index("ix_event_outbox_account_seq", "account_id", "seq"),
        # Erasure finds every event about one contact.
        sa.Index("ix_event_outbox_account_object", "account_id", "object_id"),
        sa.Index("ux_event_outbox_id", "id", unique=True),
    )

    seq: int | None = Field(
        default=None, sa_column=sa.Column(_SEQ, primary_key=True, autoincrement=True)
    )
    id: str = Field(max_length=40)
    account_id: str = Field(max_length=40)
    type: str = Field(max_length=40)
    object_id: str = Field(max_length=40)
    version: int = Field(default=0)
    payload: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(JSONType, nullable=False)
    )
    created_at: datetime = _ts()


class WebhookEndpoint(SQLModel, table=True):
    """Where an account wants its events POSTed, and with which signing secret."""

    __tablename__ = "webhook_endpoint"
    __table_args__ = (sa.Index("ix_webhook_endpoint_account_created", "account_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=40)
    account_id: str = Field(max_length=40)
    url: str = Field(max_length=2048)
    events: list[str] = Field(default_factory=list, sa_column=sa.Column(JSONType, nullable=False))
    enabled: bool = Field(default=True)
    description: str = Field(default="", max_length=500)
    # The signing secret is needed to sign, so it cannot be hashed; it is never returned
    # after creation (or rotation) and never logged.
    secret: str = Field(max_length=100)
    previous_secret: str | None = Field(default=None, max_length=100)
    previous_secret_expires_at: datetime | None = _ts(nullable=True)
    disabled_reason: str | None = Field(default=None, max_length=200)
    failing_since: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


#: Statuses of a delivery that is not finished (it blocks later events of its endpoint).
OPEN_DELIVERY_STATUSES = ("pending", "failed")
#: The partial index's predicate; queries state it literally too (db/queries/webhooks.py).
OPEN_DELIVERY_PREDICATE = "status IN (" + ", ".join(f"'{s}'" for s in OPEN_DELIVERY_STATUSES) + ")"


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint: its status, attempts and the lease of the worker on it."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        sa.Index("ix_webhook_delivery_account_endpoint_seq", "account_id", "endpoint_id", "seq"),
        # The workers' queue scan crosses accounts by nature (one queue for the process);
        # it is the one index here that does not lead with account_id.
        sa.Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        # Revision 0008: each endpoint's head (its oldest open delivery) in one seek, however
        # many finished deliveries lie before it (db/queries/webhooks.py, claim_due).
        sa.Index(
            "ix_webhook_delivery_open",
            "account_id",
            "endpoint_id",
            "seq",
            sqlite_where=sa.text(OPEN_DELIVERY_PREDICATE),
            postgresql_where=sa.text(OPEN_DELIVERY_PREDICATE),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    account_id: str = Field(max_length=40)
    endpoint_id: str = Field(
        sa_column=sa.Column(
            sa.String(40), sa.ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), nullable=False
        )
    )
    event_id: str = Field(max_length=40)
    seq: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))
    event_type: str = Field(max_length=40)
    # pending (not tried yet) | failed (tried, will retry) | delivered | dead (gave up)
    status: str = Field(default="pending", max_length=12)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = _ts()
    last_status_code: int | None = Field(default=None)
    last_duration_ms: int | None = Field(default=None)
    last_error: str | None = Field(default=None, max_length=300)
    last_attempt_at: datetime | None = _ts(nullable=True)
    delivered_at: datetime | None = _ts(nullable=True)
    lease_owner: str | None = Field(default=None, max_length=60)
    lease_expires_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
