"""The leaf fast path answers exactly what graphql-core's ordinary execution answers.

A small schema whose objects misbehave in every way a leaf can (null for a non-null type, a
value that does not coerce, a null item in a non-null list, a value that is not a list, an
Exception as the value, an awaitable list item) runs the same documents through the stock
execution context and through ours, synchronously and with async resolvers beside the leaves.
"""

from __future__ import annotations

import asyncio
import enum
import json
from typing import Any, ClassVar

import pytest
import strawberry
from graphql.pyutils import Undefined
from strawberry.permission import BasePermission
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.execution import GatewayExecutionContext, leaf_plan
from schema.scalars import JSON, SCALAR_MAP


@strawberry.enum
class Tier(enum.Enum):
    GOLD = "gold"
    SILVER = "silver"


class Never(BasePermission):
    message = "not allowed"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


class Recording(GatewayExecutionContext):
    """Ours, counting the leaves the fast path completed, so a test can see it was taken."""

    fast: ClassVar[int] = 0

    def _fast_value(self, plan: Any, source: Any) -> Any:
        value = super()._fast_value(plan, source)
        if value is not Undefined:
            Recording.fast += 1
        return value


@strawberry.type
class Item:
    id: strawberry.ID
    label: str
    rank: int
    note: str | None
    tags: list[str]
    codes: list[int] | None
    maybe: list[int | None]
    tier: Tier | None
    extra: JSON | None
    secret: str | None = strawberry.field(permission_classes=[Never])

    @strawberry.field
    def shout(self, times: int = 1) -> str:
        return self.label.upper() * times

    @strawberry.field
    async def later(self) -> str:
        await asyncio.sleep(0)
        return "later"


class Raw:
    """What a resolver may hand back: attributes of any type, including wrong ones."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


GOOD = dict(
    id="1",
    label="ann",
    rank=1,
    note=None,
    tags=["a", "b"],
    codes=[1, 2],
    maybe=[1, None],
    tier=Tier.GOLD,
    extra={"plan": "pro"},
    secret="s3cret",
)
ROWS: list[dict[str, Any]] = [
    GOOD,
    {**GOOD, "id": "2", "label": None},  # null for String!
    {**GOOD, "id": "3", "rank": "not a number"},  # does not coerce to Int
    {**GOOD, "id": "4", "tags": ["a", None]},  # null item in [String!]!
    {**GOOD, "id": "5", "codes": "12"},  # not a list (for a nullable list)
    {**GOOD, "id": "6", "rank": 2**40},  # out of Int's range
    {**GOOD, "id": "7", "note": 3.5},  # a float for a String: coerced, not an error
    {**GOOD, "id": "8", "note": ValueError("boom")},  # an Exception: the field's error
    {**GOOD, "id": "9", "extra": ValueError("boom")},  # …also for a pass-through scalar
    {**GOOD, "id": "10", "tier": "platinum"},  # not an enum value
]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        return [Raw(**row) for row in ROWS]  # type: ignore[misc]

    @strawberry.field
    def good(self) -> Item:
        return Raw(**GOOD)  # type: ignore[return-value]


def _schema(context_class: type) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        execution_context_class=context_class,
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
    )


def _run(context_class: type, document: str, *, run_async: bool = False) -> Any:
    schema = _schema(context_class)
    result = asyncio.run(schema.execute(document)) if run_async else schema.execute_sync(document)
    errors = sorted((tuple(e.path or ()), e.message) for e in result.errors or [])
    return result.data, errors


DOCUMENTS = [
    "{ items { id label rank note tags codes maybe tier extra secret } }",
    "{ items { b: rank a: id label shout(times: 2) __typename } }",
    "{ good { x: label x2: label ...F } } fragment F on Item { tags rank }",
    "{ items { id label @include(if: false) rank @skip(if: true) note } }",
    "{ a: good { id } b: items { id codes } }",
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_same_data_and_errors_as_the_ordinary_path(document: str) -> None:
    Recording.fast = 0
    ours = _run(Recording, document)
    stock = _run(StrawberryGraphQLCoreExecutionContext, document)
    assert ours == stock
    assert json.dumps(ours) == json.dumps(stock)  # the same key order, at every level
    assert Recording.fast > 0  # …and the fast path was taken


def test_same_answers_with_async_resolvers_beside_the_leaves() -> None:
    document = "{ items { later id label tags tier later2: later note } }"
    Recording.fast = 0
    ours = _run(Recording, document, run_async=True)
    stock = _run(StrawberryGraphQLCoreExecutionContext, document, run_async=True)
    assert ours == stock and json.dumps(ours) == json.dumps(stock)
    assert Recording.fast > 0


def test_a_pending_list_item_is_awaited_as_graphql_core_does() -> None:
    async def both() -> tuple[Any, Any]:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        done.set_result("x")
        ROWS.append({**GOOD, "id": "11", "tags": [done]})
        try:
            document = "{ items { id tags } }"
            results = []
            for context_class in (GatewayExecutionContext, StrawberryGraphQLCoreExecutionContext):
                schema = _schema(context_class)
                result = await schema.execute(document)
                results.append((result.data, [e.message for e in result.errors or []]))
            return results[0], results[1]
        finally:
            ROWS.pop()

    ours, stock = asyncio.run(both())
    assert ours == stock
    assert ours[0]["items"][-1]["tags"] == ["x"]


def test_the_misbehaving_rows_are_errors_and_the_rest_is_data() -> None:
    data, errors = _run(GatewayExecutionContext, DOCUMENTS[0])
    assert data["items"][0] == {**GOOD, "tier": "GOLD", "secret": None}
    assert data["items"][6]["note"] == "3.5"
    rows = data["items"]
    assert [row is None for row in rows] == [False, True, True, True, False, True] + [False] * 4
    assert rows[4]["codes"] is None  # a nullable field takes the error itself
    assert rows[7]["note"] is None and rows[8]["extra"] is None and rows[9]["tier"] is None
    assert all(row is None or row["secret"] is None for row in rows)  # the permission held
    denied = {path[1] for path, message in errors if message == "not allowed"}
    assert denied == {0, 4, 6, 7, 8, 9}  # every row that is not null as a whole
    assert {path[1] for path, message in errors if message != "not allowed"} == set(
        range(1, 10)
    ) - {6}


def test_only_plain_leaves_take_the_fast_path() -> None:
    schema = _schema(GatewayExecutionContext)
    item = schema._schema.type_map["Item"]

    class Details:
        def __init__(self, node: Any) -> None:
            self.node = node

    from graphql import parse

    nodes = parse(
        "{ id tags codes maybe tier extra secret shout shout(times: 2) label @include(if: true) }"
    )
    fields = nodes.definitions[0].selection_set.selections  # type: ignore[attr-defined]

    def label(f: Any) -> str:
        return f.name.value + ("(…)" if f.arguments else "") + ("@" if f.directives else "")

    planned = {label(f): leaf_plan(item, [Details(f)]) is not None for f in fields}
    assert planned == {
        "id": True,
        "tags": True,
        "codes": True,  # a nullable list of non-null leaves
        "maybe": False,  # [Int]!: nullable items are left to graphql-core
        "tier": True,
        "extra": True,
        "secret": False,  # a permission class: its hook must run
        "shout": False,  # a resolver of its own
        "shout(…)": False,
        "label@": False,
    }
