"""Shared pieces of the fake providers: a controllable clock, JSON responses, Basic auth."""

from __future__ import annotations

import base64
import binascii
import time
from datetime import UTC, datetime, timedelta, timezone
from email.utils import formatdate
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response


class FakeClock:
    """Whole-second provider clock: real time plus an offset, or frozen at a chosen instant."""

    def __init__(self, frozen_at: int | None = None, offset: int = 0) -> None:
        self._frozen_at = frozen_at
        self._offset = offset

    def now(self) -> int:
        """Return the provider's current time in epoch seconds."""
        if self._frozen_at is not None:
            return self._frozen_at
        return int(time.time()) + self._offset

    def freeze(self, epoch: int | None = None) -> None:
        """Stop the clock at `epoch` (default: now) so several writes share one second."""
        self._frozen_at = self.now() if epoch is None else int(epoch)

    def unfreeze(self) -> None:
        """Let the clock run again from where it was, keeping the displacement."""
        if self._frozen_at is not None:
            self._offset = self._frozen_at - int(time.time())
        self._frozen_at = None

    def advance(self, seconds: int) -> None:
        """Move the clock forward (or back, with a negative value)."""
        if self._frozen_at is not None:
            self._frozen_at += int(seconds)
        else:
            self._offset += int(seconds)

    def set_offset(self, seconds: int) -> None:
        """Run the clock `seconds` ahead of (negative: behind) the real clock."""
        self._frozen_at = None
        self._offset = int(seconds)

    def http_date(self) -> str:
        """Return the current time formatted for a `Date` header."""
        return formatdate(self.now(), usegmt=True)

    def state(self) -> dict[str, Any]:
        """Describe the clock for the admin endpoint."""
        return {"now": self.now(), "frozen": self._frozen_at is not None, "offset": self._offset}


def iso_z(epoch: int) -> str:
    """Format epoch seconds as `2015-08-18T16:18:14Z`."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_offset(epoch: int, minutes: int) -> str:
    """Format epoch seconds in a fixed offset, like `2014-01-08T09:08:53+05:30`."""
    zone = timezone(timedelta(minutes=minutes))
    return datetime.fromtimestamp(epoch, zone).isoformat(timespec="seconds")


def parse_iso(text: str) -> int | None:
    """Parse an ISO-8601 timestamp (Z, offset, or date) into epoch seconds, or None."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Serialise `data` with orjson into a JSON response."""
    return Response(orjson.dumps(data), status, headers=headers, media_type="application/json")


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """Return the (user, password) of a Basic `Authorization` header, or None."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


async def json_body(request: Request) -> dict[str, Any]:
    """Read a JSON object body; an empty body is an empty object."""
    raw = await request.body()
    if not raw:
        return {}
    data = orjson.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data
