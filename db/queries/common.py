"""Helpers shared by the query modules: keyset predicates, tag tables, dialect name."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from db.records import Keyset


def dialect_of(session: AsyncSession) -> str:
    """``sqlite`` or ``postgresql``."""
    bind = session.get_bind()
    return bind.dialect.name


def before_keyset(table: sa.Table, keyset: Keyset) -> ColumnElement[bool]:
    """Rows after ``keyset`` in (created_at desc, id desc) order.

    The leading ``created_at <=`` bounds the index range: with the OR alone, SQLite walked
    the index from the newest row (a cursor at row 500,000 read 500,000 entries).
    """
    return sa.and_(
        table.c.created_at <= keyset.created_at,
        sa.or_(
            table.c.created_at < keyset.created_at,
            sa.and_(table.c.created_at == keyset.created_at, table.c.id < keyset.id),
        ),
    )


def newest_first(table: sa.Table) -> tuple[ColumnElement[object], ...]:
    """The API's default order: created_at desc, then id desc."""
    return (table.c.created_at.desc(), table.c.id.desc())


def has_any_tag(
    tag_table: sa.Table,
    owner_column: str,
    owner: ColumnElement[str],
    account_id: str,
    tags: Sequence[str],
) -> ColumnElement[bool]:
    """EXISTS over the tag table (the planner handles EXISTS far better than IN (subquery))."""
    return sa.exists().where(
        tag_table.c.account_id == account_id,
        tag_table.c[owner_column] == owner,
        tag_table.c.tag.in_(list(tags)),
    )


async def replace_tags(
    session: AsyncSession,
    tag_table: sa.Table,
    owner_column: str,
    *,
    account_id: str,
    owner_id: str,
    tags: Sequence[str],
) -> None:
    """Make the tag table say exactly ``tags`` for one owner."""
    await session.execute(sa.delete(tag_table).where(tag_table.c[owner_column] == owner_id))
    if tags:
        await session.execute(
            sa.insert(tag_table),
            [{"account_id": account_id, "tag": t, owner_column: owner_id} for t in tags],
        )
