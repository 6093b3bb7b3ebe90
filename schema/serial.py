"""Root query fields run one at a time: they share the request's session.

graphql-core resolves the root fields of a query concurrently (``{ contact(...) company(...) }``
or thirty aliases of ``contacts``), and one ``AsyncSession`` must never be used by concurrent
coroutines. Nested fields are unaffected: they load through DataLoaders with their own
sessions, so a page of contacts with nested companies still resolves concurrently.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from typing import Any

from graphql import OperationType
from strawberry.extensions import SchemaExtension
from strawberry.types import Info


class SerialRootFields(SchemaExtension):
    """Serialise the root fields of a query operation on a per-request lock."""

    def on_operation(self) -> Iterator[None]:
        self._lock = asyncio.Lock()
        yield

    def resolve(
        self, _next: Callable[..., Any], root: Any, info: Info, *args: Any, **kwargs: Any
    ) -> Any:
        if info.path.prev is not None or info.operation.operation != OperationType.QUERY:
            return _next(root, info, *args, **kwargs)
        return self._serially(_next, root, info, *args, **kwargs)

    async def _serially(
        self, _next: Callable[..., Any], root: Any, info: Info, *args: Any, **kwargs: Any
    ) -> Any:
        async with self._lock:
            result = _next(root, info, *args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result
