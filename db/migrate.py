"""Apply the Alembic migrations: ``contacts-gateway db upgrade`` and every ``serve`` start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import is_sqlite

MIGRATIONS = Path(__file__).parent / "migrations"

#: Tables that Alembic must not compare (SQLite FTS5 virtual tables and their shadows).
_UNMANAGED_PREFIXES = ("contact_fts", "company_fts")


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Hide the FTS5 tables, which the models do not describe, from autogenerate."""
    return not (type_ == "table" and name is not None and name.startswith(_UNMANAGED_PREFIXES))


def alembic_config(url: str) -> Config:
    """An Alembic config for ``url`` that needs no alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _upgrade_on(connection: sa.Connection, config: Config, revision: str) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade(engine: AsyncEngine, revision: str = "heads") -> None:
    """Bring the database behind ``engine`` to ``revision``."""
    config = alembic_config(str(engine.url))
    async with engine.begin() as connection:
        if is_sqlite(str(engine.url)):
            # Migrations on SQLite recreate tables; foreign keys must be off meanwhile.
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        await connection.run_sync(_upgrade_on, config, revision)
        if is_sqlite(str(engine.url)):
            await connection.exec_driver_sql("PRAGMA foreign_keys=ON")


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None when it has never been migrated."""

    def _read(connection: sa.Connection) -> str | None:
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(_read)
