"""The request's unit of work and caller: the FastAPI dependency shared by REST and GraphQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.requests import HTTPConnection
from sqlalchemy.ext.asyncio import AsyncEngine

from db import retry
from db.uow import UnitOfWork
from resolvers.context import Principal, RequestContext
from resolvers.errors import Unauthenticated
from resolvers.keys import authenticate

ApiKeyHeader = Annotated[str | None, Header(alias="X-API-Key", description="API key (`ak_live_…`)")]


def request_id_of(request: HTTPConnection) -> str:
    """The id the request-id middleware gave this request."""
    return str(getattr(request.state, "request_id", "-"))


async def _unit_of_work(
    request: HTTPConnection, principal: Principal | None, auth_error: Unauthenticated | None
) -> AsyncIterator[RequestContext]:
    engine: AsyncEngine = request.app.state.engine
    if principal is not None:
        request.state.key_prefix = principal.key_prefix
    uow = UnitOfWork(engine)
    ctx = RequestContext(
        uow=uow, principal=principal, request_id=request_id_of(request), auth_error=auth_error
    )
    # Process-wide services the app offers use cases (the blob store, upload limit).
    ctx.extras.update(getattr(request.app.state, "request_extras", {}))
    request.state.ctx = ctx
    try:
        yield ctx
        # A deadlock/serialization failure aborted the transaction (maybe inside a GraphQL
        # savepoint): commit nothing; contacts_gateway.retry re-runs the whole request.
        if ctx.extras.get("rollback") or retry.failed():
            await uow.rollback()
        else:
            await uow.commit()
    except BaseException:
        await uow.rollback()
        raise
    finally:
        await uow.close()


async def request_context(
    request: Request, x_api_key: ApiKeyHeader = None
) -> AsyncIterator[RequestContext]:
    """Authenticate (401 on failure), open the unit of work, commit on success, roll back on error."""
    principal = await authenticate(request.app.state.engine, x_api_key)
    async for ctx in _unit_of_work(request, principal, None):
        yield ctx


async def optional_request_context(
    # HTTPConnection, not Request: GraphQL's websocket (subscriptions) uses this too.
    request: HTTPConnection,
    x_api_key: ApiKeyHeader = None,
) -> AsyncIterator[RequestContext]:
    """Like :func:`request_context`, but a missing or bad key is reported by each field instead."""
    principal: Principal | None = None
    auth_error: Unauthenticated | None = None
    if x_api_key:
        try:
            principal = await authenticate(request.app.state.engine, x_api_key)
        except Unauthenticated as exc:
            auth_error = exc
    async for ctx in _unit_of_work(request, principal, auth_error):
        yield ctx


#: The dependency ends before the response is sent, so a failed commit is the response.
Ctx = Annotated[RequestContext, Depends(request_context, scope="function")]
OptionalCtx = Annotated[RequestContext, Depends(optional_request_context, scope="function")]
