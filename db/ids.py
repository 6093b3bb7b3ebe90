"""Prefixed, opaque, time-ordered identifiers (``ct_…``, ``co_…``)."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """Return ``prefix_`` + 10 chars of millisecond time + 16 chars (80 bits) of randomness."""
    millis = time.time_ns() // 1_000_000
    randomness = int.from_bytes(os.urandom(10), "big")
    return f"{prefix}_{_encode(millis, 10)}{_encode(randomness, 16)}"


PREFIXES = {
    "contact": "ct",
    "company": "co",
    "activity": "act",
    "attachment": "att",
    "sync_run": "sr",
    "account": "acc",
    "api_key": "key",
}
