"""sync: provider settings, sync runs, the per-account sync lease

Revision ID: 0003
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import db.types

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "sync_settings",
        sa.Column("account_id", sa.String(length=40), sa.ForeignKey("account.id"), nullable=False),
        sa.Column("auto_sync_enabled", sa.Boolean(), nullable=False),
        sa.Column("sync_interval_hours", sa.Integer(), nullable=False),
        sa.Column("provider_type", sa.String(length=20), nullable=True),
        sa.Column("provider_public", JSON, nullable=True),
        sa.Column("provider_secret", sa.Text(), nullable=True),
        sa.Column("cursors", JSON, nullable=True),
        sa.Column("last_synced_at", db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_due_at", db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "sync_run",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), sa.ForeignKey("account.id"), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("trigger", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("started_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("details", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_sync_run_account_started", "sync_run", ["account_id", "started_at", "id"]
    )
    op.create_index("ix_sync_run_account_status", "sync_run", ["account_id", "status"])
    op.create_table(
        "sync_lease",
        sa.Column("account_id", sa.String(length=40), sa.ForeignKey("account.id"), nullable=False),
        sa.Column("holder", sa.String(length=80), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=True),
        sa.Column("acquired_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id"),
    )


def downgrade() -> None:
    op.drop_table("sync_lease")
    op.drop_index("ix_sync_run_account_status", table_name="sync_run")
    op.drop_index("ix_sync_run_account_started", table_name="sync_run")
    op.drop_table("sync_run")
    op.drop_table("sync_settings")
