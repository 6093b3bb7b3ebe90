"""Engine construction: SQLite (WAL, foreign keys, busy timeout, write lock up front) or PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import weakref
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from db.retry import note_error

#: Execution option that makes a SQLite transaction start with ``BEGIN IMMEDIATE``.
WRITE_OPTION = "cg_write"
#: Pass as ``session.connection(execution_options=WRITE_TRANSACTION)`` to begin a write.
WRITE_TRANSACTION: Any = {WRITE_OPTION: True}


def json_dumps(value: Any) -> str:
    """JSON columns through orjson (several times faster than the standard library both ways;
    reading the JSON columns was a quarter of a REST page's row processing).

    What orjson would write where the standard library refused (datetimes, dataclasses,
    subclasses of built-in types) goes to the standard library, which still refuses it, and
    so do integers beyond 64 bits (which orjson refuses); those would read back as floats,
    but the API never stores one: its numbers stay within ±(2**53 - 1)."""
    try:
        return orjson.dumps(value, option=_STRICT).decode()
    except TypeError:
        return json.dumps(value)


_STRICT = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def is_sqlite(url: str) -> bool:
    """True when the URL names an SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    statement_timeout_ms: int = 15_000,
    busy_timeout_ms: int = 5_000,
    echo: bool = False,
) -> AsyncEngine:
    """Create the async engine for ``url`` with the settings each dialect needs.

    ``postgresql://`` and ``postgres://`` URLs get the asyncpg driver, ``sqlite://`` aiosqlite.
    """
    url = async_url(url)
    if is_sqlite(url):
        engine = _sqlite_engine(url, busy_timeout_ms=busy_timeout_ms, echo=echo)
    else:
        engine = _postgres_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            statement_timeout_ms=statement_timeout_ms,
            echo=echo,
        )
    # Serialization failures and deadlocks mark the current attempt for a retry (db/retry.py).
    sa.event.listen(engine.sync_engine, "handle_error", note_error)
    return engine


#: Synchronous drivers people paste, and the async driver each dialect runs on here.
_ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
}


def async_url(url: str) -> str:
    """``url`` with the async driver this project uses (``postgresql://`` → asyncpg)."""
    scheme, sep, rest = url.partition("://")
    driver = _ASYNC_DRIVERS.get(scheme.lower())
    return f"{driver}{sep}{rest}" if sep and driver else url


#: One gate per SQLite engine: writers of this process queue on it (FIFO, immediate
#: hand-off) instead of spinning in SQLite's sleeping busy handler, which starves writers
#: under concurrency (100 concurrent creates: 4 % answered 503 before the gate, none after).
_WRITE_GATES: weakref.WeakKeyDictionary[sa.Engine, tuple[asyncio.Lock, float]] = (
    weakref.WeakKeyDictionary()
)


#: Longest wait in this process's writer queue before "database is locked" (→ 503).
WRITE_QUEUE_SECONDS = 30.0


def write_gate(engine: AsyncEngine) -> tuple[asyncio.Lock, float] | None:
    """The SQLite engine's writer gate and how long to wait for it (None on PostgreSQL)."""
    return _WRITE_GATES.get(engine.sync_engine)


def _sqlite_engine(url: str, *, busy_timeout_ms: int, echo: bool) -> AsyncEngine:
    engine = create_async_engine(
        url,
        echo=echo,
        json_serializer=json_dumps,
        json_deserializer=orjson.loads,
        connect_args={"timeout": busy_timeout_ms / 1000},
    )
    # Writers of this process wait in the queue up to WRITE_QUEUE_SECONDS (the request
    # timeout bounds a request anyway); another process's lock is SQLite's busy timeout.
    _WRITE_GATES[engine.sync_engine] = (
        asyncio.Lock(),
        max(busy_timeout_ms / 1000, WRITE_QUEUE_SECONDS),
    )

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (see _on_begin) instead of pysqlite's implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Writers take the write lock up front: no SQLITE_BUSY from a read-to-write upgrade.
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _postgres_engine(
    url: str, *, pool_size: int, max_overflow: int, statement_timeout_ms: int, echo: bool
) -> AsyncEngine:
    return create_async_engine(
        url,
        echo=echo,
        json_serializer=json_dumps,
        json_deserializer=orjson.loads,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        connect_args={
            "server_settings": {
                "statement_timeout": str(int(statement_timeout_ms)),
                # A generic prepared plan cannot see a LIKE pattern: it turned a 4.5 ms
                # trigram search into 753 ms in the performance probe.
                "plan_cache_mode": "force_custom_plan",
                "application_name": "contacts-gateway",
            }
        },
    )
