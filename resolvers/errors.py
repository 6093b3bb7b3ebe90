"""The one error hierarchy of the domain layer.

Every transport renders these the same way: REST as RFC 9457 problem details, GraphQL with
``extensions.code``. Nothing here knows about HTTP frameworks; ``status`` is the HTTP status
a transport should use.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FieldError:
    """One offending input field and the rule it broke."""

    field: str
    message: str


class DomainError(Exception):
    """Base of every expected failure; carries a stable ``code`` and an HTTP ``status``."""

    code: str = "internal"
    status: int = 500
    title: str = "Internal error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors: list[FieldError] = list(errors or [])
        if field is not None and not self.errors:
            self.errors.append(FieldError(field, message))
        self.headers: dict[str, str] = dict(headers or {})


class Unauthenticated(DomainError):
    code = "unauthenticated"
    status = 401
    title = "Unauthenticated"


class Forbidden(DomainError):
    code = "forbidden"
    status = 403
    title = "Forbidden"


class NotFound(DomainError):
    code = "not_found"
    status = 404
    title = "Not found"


class ValidationFailed(DomainError):
    code = "validation_failed"
    status = 422
    title = "Validation failed"


class Conflict(DomainError):
    code = "conflict"
    status = 409
    title = "Conflict"


class PreconditionFailed(DomainError):
    code = "precondition_failed"
    status = 412
    title = "Precondition failed"


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429
    title = "Too many requests"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    status = 413
    title = "Payload too large"


class Unavailable(DomainError):
    """The database or an upstream is busy; the client should retry after a pause."""

    code = "unavailable"
    status = 503
    title = "Service unavailable"


class ProviderError(DomainError):
    """An external CS provider failed (network, 5xx storm, bad credentials)."""

    code = "provider_error"
    status = 502
    title = "Provider error"


class ProviderAuthError(ProviderError):
    """The provider rejected our credentials (401/403): a configuration error, never retried."""

    code = "provider_auth_failed"


@dataclass(slots=True)
class ErrorList:
    """Collects field errors so one request can report all of them at once."""

    items: list[FieldError] = field(default_factory=list)

    def add(self, field_name: str, message: str) -> None:
        self.items.append(FieldError(field_name, message))

    def raise_if_any(self) -> None:
        if self.items:
            first = self.items[0]
            raise ValidationFailed(f"{first.field}: {first.message}", errors=self.items)
