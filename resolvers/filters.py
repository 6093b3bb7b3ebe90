"""List filters shared by contacts and companies, validated once."""

from __future__ import annotations

import re
from collections.abc import Mapping

from db.records import ListFilter
from resolvers.errors import ValidationFailed
from resolvers.validation import MAX_TAG_LENGTH

MAX_SEARCH = 200
MAX_FILTER_TAGS = 50
CUSTOM_FIELD_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def list_filter(
    *,
    search: str | None = None,
    company_id: str | None = None,
    tags: list[str] | None = None,
    custom_field_filters: Mapping[str, str] | None = None,
    include_deleted: bool = False,
) -> ListFilter:
    """Validate and normalise list filters; a bad one is a 422 naming it."""
    term = search.strip() if search else None
    if term and len(term) > MAX_SEARCH:
        raise ValidationFailed(f"search can have at most {MAX_SEARCH} characters", field="search")
    clean_tags = list(dict.fromkeys(t.strip() for t in (tags or []) if t.strip()))
    if len(clean_tags) > MAX_FILTER_TAGS:
        raise ValidationFailed(f"at most {MAX_FILTER_TAGS} tags in a filter", field="tags")
    if any(len(t) > MAX_TAG_LENGTH for t in clean_tags):
        raise ValidationFailed(f"a tag can have at most {MAX_TAG_LENGTH} characters", field="tags")
    for key in custom_field_filters or {}:
        if not CUSTOM_FIELD_KEY.match(key):
            raise ValidationFailed(
                "a custom field key is lower-case letters, digits and _ (at most 64)",
                field=f"custom_fields[{key}]",
            )
    return ListFilter(
        search=term or None,
        company_id=company_id or None,
        tags=clean_tags,
        custom_fields=dict(custom_field_filters or {}),
        include_deleted=include_deleted,
    )
