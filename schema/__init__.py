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
from schema.mutation import Mutation
from schema.query import Query


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
) -> strawberry.Schema:
    """The schema with its limits and caches."""
    extensions: list[Any] = [
        DomainErrors,
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        lambda: QueryDepthLimiter(max_depth=max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=max_aliases),
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
    ]
    if not introspection:
        from graphql.validation import NoSchemaIntrospectionCustomRule

        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
        types=extra_types or [],
    )


#: The default schema (what `schema.graphql` is generated from).
schema = build_schema()
