"""Optimistic concurrency: a write may name the version it read; a stale one is refused."""

from __future__ import annotations

from resolvers.errors import PreconditionFailed


def require_version(kind: str, object_id: str, current: int, expected: int | None) -> None:
    """Raise 412 when ``expected`` is given and is not the current version (checked under the row lock)."""
    if expected is not None and expected != current:
        raise PreconditionFailed(
            f"{kind} {object_id} is at version {current}, not {expected}; "
            "read it again and retry with the current version",
            field="expected_version",
        )
