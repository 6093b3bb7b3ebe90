"""The unit of work: one session per request, committed on success, rolled back on error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db.engine import WRITE_TRANSACTION, is_sqlite


class UnitOfWork:
    """Opens its session lazily; a write request takes the write lock at its first statement.

    Resolvers call :meth:`reader` or :meth:`writer` and flush; only the transport commits.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._session: AsyncSession | None = None
        self._writing = False
        self._sqlite = is_sqlite(str(engine.url))

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
            self._session = self._open(write=True)
            self._writing = True
            await self._session.connection(execution_options=WRITE_TRANSACTION)
        return self._session

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
        if self._session is not None:
            await self._session.commit()

    async def rollback(self) -> None:
        """Throw away everything this unit of work did."""
        if self._session is not None:
            await self._session.rollback()

    async def close(self) -> None:
        """Release the connection."""
        if self._session is not None:
            await self._session.close()
            self._session = None
            self._writing = False
