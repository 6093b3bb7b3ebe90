"""Error mapping: domain errors carry ``extensions.code``; anything unexpected is masked."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from sqlalchemy.exc import DBAPIError
from strawberry.extensions import SchemaExtension

from db.errors import (
    BUSY_MESSAGE,
    DISK_FULL_MESSAGE,
    INVALID_TEXT_MESSAGE,
    is_busy,
    is_disk_full,
    is_invalid_text,
)
from resolvers.errors import DomainError, Unavailable, ValidationFailed

log = logging.getLogger("contacts_gateway.graphql")
_CAMEL = re.compile(r"_([a-z])")


def camel(field: str) -> str:
    """``company_id`` → ``companyId`` (GraphQL names fields in camelCase)."""
    return _CAMEL.sub(lambda m: m.group(1).upper(), field)


def _domain_error(error: GraphQLError, original: DomainError) -> GraphQLError:
    fields = [{"field": camel(e.field), "message": e.message} for e in original.errors]
    extensions: dict[str, Any] = {"code": original.code, "status": original.status}
    if fields:
        extensions["field"] = fields[0]["field"]
        extensions["errors"] = fields
    message = original.message
    if original.field and fields:
        message = re.sub(rf"^{re.escape(original.field)}\b", fields[0]["field"], message)
    return GraphQLError(
        message, error.nodes, error.source, error.positions, error.path, None, extensions
    )


def _masked(error: GraphQLError, request_id: str) -> GraphQLError:
    log.error(
        "unexpected GraphQL error (request_id=%s)",
        request_id,
        exc_info=(
            type(error.original_error),
            error.original_error,
            error.original_error.__traceback__,
        )
        if error.original_error
        else None,
    )
    return GraphQLError(
        f"an internal error occurred; quote request id {request_id}",
        error.nodes,
        error.source,
        error.positions,
        error.path,
        None,
        {"code": "internal", "status": 500},
    )


def map_error(error: GraphQLError, request_id: str) -> GraphQLError:
    """The client-facing form of one GraphQL error."""
    original = error.original_error
    if isinstance(original, DBAPIError) and is_invalid_text(original):
        original = ValidationFailed(INVALID_TEXT_MESSAGE)  # e.g. a NUL in an id (PostgreSQL)
    elif isinstance(original, DBAPIError) and is_disk_full(original):
        original = Unavailable(DISK_FULL_MESSAGE)
    elif isinstance(original, DBAPIError) and is_busy(original):
        original = Unavailable(BUSY_MESSAGE)  # as REST's 503: SQLite busy, PostgreSQL timeout
    if isinstance(original, DomainError):
        return _domain_error(error, original)
    if original is None or isinstance(original, GraphQLError):
        # Parse and validation errors (and limits from extensions): the document was wrong.
        extensions = dict(error.extensions or {})
        extensions.setdefault("code", "validation_failed")
        extensions.setdefault("status", 400)
        return GraphQLError(
            error.message, error.nodes, error.source, error.positions, error.path, None, extensions
        )
    return _masked(error, request_id)


class DomainErrors(SchemaExtension):
    """Rewrites every error of a result with the API's error codes."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            context = self.execution_context.context
            request_id = getattr(getattr(context, "ctx", None), "request_id", "-")
            result.errors = [map_error(e, request_id) for e in errors]
