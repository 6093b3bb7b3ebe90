"""index the open webhook deliveries: each endpoint's queue head in one seek

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status IN ('pending', 'failed')")


def upgrade() -> None:
    op.create_index(
        "ix_webhook_delivery_open",
        "webhook_delivery",
        ["account_id", "endpoint_id", "seq"],
        unique=False,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_delivery_open", table_name="webhook_delivery")
