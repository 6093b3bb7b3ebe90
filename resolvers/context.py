"""What every use case receives: the unit of work, the caller, and the request id."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from db.uow import UnitOfWork
from resolvers.errors import DomainError, Forbidden, Unauthenticated


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: an API key of one account, with its scopes."""

    account_id: str
    key_id: str
    key_prefix: str
    scopes: frozenset[str]


@dataclass(slots=True)
class RequestContext:
    """Per-request state shared by REST routes and GraphQL resolvers."""

    uow: UnitOfWork
    principal: Principal | None
    request_id: str = "-"
    #: Why authentication failed, when a key was presented but refused (GraphQL defers it).
    auth_error: DomainError | None = None
    #: Free-form per-request extras (e.g. the idempotency key); never secrets.
    extras: dict[str, Any] = field(default_factory=dict)

    def require(self, scope: str) -> str:
        """Return the caller's account id, or raise 401/403 if the caller lacks ``scope``."""
        if self.principal is None:
            if self.auth_error is not None:
                raise self.auth_error
            raise Unauthenticated("a valid API key is required in the X-API-Key header")
        if scope not in self.principal.scopes:
            raise Forbidden(f"this API key lacks the '{scope}' scope")
        return self.principal.account_id
