"""SQL for custom field definitions, and the typed custom-field filter of the lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from db.models import table_of
from db.models_activity import CustomFieldDefinition

definition = table_of(CustomFieldDefinition)


@dataclass(frozen=True, slots=True)
class CustomFieldRecord:
    """A custom field definition as the API shows it."""

    key: str
    label: str
    type: str
    options: list[str]
    required: bool
    applies_to: str
    created_at: datetime
    updated_at: datetime


_COLUMNS = (
    definition.c.key,
    definition.c.label,
    definition.c.type,
    definition.c.options,
    definition.c.required,
    definition.c.applies_to,
    definition.c.created_at,
    definition.c.updated_at,
)


def _record(row: sa.Row[Any]) -> CustomFieldRecord:
    return CustomFieldRecord(*row)  # type: ignore[call-arg]


async def list_definitions(
    session: AsyncSession, *, account_id: str, applies_to: str | None = None
) -> list[CustomFieldRecord]:
    """The account's definitions, by key (optionally only those of contacts or companies)."""
    stmt = sa.select(*_COLUMNS).where(definition.c.account_id == account_id)
    if applies_to is not None:
        stmt = stmt.where(definition.c.applies_to == applies_to)
    stmt = stmt.order_by(definition.c.key)
    return [_record(r) for r in (await session.execute(stmt)).all()]


async def get_definition(
    session: AsyncSession, *, account_id: str, key: str
) -> CustomFieldRecord | None:
    """One definition of the account, or None."""
    stmt = sa.select(*_COLUMNS).where(
        definition.c.account_id == account_id, definition.c.key == key
    )
    row = (await session.execute(stmt)).first()
    return _record(row) if row else None


async def insert_definition(
    session: AsyncSession, *, account_id: str, values: dict[str, Any]
) -> None:
    """Insert one definition."""
    await session.execute(sa.insert(definition).values(account_id=account_id, **values))


async def update_definition(
    session: AsyncSession, *, account_id: str, key: str, values: dict[str, Any]
) -> None:
    """Change the given columns of one definition."""
    await session.execute(
        sa.update(definition)
        .where(definition.c.account_id == account_id, definition.c.key == key)
        .values(**values)
    )


async def delete_definition(session: AsyncSession, *, account_id: str, key: str) -> bool:
    """Delete one definition (values already stored stay as they are); False when absent."""
    result = await session.execute(
        sa.delete(definition).where(definition.c.account_id == account_id, definition.c.key == key)
    )
    return (result.rowcount or 0) > 0  # type: ignore[attr-defined]


def custom_field_matches(
    dialect: str, column: sa.Column[Any], key: str, value: Any
) -> ColumnElement[bool]:
    """``column[key]`` equals ``value`` as JSON (a list value: the stored list contains it).

    ``value`` is already typed (str, int/float, bool) by the domain layer, so ``true`` matches
    a stored boolean on both dialects (SQLite's json_extract returns 1 for it) and ``5``
    matches ``5.0``. ``key`` has been checked against ``^[a-z][a-z0-9_]{0,63}$``.
    """
    if isinstance(value, list):
        (item,) = value
        if dialect == "postgresql":
            contains: ColumnElement[bool] = column[key].op("@>")(
                sa.literal([item], type_=postgresql.JSONB)
            )
            return contains
        each = sa.func.json_each(column, f'$."{key}"').table_valued("value")
        return sa.exists(sa.select(sa.literal(1)).select_from(each).where(each.c.value == item))
    if dialect == "postgresql":
        equals: ColumnElement[bool] = column[key] == sa.literal(value, type_=postgresql.JSONB)
        return equals
    extracted = sa.func.json_extract(column, f'$."{key}"')
    if isinstance(value, bool):
        # json_extract gives 1/0 for true/false, and also for the numbers 1/0: check the type.
        return sa.and_(
            sa.func.json_type(column, f'$."{key}"') == ("true" if value else "false"),
        )
    if isinstance(value, int | float):
        return sa.and_(
            sa.func.json_type(column, f'$."{key}"').in_(("integer", "real")),
            extracted == value,
        )
    return sa.and_(sa.func.json_type(column, f'$."{key}"') == "text", extracted == value)
