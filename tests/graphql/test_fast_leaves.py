"""The leaf fast path answers exactly what graphql-core's ordinary execution answers.

A small schema whose objects misbehave in every way a leaf can (null for a non-null type, a
value that does not coerce, a null item in a non-null list, a value that is not a list) runs
the same documents through the stock execution context and through ours.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.execution import GatewayExecutionContext, leaf_plan


@strawberry.type
class Item:
    id: strawberry.ID
    label: str
    rank: int
    note: str | None
    tags: list[str]
    codes: list[int] | None
    maybe: list[int | None]

    @strawberry.field
    def shout(self, times: int = 1) -> str:
        return self.label.upper() * times


class Raw:
    """What a resolver may hand back: attributes of any type, including wrong ones."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


GOOD = dict(id="1", label="ann", rank=1, note=None, tags=["a", "b"], codes=[1, 2], maybe=[1, None])
ROWS: list[dict[str, Any]] = [
    GOOD,
    {**GOOD, "id": "2", "label": None},  # null for String!
    {**GOOD, "id": "3", "rank": "not a number"},  # does not coerce to Int
    {**GOOD, "id": "4", "tags": ["a", None]},  # null item in [String!]!
    {**GOOD, "id": "5", "codes": "12"},  # not a list (for a nullable list)
    {**GOOD, "id": "6", "rank": 2**40},  # out of Int's range
    {**GOOD, "id": "7", "note": 3.5},  # a float for a String: coerced, not an error
]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        return [Raw(**row) for row in ROWS]  # type: ignore[misc]

    @strawberry.field
    def good(self) -> Item:
        return Raw(**GOOD)  # type: ignore[return-value]


def _run(context_class: type, document: str) -> Any:
    schema = strawberry.Schema(query=Query, execution_context_class=context_class)
    result = schema.execute_sync(document)
    errors = sorted((tuple(e.path or ()), e.message) for e in result.errors or [])
    return result.data, errors


DOCUMENTS = [
    "{ items { id label rank note tags codes maybe } }",
    "{ items { b: rank a: id label shout(times: 2) __typename } }",
    "{ good { x: label x2: label ...F } } fragment F on Item { tags rank }",
    "{ items { id label @include(if: false) rank @skip(if: true) note } }",
    "{ a: good { id } b: items { id codes } }",
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_same_data_and_errors_as_the_ordinary_path(document: str) -> None:
    ours = _run(GatewayExecutionContext, document)
    stock = _run(StrawberryGraphQLCoreExecutionContext, document)
    assert ours == stock
    assert json.dumps(ours) == json.dumps(stock)  # the same key order, at every level


def test_the_misbehaving_rows_are_errors_and_the_rest_is_data() -> None:
    data, errors = _run(GatewayExecutionContext, DOCUMENTS[0])
    assert data["items"][0] == {**GOOD, "note": None}
    assert data["items"][6]["note"] == "3.5"
    assert [row is None for row in data["items"]] == [False, True, True, True, False, True, False]
    assert data["items"][4]["codes"] is None  # a nullable field takes the error itself
    assert {path[1] for path, _ in errors} == {1, 2, 3, 4, 5}


def test_only_plain_leaves_take_the_fast_path() -> None:
    schema = strawberry.Schema(query=Query)
    item = schema._schema.type_map["Item"]

    class Details:
        def __init__(self, node: Any) -> None:
            self.node = node

    from graphql import parse

    nodes = parse("{ id tags codes maybe shout shout(times: 2) label @include(if: true) }")
    fields = nodes.definitions[0].selection_set.selections  # type: ignore[attr-defined]

    def label(f: Any) -> str:
        return f.name.value + ("(…)" if f.arguments else "") + ("@" if f.directives else "")

    planned = {label(f): leaf_plan(item, [Details(f)]) is not None for f in fields}
    assert planned == {
        "id": True,
        "tags": True,
        "codes": True,  # a nullable list of non-null leaves
        "maybe": False,  # [Int]!: nullable items are left to graphql-core
        "shout": False,  # a resolver of its own
        "shout(…)": False,
        "label@": False,
    }
