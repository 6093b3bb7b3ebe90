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
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
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


class SerialRootExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Runs the root fields of every operation one after another (as for mutations).

    The same guarantee as :class:`SerialRootFields` without an extension ``resolve`` hook:
    such a hook wraps every field of the response (about 900 for a page of 100 contacts),
    which cost more than the page's SQL in the performance bench.
    """

    def execute_root_grouped_field_set(
        self,
        root_type: Any,
        root_value: Any,
        grouped_field_set: Any,
        serially: bool,
        position_context: Any,
    ) -> Any:
        return super().execute_root_grouped_field_set(
            root_type, root_value, grouped_field_set, True, position_context
        )
