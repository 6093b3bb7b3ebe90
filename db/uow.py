"""The unit of work: one session per request, committed on success, rolled back on error."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db.engine import WRITE_TRANSACTION, is_sqlite, write_gate


class UnitOfWork:
    """Opens its session lazily; a write request takes the write lock at its first statement.

    Resolvers call :meth:`reader` or :meth:`writer` and flush; only the transport commits.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._session: AsyncSession | None = None
        self._writing = False
        self._sqlite = is_sqlite(str(engine.url))
        self._gate: asyncio.Lock | None = None

    async def reader(self) -> AsyncSession:
        """The request's session, for reading."""
        if self._session is None:
            self._session = self._open(write=False)
        return self._session

    async def writer(self) -> AsyncSession:
        """The request's session, in a transaction that holds the write lock."""
        if self._session is not None and not self._writing and self._sqlite:
            # A read transaction cannot be upgraded safely on SQLite: end it (it wrote
            # nothing) and begin again with BEGIN IMMEDIATE.
            await self._session.rollback()
            await self._session.close()
            self._session = None
        if self._session is None:
            await self._enter_gate()
            self._session = self._open(write=True)
            self._writing = True
            try:
                await self._session.connection(execution_options=WRITE_TRANSACTION)
            except BaseException:
                await self.close()
                raise
        return self._session

    async def _enter_gate(self) -> None:
        """SQLite: queue behind this process's other writers (see db.engine.write_gate)."""
        gate = write_gate(self.engine)
        if gate is None or self._gate is not None:
            return
        lock, timeout = gate
        try:
            await asyncio.wait_for(lock.acquire(), timeout)
        except TimeoutError:
            # The same failure SQLite reports when its busy timeout runs out (→ 503).
            raise OperationalError(
                "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
            ) from None
        self._gate = lock

    def _leave_gate(self) -> None:
        if self._gate is not None:
            self._gate.release()
            self._gate = None

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[AsyncSession]:
        """A nested transaction: an error inside undoes only what was done inside."""
        session = await self.writer()
        async with session.begin_nested():
            yield session

    @property
    def started(self) -> bool:
        """Whether any statement was run in this unit of work."""
        return self._session is not None

    def _open(self, *, write: bool) -> AsyncSession:
        session = AsyncSession(self.engine, expire_on_commit=False, autoflush=False)
        if write:
            self._writing = True
        return session

    async def commit(self) -> None:
        """Commit what was written, if anything."""
        try:
            if self._session is not None:
                await self._session.commit()
        finally:
            self._leave_gate()

    async def rollback(self) -> None:
        """Throw away everything this unit of work did."""
        try:
            if self._session is not None:
                await self._session.rollback()
        finally:
            self._leave_gate()

    async def close(self) -> None:
        """Release the connection."""
        try:
            if self._session is not None:
                await self._session.close()
                self._session = None
        finally:
            self._leave_gate()
            self._writing = False
