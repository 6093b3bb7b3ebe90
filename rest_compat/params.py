"""Query-string helpers shared by the list routes."""

from __future__ import annotations

import re

from fastapi import Request

_CUSTOM_FIELD_PARAM = re.compile(r"^custom_fields\[(.+)\]$")


def split_tags(tags: str | None) -> list[str]:
    """``"vip, beta"`` → ``["vip", "beta"]``."""
    return [t.strip() for t in tags.split(",") if t.strip()] if tags else []


def custom_field_params(request: Request) -> dict[str, str]:
    """``custom_fields[plan]=gold`` query parameters as ``{"plan": "gold"}``."""
    found: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        match = _CUSTOM_FIELD_PARAM.match(name)
        if match:
            found[match.group(1)] = value
    return found
