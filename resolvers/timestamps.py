"""The one timestamp format of the API: ISO 8601, UTC, milliseconds, ``Z`` suffix."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_z(value: datetime | None) -> str | None:
    """``2026-01-15T10:00:00.000Z`` (fixed width, what JavaScript's Date parses exactly)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
