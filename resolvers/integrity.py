"""Turn unique-index races (two writers, one email) into a 409 instead of a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import IntegrityError

from db.errors import unique_violation_field
from resolvers.errors import Conflict


@asynccontextmanager
async def unique_guard() -> AsyncIterator[None]:
    """Re-raise a unique violation as ``Conflict`` naming the field."""
    try:
        yield
    except IntegrityError as exc:
        field = unique_violation_field(exc)
        if field is None:
            raise
        raise Conflict(f"{field} is already taken in this account", field=field) from exc
