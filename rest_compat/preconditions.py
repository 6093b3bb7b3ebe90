"""ETag and If-Match for single contacts and companies (the version is the entity tag)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Header
from starlette.responses import Response

IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description=(
            'The `ETag` of the version you read (`"3"`) or `*`: a stale version → 412 and '
            "nothing changes."
        ),
    ),
]

_STRONG_TAG = re.compile(r'^\s*"(\d{1,18})"\s*$')
#: Matches no version: an If-Match that is present but names no current strong tag.
NEVER = -1


def etag(version: int) -> str:
    """The strong entity tag of a version."""
    return f'"{version}"'


def with_etag(response: Response, version: int) -> Response:
    """Add the ``ETag`` header to a single-object response."""
    response.headers["ETag"] = etag(version)
    return response


def expected_version(if_match: str | None) -> int | None:
    """The version ``If-Match`` requires: None for no header or ``*``; NEVER when unusable.

    If-Match uses the strong comparison (RFC 9110 §13.1.1): a weak tag never matches, and
    of a list the first strong tag counts.
    """
    if if_match is None or if_match.strip() == "*":
        return None
    for part in if_match.split(","):
        found = _STRONG_TAG.match(part)
        if found:
            return int(found.group(1))
    return NEVER
