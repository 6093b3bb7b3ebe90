"""Sync tables: per-account provider settings, the history of sync runs, and the run lease.

No ``from __future__ import annotations`` here: SQLModel resolves field types at runtime.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from db.types import JSONType, UTCDateTime


def _ts(nullable: bool = False) -> Any:
    return Field(sa_column=sa.Column(UTCDateTime(), nullable=nullable))


def _json(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=sa.Column(JSONType, nullable=nullable))


class SyncSettings(SQLModel, table=True):
    """One row per account: auto-sync schedule, the provider (secrets encrypted), cursors."""

    __tablename__ = "sync_settings"

    account_id: str = Field(primary_key=True, foreign_key="account.id", max_length=40)
    auto_sync_enabled: bool = Field(default=False)
    sync_interval_hours: int = Field(default=24)
    provider_type: str | None = Field(default=None, max_length=20)
    # The non-secret part of the provider settings (domain, subdomain, email, base_url).
    provider_public: dict[str, Any] | None = _json(nullable=True)
    # Fernet token of the whole provider settings JSON (secrets included).
    provider_secret: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    # {"freshdesk": {"contacts": "2026-…Z", "companies": "2026-…Z"}}: provider-clock cursors.
    cursors: dict[str, Any] | None = _json(nullable=True)
    last_synced_at: datetime | None = _ts(nullable=True)
    next_due_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class SyncRun(SQLModel, table=True):
    """One sync run (`sr_…`): written at its start, finished with its counts or its error."""

    __tablename__ = "sync_run"
    __table_args__ = (
        sa.Index("ix_sync_run_account_started", "account_id", "started_at", "id"),
        sa.Index("ix_sync_run_account_status", "account_id", "status"),
    )

    id: str = Field(primary_key=True, max_length=40)
    account_id: str = Field(foreign_key="account.id", max_length=40)
    provider: str = Field(max_length=20)
    mode: str = Field(max_length=10)
    trigger: str = Field(max_length=10)
    status: str = Field(max_length=10)
    created: int = Field(default=0)
    updated: int = Field(default=0)
    skipped: int = Field(default=0)
    deleted: int = Field(default=0)
    failed: int = Field(default=0)
    started_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    # {"skipped_reasons": {...}, "companies": {...}, "stats": {...}}
    details: dict[str, Any] | None = _json(nullable=True)


class SyncLease(SQLModel, table=True):
    """Single flight across processes: whoever holds an unexpired lease runs the account's sync."""

    __tablename__ = "sync_lease"

    account_id: str = Field(primary_key=True, foreign_key="account.id", max_length=40)
    holder: str = Field(max_length=80)
    run_id: str | None = Field(default=None, max_length=40)
    acquired_at: datetime = _ts()
    expires_at: datetime = _ts()
