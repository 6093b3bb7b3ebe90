"""Records as the API shows them: the one JSON shape of REST bodies and event payloads."""

from __future__ import annotations

from typing import Any

from db.records import CompanyRecord, ContactRecord
from resolvers.timestamps import iso_z as iso


def contact_json(c: ContactRecord) -> dict[str, Any]:
    """A contact as REST returns it."""
    return {
        "id": c.id,
        "name": c.name,
        "email": c.email,
        "phone": c.phone,
        "company_id": c.company_id,
        "company_name": c.company_name,
        "tags": c.tags,
        "custom_fields": c.custom_fields,
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
        "version": c.version,
    }


def company_json(c: CompanyRecord) -> dict[str, Any]:
    """A company as REST returns it."""
    return {
        "id": c.id,
        "name": c.name,
        "domain": c.domain,
        "tags": c.tags,
        "custom_fields": c.custom_fields,
        "contact_count": c.contact_count,
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
        "deleted_at": iso(c.deleted_at),
        "version": c.version,
    }
