"""Exception handlers: every failure leaves as problem+json, never as a bare 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from db.errors import (
    DISK_FULL_MESSAGE,
    INVALID_TEXT_MESSAGE,
    is_disk_full,
    is_invalid_text,
    is_lock_timeout,
    is_retryable,
    is_timeout,
)
from resolvers.errors import (
    DomainError,
    FieldError,
    NotFound,
    Unavailable,
    ValidationFailed,
)
from rest_compat.deps import request_id_of
from rest_compat.responses import problem_response

log = logging.getLogger("contacts_gateway.errors")


def _validation_errors(exc: RequestValidationError) -> ValidationFailed:
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header"):
            loc = loc[1:]
        field = ".".join(loc) or "body"
        message = str(err.get("msg", "invalid"))
        if err.get("type") == "extra_forbidden":
            message = "unknown field"
        elif err.get("type") == "json_invalid":
            field, message = "body", "the body is not valid JSON"
        elif err.get("type") == "model_attributes_type":
            field, message = "body", "the body must be a JSON object"
        message = message.removeprefix("Value error, ")
        errors.append(FieldError(field, message))
    first = errors[0] if errors else FieldError("body", "invalid request")
    return ValidationFailed(f"{first.field}: {first.message}", errors=errors)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that render every error as problem+json."""

    async def on_domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        return problem_response(exc, request_id_of(request))

    async def on_request_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(_validation_errors(exc), request_id_of(request))

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        error: DomainError
        if exc.status_code == 404:
            error = NotFound(f"no route for {request.url.path}")
        elif exc.status_code == 400 and "parsing the body" in str(exc.detail):
            # FastAPI's answer to a body it cannot decode (e.g. not UTF-8): bad input → 422.
            error = ValidationFailed("body: the body is not valid JSON", field="body")
        else:
            error = DomainError(str(exc.detail))
            error.status = exc.status_code
            error.code = "method_not_allowed" if exc.status_code == 405 else "bad_request"
            error.title = "Method not allowed" if exc.status_code == 405 else "Bad request"
        response = problem_response(error, request_id_of(request))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    async def on_database_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DBAPIError)
        request_id = request_id_of(request)
        if is_invalid_text(exc):
            return problem_response(ValidationFailed(INVALID_TEXT_MESSAGE), request_id)
        if is_disk_full(exc):
            log.error("database full (request_id=%s): %s", request_id, exc.orig)
            full = Unavailable(DISK_FULL_MESSAGE, headers={"Retry-After": "60"})
            return problem_response(full, request_id)
        if (
            (isinstance(exc, OperationalError) and is_lock_timeout(exc))
            or is_retryable(exc)
            or is_timeout(exc)
        ):
            busy = Unavailable("the database is busy; retry shortly", headers={"Retry-After": "1"})
            return problem_response(busy, request_id)
        return await on_unexpected(request, exc)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        request_id = request_id_of(request)
        log.exception("unexpected error (request_id=%s)", request_id)
        error = DomainError(f"an internal error occurred; quote request id {request_id}")
        return problem_response(error, request_id)

    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_request_validation)
    app.add_exception_handler(HTTPException, on_http_exception)
    app.add_exception_handler(DBAPIError, on_database_error)
    app.add_exception_handler(Exception, on_unexpected)
