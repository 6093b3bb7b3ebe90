"""initial: accounts, keys, companies, contacts, tags

Revision ID: 0001
Revises: 
Create Date: 2026-12-03 18:46:21.366189
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import db.types

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('account',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('contact_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('api_key',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('account_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('key_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('scopes', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_key_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_key_prefix'), ['prefix'], unique=False)

    op.create_table('company',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('account_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('domain', sqlmodel.sql.sqltypes.AutoString(length=253), nullable=True),
    sa.Column('tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('custom_fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('external_provider', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.create_index('ix_company_account_created', ['account_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ux_company_account_domain_active', ['account_id', 'domain'], unique=True, sqlite_where=sa.text('deleted_at IS NULL AND domain IS NOT NULL'), postgresql_where=sa.text('deleted_at IS NULL AND domain IS NOT NULL'))
        batch_op.create_index('ux_company_account_external', ['account_id', 'external_provider', 'external_id'], unique=True, sqlite_where=sa.text('external_id IS NOT NULL'), postgresql_where=sa.text('external_id IS NOT NULL'))

    op.create_table('company_tag',
    sa.Column('account_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('tag', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('company_id', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'tag', 'company_id')
    )
    with op.batch_alter_table('company_tag', schema=None) as batch_op:
        batch_op.create_index('ix_company_tag_company', ['company_id'], unique=False)

    op.create_table('contact',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('account_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
    sa.Column('email_norm', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('company_id', sa.String(length=40), nullable=True),
    sa.Column('tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('custom_fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('external_provider', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('external_updated_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_reason', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.create_index('ix_contact_account_company', ['account_id', 'company_id'], unique=False)
        batch_op.create_index('ix_contact_account_created', ['account_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ux_contact_account_email', ['account_id', 'email_norm'], unique=True, sqlite_where=sa.text('email_norm IS NOT NULL AND deleted_at IS NULL'), postgresql_where=sa.text('email_norm IS NOT NULL AND deleted_at IS NULL'))
        batch_op.create_index('ux_contact_account_external', ['account_id', 'external_provider', 'external_id'], unique=True, sqlite_where=sa.text('external_id IS NOT NULL'), postgresql_where=sa.text('external_id IS NOT NULL'))

    op.create_table('contact_tag',
    sa.Column('account_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('tag', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('contact_id', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'tag', 'contact_id')
    )
    with op.batch_alter_table('contact_tag', schema=None) as batch_op:
        batch_op.create_index('ix_contact_tag_contact', ['contact_id'], unique=False)



    _create_search_indexes()


_FTS = {
    # table: (fts table, indexed columns)
    "contact": ("contact_fts", ("name", "email")),
    "company": ("company_fts", ("name", "domain")),
}


def _create_search_indexes() -> None:
    """Substring search: FTS5 trigram on SQLite (kept in step by triggers), pg_trgm GIN on PostgreSQL."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table, (fts, cols) in _FTS.items():
            col_list = ", ".join(cols)
            new_vals = ", ".join(f"new.{c}" for c in cols)
            old_vals = ", ".join(f"old.{c}" for c in cols)
            op.execute(
                f"CREATE VIRTUAL TABLE {fts} USING fts5({col_list}, content='{table}', "
                f"content_rowid='rowid', tokenize='trigram')"
            )
            op.execute(
                f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN "
                f"INSERT INTO {fts}(rowid, {col_list}) VALUES (new.rowid, {new_vals}); END"
            )
            op.execute(
                f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN "
                f"INSERT INTO {fts}({fts}, rowid, {col_list}) VALUES ('delete', old.rowid, {old_vals}); END"
            )
            watched = ", ".join(cols)
            op.execute(
                f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {watched} ON {table} BEGIN "
                f"INSERT INTO {fts}({fts}, rowid, {col_list}) VALUES ('delete', old.rowid, {old_vals}); "
                f"INSERT INTO {fts}(rowid, {col_list}) VALUES (new.rowid, {new_vals}); END"
            )
    elif dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for table, (_fts, cols) in _FTS.items():
            for col in cols:
                op.execute(
                    f"CREATE INDEX IF NOT EXISTS ix_{table}_{col}_trgm ON {table} "
                    f"USING gin ({col} gin_trgm_ops)"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for fts, _cols in _FTS.values():
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {fts}")
    with op.batch_alter_table('contact_tag', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_tag_contact')

    op.drop_table('contact_tag')
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_index('ux_contact_account_external', sqlite_where=sa.text('external_id IS NOT NULL'), postgresql_where=sa.text('external_id IS NOT NULL'))
        batch_op.drop_index('ux_contact_account_email', sqlite_where=sa.text('email_norm IS NOT NULL AND deleted_at IS NULL'), postgresql_where=sa.text('email_norm IS NOT NULL AND deleted_at IS NULL'))
        batch_op.drop_index('ix_contact_account_created')
        batch_op.drop_index('ix_contact_account_company')

    op.drop_table('contact')
    with op.batch_alter_table('company_tag', schema=None) as batch_op:
        batch_op.drop_index('ix_company_tag_company')

    op.drop_table('company_tag')
    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.drop_index('ux_company_account_external', sqlite_where=sa.text('external_id IS NOT NULL'), postgresql_where=sa.text('external_id IS NOT NULL'))
        batch_op.drop_index('ux_company_account_domain_active', sqlite_where=sa.text('deleted_at IS NULL AND domain IS NOT NULL'), postgresql_where=sa.text('deleted_at IS NULL AND domain IS NOT NULL'))
        batch_op.drop_index('ix_company_account_created')

    op.drop_table('company')
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_key_prefix'))
        batch_op.drop_index(batch_op.f('ix_api_key_account_id'))

    op.drop_table('api_key')
    op.drop_table('account')
