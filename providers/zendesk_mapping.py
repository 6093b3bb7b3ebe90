"""Turn raw Zendesk user and organization JSON into provider-neutral records."""

from __future__ import annotations

from typing import Any

from providers.normalize import (
    MalformedField,
    external_id,
    first_domain,
    normalize_email,
    normalize_phone,
    optional_id,
    optional_str,
    parse_timestamp,
    tag_list,
)
from providers.records import ContactItem, ProviderCompany, ProviderContact, SkippedRecord

END_USER = "end-user"


def _raw_id(raw: dict[str, Any]) -> str | None:
    value = raw.get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def map_zendesk_user(raw: Any, *, default_region: str | None = None) -> ContactItem:
    """Map one Zendesk user; only end-users become contacts, others are skipped by role."""
    if not isinstance(raw, dict):
        return SkippedRecord(None, "record is not an object")
    role = raw.get("role")
    if role != END_USER:
        reason = f"role {role}" if isinstance(role, str) and role else "role missing"
        return SkippedRecord(_raw_id(raw), reason)
    try:
        ext_id = external_id(raw.get("id"))
        name = optional_str(raw.get("name"), "name")
        email = normalize_email(optional_str(raw.get("email"), "email"))
        phone = normalize_phone(optional_str(raw.get("phone"), "phone"), default_region)
        company = optional_id(raw.get("organization_id"), "organization_id")
        tags = tag_list(raw.get("tags"))
        updated_at = parse_timestamp(raw.get("updated_at"))
    except MalformedField as exc:
        return SkippedRecord(_raw_id(raw), str(exc))
    active = raw.get("active", True)
    if not isinstance(active, bool):
        return SkippedRecord(ext_id, "active has wrong type")
    deleted = not active
    if name is None and email is None and not deleted:
        return SkippedRecord(ext_id, "no name and no email")
    return ProviderContact(
        external_id=ext_id,
        name=name or email or "",
        email=email,
        phone=phone,
        company_external_id=company,
        tags=tags,
        updated_at=updated_at,
        deleted=deleted,
        blocked=raw.get("suspended") is True,
    )


def map_zendesk_organization(raw: Any) -> ProviderCompany | SkippedRecord:
    """Map one Zendesk organization; `deleted_at` marks it deleted."""
    if not isinstance(raw, dict):
        return SkippedRecord(None, "record is not an object")
    try:
        ext_id = external_id(raw.get("id"))
        name = optional_str(raw.get("name"), "name")
        domain = first_domain(raw.get("domain_names"), "domain_names")
        tags = tag_list(raw.get("tags"))
        updated_at = parse_timestamp(raw.get("updated_at"))
    except MalformedField as exc:
        return SkippedRecord(_raw_id(raw), str(exc))
    if name is None:
        return SkippedRecord(ext_id, "no name")
    return ProviderCompany(
        external_id=ext_id,
        name=name,
        domain=domain,
        tags=tags,
        updated_at=updated_at,
        deleted=raw.get("deleted_at") is not None,
    )
