"""Run a whole transaction again after a PostgreSQL serialization failure or deadlock.

PostgreSQL resolves a deadlock (SQLSTATE 40P01) or a serialization conflict (40001) by
aborting one of the transactions. The only correct recovery is to roll that transaction
back and run *all* of it again from its first statement: re-running just the failed
statement, or resuming after a savepoint, would build on reads the aborted transaction
made. So the retry sits around the unit of work, never inside it:

* HTTP requests: ``contacts_gateway.retry.RetryTransactions`` (ASGI middleware) runs the
  whole request again, REST or GraphQL, while no byte of the response has been sent. A
  request's unit of work commits before its response starts, and a failed attempt is rolled
  back entirely, so a second attempt is exactly what a client retrying would do.
* Everything else (CLI commands, background workers): :func:`run_in_transaction`.

Detection does not depend on who catches the exception: :func:`note_error` is installed on
every engine by :func:`db.engine.make_engine` as a ``handle_error`` listener and records the
failure in the current :class:`Attempt` (a context variable), so a failure swallowed by a
GraphQL mutation's savepoint still marks the attempt as failed, and the unit of work then
rolls back instead of committing the rest.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import DBAPIError

from db.errors import RETRYABLE_SQLSTATES, sqlstate_of

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from db.uow import UnitOfWork

T = TypeVar("T")
log = logging.getLogger("contacts_gateway.retry")


class Attempt:
    """One try of a transaction; remembers the first retryable failure seen during it."""

    def __init__(self) -> None:
        self.failure: BaseException | None = None

    @property
    def failed(self) -> bool:
        """Whether the database aborted this attempt's transaction (it must not commit)."""
        return self.failure is not None

    @property
    def sqlstate(self) -> str | None:
        """The SQLSTATE of the failure, if any."""
        return sqlstate_of(self.failure) if self.failure is not None else None


_current: ContextVar[Attempt | None] = ContextVar("cg_transaction_attempt", default=None)


@contextmanager
def attempt() -> Iterator[Attempt]:
    """Make a fresh :class:`Attempt` current for the code run inside (and tasks it starts)."""
    current = Attempt()
    token = _current.set(current)
    try:
        yield current
    finally:
        _current.reset(token)


def failed() -> bool:
    """Whether the current attempt saw a serialization failure or deadlock."""
    current = _current.get()
    return current is not None and current.failed


def note_error(context: Any) -> None:
    """``handle_error`` listener: record a retryable failure in the current attempt."""
    error: BaseException = context.original_exception
    current = _current.get()
    if (
        current is not None
        and current.failure is None
        and sqlstate_of(error) in RETRYABLE_SQLSTATES
    ):
        current.failure = error


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to re-run an aborted transaction."""

    attempts: int = 4
    base_delay_s: float = 0.01
    max_delay_s: float = 0.25

    def delay(self, failures: int) -> float:
        """Full-jitter exponential backoff after ``failures`` failed attempts."""
        ceiling: float = min(self.max_delay_s, self.base_delay_s * (2 ** (failures - 1)))
        return random.uniform(0, ceiling)


DEFAULT_POLICY = RetryPolicy()


async def run_in_transaction(
    engine: AsyncEngine,
    work: Callable[[UnitOfWork], Awaitable[T]],
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> T:
    """Run ``work`` in a fresh unit of work and commit; on 40001/40P01 roll back and run it again.

    ``work`` must have no effects outside the database (or be safe to repeat). After the
    last attempt the failure is raised.
    """
    from db.uow import UnitOfWork

    for number in range(1, policy.attempts + 1):
        uow = UnitOfWork(engine)
        with attempt() as current:
            try:
                result = await work(uow)
                if not current.failed:
                    await uow.commit()
                    return result
                await uow.rollback()
            except DBAPIError:
                await uow.rollback()
                if not current.failed or number == policy.attempts:
                    raise
            finally:
                await uow.close()
            if number == policy.attempts:
                assert current.failure is not None
                raise current.failure
            log.warning(
                "transaction aborted by the database (SQLSTATE %s); retrying (attempt %d of %d)",
                current.sqlstate,
                number + 1,
                policy.attempts,
            )
        await asyncio.sleep(policy.delay(number))
    raise AssertionError("unreachable")  # pragma: no cover
