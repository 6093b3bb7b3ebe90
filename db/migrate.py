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


#: Suffix of the pg_trgm GIN indexes 0001 creates by hand (``ix_contact_name_trgm`` …): the
#: models do not describe them (SQLite has no such index; it searches through FTS5), so
#: autogenerate must not propose dropping them. tests/db checks they exist instead.
_UNMANAGED_INDEX_SUFFIX = "_trgm"


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Hide from autogenerate what the models do not describe: FTS5 tables, pg_trgm indexes."""
    if name is None:
        return True
    if type_ == "table" and name.startswith(_UNMANAGED_PREFIXES):
        return False
    return not (
        type_ == "index"
        and reflected
        and compare_to is None
        and name.endswith(_UNMANAGED_INDEX_SUFFIX)
    )


#: PostgreSQL advisory lock key held while migrating ("cg-migrate" as a number).
_MIGRATION_LOCK = 0x63672D6D696772


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
        else:
            # Replicas starting together all migrate at start: one at a time (the others
            # then find the schema at heads). Released at commit.
            await connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        await connection.run_sync(_upgrade_on, config, revision)
        if is_sqlite(str(engine.url)):
            await connection.exec_driver_sql("PRAGMA foreign_keys=ON")


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision(s) the database is at (``"0002, 0003"`` on several heads), or None."""

    def _read(connection: sa.Connection) -> str | None:
        from alembic.runtime.migration import MigrationContext

        heads = MigrationContext.configure(connection).get_current_heads()
        return ", ".join(sorted(heads)) or None

    async with engine.connect() as connection:
        return await connection.run_sync(_read)
