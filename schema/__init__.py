"""The Strawberry GraphQL schema: types, inputs, connections, thin Query/Mutation."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from schema.errors import DomainErrors
from schema.execution import GatewayExecutionContext
from schema.limits import cost_limiter
from schema.mutation import Mutation
from schema.query import Query
from schema.scalars import SCALAR_MAP
from schema.subscriptions import Subscription


class GatewaySchema(strawberry.Schema):
    """Logs only unexpected errors (domain errors are answers, not incidents)."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None  # DomainErrors logs the unexpected ones with the request id


def build_schema(
    *,
    max_depth: int = 10,
    max_aliases: int = 30,
    max_tokens: int = 2_000,
    introspection: bool = True,
    extra_types: list[Any] | None = None,
    max_cost: int = 20_000,
    field_suggestions: bool = True,
    extra_extensions: list[Any] | None = None,
) -> strawberry.Schema:
    """The schema with its limits and caches (``max_cost``: see schema/limits.py)."""
    # The limiters' rule classes are built once: ValidationCache keys on the rule classes, and
    # a limiter built per request makes new classes, so every request missed the cache.
    limit_rules = [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
    ]
    extensions: list[Any] = [
        DomainErrors,
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        lambda: AddValidationRules(limit_rules),
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        # After ValidationCache: it sets the validation result, the cost check may override it.
        cost_limiter(max_cost),
    ]
    if not introspection:
        from graphql.validation import NoSchemaIntrospectionCustomRule

        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    extensions.extend(extra_extensions or [])  # the process's metrics and tracing
    return GatewaySchema(
        # Root fields run serially (they share the request's session); plain leaves on a fast path.
        execution_context_class=GatewayExecutionContext,
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(
            auto_camel_case=True,
            disable_field_suggestions=not field_suggestions,
            scalar_map=SCALAR_MAP,
        ),
        types=extra_types or [],
    )


#: The default schema (what `schema.graphql` is generated from).
schema = build_schema()
