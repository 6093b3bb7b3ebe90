"""The GraphQL context: the shared request context plus per-request DataLoaders."""

from __future__ import annotations

from typing import Any

from fastapi.requests import HTTPConnection
from strawberry.fastapi import BaseContext

from resolvers.context import RequestContext
from rest_compat.deps import OptionalCtx
from schema.loaders import Loaders


class GraphQLContext(BaseContext):
    """What every GraphQL resolver sees as ``info.context``."""

    def __init__(self, ctx: RequestContext, loaders: Loaders) -> None:
        super().__init__()
        self.ctx = ctx
        self.loaders = loaders


async def get_context(request: HTTPConnection, ctx: OptionalCtx) -> GraphQLContext:
    """Build the context from the unit-of-work dependency REST uses too."""
    return GraphQLContext(ctx, Loaders(request.app.state.engine, ctx))


def context_of(info: Any) -> GraphQLContext:
    """The typed context of a resolver's ``info``."""
    context: GraphQLContext = info.context
    return context
