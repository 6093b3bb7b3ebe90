"""GraphQL inputs (camelCase) and their translation to the domain's snake_case fields."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry import UNSET

from schema.scalars import JSON


def to_domain(data: object) -> dict[str, Any]:
    """The fields the client actually sent, with their domain (snake_case) names."""
    return {k: v for k, v in vars(data).items() if v is not UNSET}


@strawberry.input
class CreateContactInput:
    name: str
    email: str | None = UNSET
    phone: str | None = UNSET
    company_id: strawberry.ID | None = UNSET
    tags: list[str] | None = UNSET
    custom_fields: JSON | None = UNSET


@strawberry.input(description="Only the fields given change; null clears an optional field.")
class UpdateContactInput:
    name: str | None = UNSET
    email: str | None = UNSET
    phone: str | None = UNSET
    company_id: strawberry.ID | None = UNSET
    tags: list[str] | None = UNSET
    custom_fields: JSON | None = UNSET


@strawberry.input
class CreateCompanyInput:
    name: str
    domain: str | None = UNSET
    tags: list[str] | None = UNSET
    custom_fields: JSON | None = UNSET


@strawberry.input(description="Only the fields given change; null clears an optional field.")
class UpdateCompanyInput:
    name: str | None = UNSET
    domain: str | None = UNSET
    tags: list[str] | None = UNSET
    custom_fields: JSON | None = UNSET
