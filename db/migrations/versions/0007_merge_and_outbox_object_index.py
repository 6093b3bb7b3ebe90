"""merge the feature branches (0002-0006); index the outbox by object for erasure

Revision ID: 0007
Revises: 0002, 0003, 0004, 0005, 0006
Create Date: 2026-12-03 20:35:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: tuple[str, ...] = ("0002", "0003", "0004", "0005", "0006")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_event_outbox_account_object", "event_outbox", ["account_id", "object_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_event_outbox_account_object", table_name="event_outbox")
