"""Turn raw Freshdesk v2 contact and company JSON into provider-neutral records."""

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


def _raw_id(raw: dict[str, Any]) -> str | None:
    value = raw.get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def map_freshdesk_contact(
    raw: Any,
    *,
    deleted: bool = False,
    blocked: bool = False,
    default_region: str | None = None,
) -> ContactItem:
    """Map one Freshdesk contact; malformed input becomes a SkippedRecord, never an error."""
    if not isinstance(raw, dict):
        return SkippedRecord(None, "record is not an object")
    try:
        ext_id = external_id(raw.get("id"))
        name = optional_str(raw.get("name"), "name")
        raw_email = optional_str(raw.get("email"), "email")
        email = normalize_email(raw_email)
        phone = None
        for key in ("phone", "mobile"):
            phone = normalize_phone(optional_str(raw.get(key), key), default_region)
            if phone is not None:
                break
        company = optional_id(raw.get("company_id"), "company_id")
        tags = tag_list(raw.get("tags"))
        updated_at = parse_timestamp(raw.get("updated_at"))
    except MalformedField as exc:
        return SkippedRecord(_raw_id(raw), str(exc))
    is_deleted = deleted or raw.get("deleted") is True
    if name is None and email is None and not is_deleted:
        return SkippedRecord(ext_id, "no name and no email")
    return ProviderContact(
        external_id=ext_id,
        name=name or email or "",
        email=email,
        phone=phone,
        company_external_id=company,
        tags=tags,
        updated_at=updated_at,
        deleted=is_deleted,
        blocked=blocked or raw.get("blocked") is True,
    )


def map_freshdesk_company(raw: Any) -> ProviderCompany | SkippedRecord:
    """Map one Freshdesk company; malformed input becomes a SkippedRecord."""
    if not isinstance(raw, dict):
        return SkippedRecord(None, "record is not an object")
    try:
        ext_id = external_id(raw.get("id"))
        name = optional_str(raw.get("name"), "name")
        domain = first_domain(raw.get("domains"), "domains")
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
        deleted=raw.get("deleted") is True,
    )
