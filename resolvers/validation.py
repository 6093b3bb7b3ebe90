"""Input models and normalisers shared by every transport: one set of rules, one set of messages."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from resolvers.errors import FieldError, ValidationFailed

MAX_TAGS = 50
MAX_TAG_LENGTH = 64
MAX_CUSTOM_FIELDS = 100
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_email(value: str) -> str:
    """A syntactically valid email, domain lower-cased (no DNS look-up)."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address ({exc})") from exc


def email_key(email: str) -> str:
    """The case-insensitive uniqueness key of an email."""
    return email.casefold()


def normalize_phone(value: str) -> str:
    """A valid international phone number in E.164 (``+33612345678``)."""
    try:
        number = phonenumbers.parse(value.strip(), None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(
            "not a valid international phone number; use E.164 like +33612345678"
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number for its country code")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_domain(value: str) -> str:
    """A lower-cased host name (IDNs in their ASCII form); URLs and IPs are refused."""
    host = value.strip().lower().rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError("not a valid host name") from exc
    labels = host.split(".")
    if (
        len(host) > 253
        or len(labels) < 2
        or not all(_HOST_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise ValueError("must be a host name like acme.com (no scheme, path or port)")
    return host


def normalize_tags(values: list[Any]) -> list[str]:
    """Trimmed, de-duplicated tags in their original order."""
    seen: dict[str, None] = {}
    for raw in values:
        if not isinstance(raw, str):
            raise ValueError("tags must be strings")
        tag = raw.strip()
        if not tag:
            raise ValueError("tags cannot be empty")
        if len(tag) > MAX_TAG_LENGTH:
            raise ValueError(f"a tag can have at most {MAX_TAG_LENGTH} characters")
        seen.setdefault(tag, None)
    if len(seen) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    return list(seen)


def _name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if len(value) > 255:
        raise ValueError("must have at most 255 characters")
    return value


Name = Annotated[str, AfterValidator(_name)]
Tags = Annotated[list[Any], Field(max_length=MAX_TAGS * 4)]
CustomValues = Annotated[dict[str, Any], Field(max_length=MAX_CUSTOM_FIELDS)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=10_000)


class _ContactFields(_Input):
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    company_id: Id | None = None
    tags: Tags | None = None
    custom_fields: CustomValues | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else normalize_email(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else normalize_phone(value)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[Any] | None) -> list[str] | None:
        return None if value is None else normalize_tags(value)


class ContactCreate(_ContactFields):
    """Body of a contact creation."""

    name: Name


class ContactUpdate(_ContactFields):
    """Body of a partial contact update: absent fields stay, ``null`` clears."""

    name: Name | None = None

    @field_validator("name")
    @classmethod
    def _name_not_null(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("name cannot be null")
        return value


class _CompanyFields(_Input):
    domain: Annotated[str, StringConstraints(max_length=253)] | None = None
    tags: Tags | None = None
    custom_fields: CustomValues | None = None

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else normalize_domain(value)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[Any] | None) -> list[str] | None:
        return None if value is None else normalize_tags(value)


class CompanyCreate(_CompanyFields):
    """Body of a company creation."""

    name: Name


class CompanyUpdate(_CompanyFields):
    """Body of a partial company update."""

    name: Name | None = None

    @field_validator("name")
    @classmethod
    def _name_not_null(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("name cannot be null")
        return value


M = TypeVar("M", bound=BaseModel)


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Pydantic errors as (field, message) pairs with dotted field paths."""
    errors = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in err["loc"] if part not in ("body",)) or "body"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        errors.append(FieldError(loc, message))
    return errors


def parse(model: type[M], data: M | Mapping[str, Any]) -> M:
    """Validate ``data`` against ``model``; a failure is a 422 naming every bad field."""
    if isinstance(data, model):
        return data
    if not isinstance(data, Mapping):
        raise ValidationFailed("the body must be a JSON object", field="body")
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        errors = field_errors(exc)
        raise ValidationFailed(f"{errors[0].field}: {errors[0].message}", errors=errors) from exc


def provided(model: BaseModel) -> dict[str, Any]:
    """The fields the caller actually sent (explicit nulls included)."""
    return {name: getattr(model, name) for name in model.model_fields_set}
