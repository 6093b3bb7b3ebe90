"""Substring search predicates: FTS5 trigram on SQLite, pg_trgm (ILIKE) on PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

#: The trigram index needs at least three characters; shorter terms use LIKE.
MIN_INDEXED_TERM = 3


def like_pattern(term: str) -> str:
    """A LIKE pattern matching ``term`` anywhere, with ``%``, ``_`` and ``\\`` taken literally."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def fts_phrase(term: str) -> str:
    """An FTS5 query matching ``term`` as a literal substring."""
    return '"' + term.replace('"', '""') + '"'


def substring_match(
    dialect: str,
    table: sa.Table,
    fts_table: str,
    columns: tuple[str, ...],
    term: str,
) -> ColumnElement[bool]:
    """A predicate on ``table`` true when any of ``columns`` contains ``term`` (case-insensitive)."""
    if dialect == "sqlite" and len(term) >= MIN_INDEXED_TERM:
        fts = sa.table(fts_table, sa.column("rowid"))
        matching = (
            sa.select(fts.c.rowid)
            .where(sa.text(f"{fts_table} MATCH :fts_term").bindparams(fts_term=fts_phrase(term)))
            .scalar_subquery()
        )
        return sa.literal_column(f"{table.name}.rowid").in_(matching)
    pattern = like_pattern(term)
    if dialect == "postgresql":
        return sa.or_(*(table.c[c].ilike(pattern, escape="\\") for c in columns))
    # SQLite LIKE is case-insensitive for ASCII; lower() both sides for the rest.
    lowered = like_pattern(term.lower())
    return sa.or_(*(sa.func.lower(table.c[c]).like(lowered, escape="\\") for c in columns))
