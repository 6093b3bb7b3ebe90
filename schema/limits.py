"""GraphQL query cost: refuse before execution what would multiply into a huge response.

The cost of a selection is the sum over its fields of ``1 + multiplier * cost(children)``,
fragments expanded. The multiplier of a field is its page size: the ``first`` (or
``limit``) argument — a literal, a variable's value, or the argument's default — and 1 for
every other field (``nodes``/``edges`` are already counted by their connection's ``first``).
So ``contacts(first: 100) { nodes { company { contacts(first: 100) { nodes { id } } } } }``
costs about 100 * 100 and is refused under the default limit of 20,000.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension

PAGE_ARGUMENTS = ("first", "limit")
#: A page size the cost assumes when a value is not a usable integer (the API's maximum).
UNKNOWN_PAGE = 100


class QueryTooCostly(GraphQLError):
    """The query's estimated cost is over the limit."""


def _page_size(field: FieldNode, field_def: Any, variables: Mapping[str, Any]) -> int:
    for arg in field.arguments or ():
        if arg.name.value not in PAGE_ARGUMENTS:
            continue
        value = arg.value
        if isinstance(value, IntValueNode):
            return max(0, int(value.value))
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            return max(0, given) if isinstance(given, int) else UNKNOWN_PAGE
        return UNKNOWN_PAGE
    if field_def is not None:
        for name in PAGE_ARGUMENTS:
            arg_def = field_def.args.get(name)
            if arg_def is not None:
                default = arg_def.default_value
                return default if isinstance(default, int) else UNKNOWN_PAGE
    return 1


def selection_cost(
    schema: GraphQLSchema,
    parent: GraphQLNamedType | None,
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    visiting: frozenset[str] = frozenset(),
) -> int:
    """The cost of one selection set under ``parent`` (unknown fields cost 1)."""
    if selection_set is None:
        return 0
    total = 0
    for node in selection_set.selections:
        if isinstance(node, FieldNode):
            field_def = (
                parent.fields.get(node.name.value)
                if isinstance(parent, GraphQLObjectType)
                else None
            )
            child_type = get_named_type(field_def.type) if field_def is not None else None
            inner = selection_cost(
                schema, child_type, node.selection_set, fragments, variables, visiting
            )
            total += 1 + _page_size(node, field_def, variables) * inner
        elif isinstance(node, InlineFragmentNode):
            on = schema.get_type(node.type_condition.name.value) if node.type_condition else parent
            total += selection_cost(schema, on, node.selection_set, fragments, variables, visiting)
        elif isinstance(node, FragmentSpreadNode):
            name = node.name.value
            fragment = fragments.get(name)
            if fragment is None or name in visiting:
                continue  # unknown or cyclic: validation reports it
            on = schema.get_type(fragment.type_condition.name.value)
            total += selection_cost(
                schema, on, fragment.selection_set, fragments, variables, visiting | {name}
            )
    return total


def operation_cost(
    schema: GraphQLSchema,
    document: Any,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> int:
    """The cost of the operation the request will execute (0 if there is none)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1:
        return 0  # ambiguous or missing: validation/execution reports it
    op = operations[0]
    root = {
        "query": schema.query_type,
        "mutation": schema.mutation_type,
        "subscription": schema.subscription_type,
    }[op.operation.value]
    return selection_cost(schema, root, op.selection_set, fragments, variables or {})


def cost_limiter(max_cost: int) -> type[SchemaExtension]:
    """An extension refusing operations that cost more than ``max_cost``."""

    class CostLimiter(SchemaExtension):
        def on_validate(self) -> Iterator[None]:
            ctx = self.execution_context
            if ctx.graphql_document is not None and not ctx.pre_execution_errors:
                cost = operation_cost(
                    ctx.schema._schema, ctx.graphql_document, ctx.operation_name, ctx.variables
                )
                if cost > max_cost:
                    # Set before validation runs: Strawberry then skips validation and
                    # answers with this error, without executing anything.
                    ctx.pre_execution_errors = [
                        QueryTooCostly(
                            f"the query is too costly: estimated cost {cost} exceeds the limit "
                            f"{max_cost} (page sizes multiply; ask for smaller pages or fewer "
                            "nested lists)",
                            extensions={
                                "code": "query_too_complex",
                                "cost": cost,
                                "maxCost": max_cost,
                            },
                        )
                    ]
            yield

    return CostLimiter
