"""How the schema executes: root fields one after another, plain leaf fields on a fast path.

A page of 100 contacts is about 900 fields, and most of them are plain leaves read straight off
a record (``name``, ``email``, ``tags``…). graphql-core builds a path, a ``ResolveInfo``, an
argument map and a completion call chain for each one; for such a field all of that is only
needed when something goes wrong. :class:`GatewayExecutionContext` reads those fields in one
loop (the field's own resolver, then the type's own output coercion) and hands any field that
is not plain — arguments, directives, a custom resolver, an object type, a null for a non-null
type, a value that does not coerce — to graphql-core's ordinary path, which then produces
exactly the answer or the located error it always did. With schema extensions that hook into
field resolution (tracing), every field takes the ordinary path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
)
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema_converter import GraphQLCoreConverter

from schema.serial import SerialRootExecutionContext

DEFINITION_BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF

#: (resolver, coercion of the value or of each list item, non-null, list of non-null leaves)
LeafPlan = tuple[Callable[..., Any], Callable[[Any], Any], bool, bool]


def leaf_plan(parent_type: GraphQLObjectType, field_details_list: Any) -> LeafPlan | None:
    """The fast-path plan for one selected field, or None when it must take the ordinary path."""
    node = field_details_list[0].node
    if node.arguments or node.directives:
        return None
    field_def = parent_type.fields.get(node.name.value)  # __typename is not among them
    # Strawberry marks the resolvers of fields without a resolver of their own; a field
    # with permission classes or field extensions is one too, and must keep its hooks.
    if field_def is None or not getattr(field_def.resolve, "_is_default", False):
        return None
    definition = (field_def.extensions or {}).get(DEFINITION_BACKREF)
    if definition is None or definition.base_resolver is not None:
        return None
    if definition.extensions or definition.permission_classes:
        return None
    return_type = field_def.type
    non_null = is_non_null_type(return_type)
    inner = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
    if is_leaf_type(inner):
        return field_def.resolve, inner.coerce_output_value, non_null, False
    if is_list_type(inner):
        assert isinstance(inner, GraphQLList)
        item = inner.of_type
        if isinstance(item, GraphQLNonNull) and is_leaf_type(item.of_type):
            return field_def.resolve, item.of_type.coerce_output_value, non_null, True
    return None


def _coerced(value: Any, coerce: Callable[[Any], Any]) -> Any:
    # graphql-core reports a returned Exception as the field's error: not a value to coerce.
    if isinstance(value, Exception):
        return Undefined
    out = coerce(value)
    if out is None:
        return Undefined
    return out


class GatewayExecutionContext(SerialRootExecutionContext):
    """graphql-core's execution with a fast path for plain leaf fields (see the module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # By parent type and the field's first AST node (a plan depends on nothing else):
        # bounded by the document, also for a subscription that collects its fields anew
        # for every event. The node is kept beside its plan, so its id cannot be reused.
        self._leaf_plans: dict[tuple[str, int], tuple[Any, LeafPlan | None]] = {}
        manager = self.middleware_manager
        self._fast = manager is None or not manager.middlewares

    def _fast_value(self, plan: LeafPlan, source: Any) -> Any:
        """The completed value, or ``Undefined`` when the ordinary path must decide."""
        resolve, coerce, non_null, is_list = plan
        try:
            value = resolve(source, None)
            if value is None:
                return Undefined if non_null else None
            if self.is_awaitable(value):
                # Not expected of an attribute; the ordinary path resolves it again. Close
                # the coroutine so it is not reported as never awaited.
                getattr(value, "close", lambda: None)()
                return Undefined
            if not is_list:
                return _coerced(value, coerce)
            if not isinstance(value, list | tuple):
                return Undefined
            items = []
            for item in value:
                if item is None or self.is_awaitable(item):  # graphql-core awaits items
                    return Undefined
                out = _coerced(item, coerce)
                if out is Undefined:
                    return Undefined
                items.append(out)
            return items
        except Exception:  # the ordinary path raises it again, as a located error
            return Undefined

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        if not self._fast:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        plans = self._leaf_plans
        fast: dict[str, Any] = {}
        slow: dict[str, Any] = {}
        for response_name, field_details_list in grouped_field_set.items():
            node = field_details_list[0].node
            key = (parent_type.name, id(node))
            known = plans.get(key)
            if known is None:
                known = plans[key] = (node, leaf_plan(parent_type, field_details_list))
            plan = known[1]
            value = Undefined if plan is None else self._fast_value(plan, source_value)
            if value is Undefined:
                slow[response_name] = field_details_list
            else:
                fast[response_name] = value
        if not slow:
            return fast
        # Everything else through graphql-core, then in the selection's order.
        rest = super().execute_fields(parent_type, source_value, path, slow, position_context)
        order = list(grouped_field_set)

        def merged(values: dict[str, Any]) -> dict[str, Any]:
            both = fast | values
            return {name: both[name] for name in order if name in both}

        if isinstance(rest, dict):
            return merged(rest)

        async def later() -> dict[str, Any]:
            return merged(await rest)

        return later()
