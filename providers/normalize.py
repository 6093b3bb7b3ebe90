"""Field normalisers shared by the provider mappings: ids, emails, phones, timestamps."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email


class MalformedField(ValueError):
    """A raw field has a type or value that makes the whole record unusable."""


_SIMPLE_EMAIL = re.compile(
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
)
_SPECIAL_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


def external_id(value: Any) -> str:
    """Return a provider id as a string; raise MalformedField when missing or odd."""
    if isinstance(value, bool) or value is None:
        raise MalformedField("missing id" if value is None else "id has wrong type")
    if isinstance(value, int):
        if value <= 0:
            raise MalformedField("id not positive")
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise MalformedField("id has wrong type" if not isinstance(value, str) else "missing id")


def optional_id(value: Any, field_name: str) -> str | None:
    """Return an optional reference id (company/organization) as a string or None."""
    if value is None or value == "":
        return None
    try:
        return external_id(value)
    except MalformedField:
        raise MalformedField(f"{field_name} has wrong type") from None


def optional_str(value: Any, field_name: str) -> str | None:
    """Return a stripped string or None; raise MalformedField for non-strings."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedField(f"{field_name} has wrong type")
    stripped = value.strip()
    return stripped or None


def normalize_email(value: str | None) -> str | None:
    """Lowercase and trim an email; return None when it is not a valid address."""
    if value is None:
        return None
    email = value.strip().lower()
    if not email or len(email) > 254:
        return None
    if _SIMPLE_EMAIL.match(email):
        local, _, domain = email.rpartition("@")
        if len(local) <= 64 and domain.rsplit(".", 1)[-1] not in _SPECIAL_TLDS:
            return email
        return None
    try:
        result = validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        return None
    return result.normalized.lower()


def normalize_phone(value: str | None, default_region: str | None = None) -> str | None:
    """Return the number in E.164 when it parses and is valid, else None."""
    if value is None:
        return None
    raw = value.strip()
    if not raw:
        return None
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def parse_timestamp(value: Any, field_name: str = "updated_at") -> datetime:
    """Parse an ISO-8601 timestamp with `Z` or an offset into an aware UTC datetime."""
    if not isinstance(value, str) or not value.strip():
        raise MalformedField(f"bad {field_name}")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedField(f"bad {field_name}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise MalformedField(f"bad {field_name}: no timezone")
    return parsed.astimezone(UTC)


def tag_list(value: Any) -> list[str]:
    """Return tags as a list of non-empty strings; raise MalformedField for odd shapes."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedField("tags has wrong type")
    tags: list[str] = []
    for tag in value:
        if not isinstance(tag, str):
            raise MalformedField("tags has wrong type")
        stripped = tag.strip()
        if stripped and stripped not in tags:
            tags.append(stripped)
    return tags


def first_domain(value: Any, field_name: str) -> str | None:
    """Return the first usable domain of a list, lowercased, or None."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise MalformedField(f"{field_name} has wrong type")
    for item in value:
        if isinstance(item, str) and item.strip():
            return item.strip().lower().rstrip(".")
    return None
