"""GraphQL mutations with an ``idempotencyKey``: the same protocol as REST's header.

The stored "response" of a mutation is its result record (the mutation field's value);
a replay rebuilds that record, so the client's selection resolves over the same data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from strawberry.types import Info

from resolvers import idempotency
from schema.context import context_of

R = TypeVar("R")


async def idempotent(
    info: Info,
    *,
    key: str | None,
    arguments: Mapping[str, Any],
    run: Callable[[], Awaitable[R]],
    encode: Callable[[R], str],
    decode: Callable[[str], R],
) -> R:
    """Run the mutation once per key (call it inside the mutation's savepoint)."""
    if key is None:
        return await run()
    key = idempotency.check_key(key, field="idempotency_key")
    operation = info.field_name
    fingerprint = idempotency.fingerprint("GRAPHQL", operation, dict(arguments))
    result: list[R] = []

    async def effect() -> idempotency.StoredResponse:
        value = await run()
        result.append(value)
        return idempotency.StoredResponse(200, {}, encode(value))

    context = context_of(info)
    stored, replayed = await idempotency.run_once(
        context.ctx, key=key, fingerprint=fingerprint, effect=effect, field="idempotency_key"
    )
    if replayed:
        if context.response is not None:
            context.response.headers["Idempotent-Replayed"] = "true"
        return decode(stored.body)
    return result[0]


def as_record(cls: type[Any]) -> dict[str, Callable[[Any], Any]]:
    """``encode``/``decode`` keyword arguments for a record dataclass result."""
    return {
        "encode": idempotency.record_json,
        "decode": lambda text: idempotency.record_from_json(cls, text),
    }


def as_text() -> dict[str, Callable[[Any], Any]]:
    """``encode``/``decode`` keyword arguments for a plain string result (an id)."""
    return {"encode": str, "decode": str}
