"""Response models: they document the API in OpenAPI (bodies are built by serializers.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class Contact(BaseModel):
    id: str = Field(examples=["ct_01jh8x2k3m4n5p6q7r8s9t0v1w"])
    name: str
    email: str | None
    phone: str | None = Field(description="E.164")
    company_id: str | None
    company_name: str | None
    tags: list[str]
    custom_fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Bumped by every change; sent as the ETag, used by If-Match")


class Company(BaseModel):
    id: str = Field(examples=["co_01jh8x2k3m4n5p6q7r8s9t0v1w"])
    name: str
    domain: str | None
    tags: list[str]
    custom_fields: dict[str, Any]
    contact_count: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    version: int = Field(description="Bumped by every change; sent as the ETag, used by If-Match")


class ContactList(BaseModel):
    data: list[Contact]
    total: int
    limit: int
    offset: int


class CompanyList(BaseModel):
    data: list[Company]
    total: int
    limit: int
    offset: int


class ProblemField(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[ProblemField]
    request_id: str


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error statuses."""
    descriptions = {
        401: "Missing, unknown or revoked API key",
        403: "The API key lacks the required scope",
        404: "No such object in this account",
        409: "Conflicts with the current state (duplicate email or domain, deleted company)",
        412: "The If-Match version is stale",
        413: "The body is too large",
        422: "A field broke a rule; `errors` names each field",
        429: "Rate limited; see Retry-After",
        503: "The database is busy; retry after Retry-After",
    }
    return {
        s: {
            "model": Problem,
            "description": descriptions.get(s, "Error"),
            # The errors leave as application/problem+json: document the schema there too.
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
        for s in statuses
    }


COMMON_ERRORS = (401, 403, 422, 429, 503)
