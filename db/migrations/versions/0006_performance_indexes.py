"""performance: partial indexes over live contacts and over sync tombstones

Lists always filter ``deleted_at IS NULL``; with this index the REST deep-offset boundary
(the key of row N) is found by an index-only scan, and live-contact counts need no row reads.

Revision ID: 0006
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("deleted_at IS NULL")
TOMBSTONE = sa.text("deleted_at IS NOT NULL")


def upgrade() -> None:
    # Plain create_index (never batch_alter_table on contact: that would recreate the table
    # and drop the FTS triggers).
    op.create_index(
        "ix_contact_account_live_created",
        "contact",
        # deleted_at (always NULL here) makes it covering for SQLite, whose planner needs
        # every column the WHERE names in the index to read it without the table.
        ["account_id", "created_at", "id", "deleted_at"],
        unique=False,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )
    # Sync tombstones of an account: a tag-only total is the tag index's count minus these.
    op.create_index(
        "ix_contact_account_tombstones",
        "contact",
        ["account_id"],
        unique=False,
        sqlite_where=TOMBSTONE,
        postgresql_where=TOMBSTONE,
    )


def downgrade() -> None:
    op.drop_index("ix_contact_account_tombstones", table_name="contact")
    op.drop_index("ix_contact_account_live_created", table_name="contact")
