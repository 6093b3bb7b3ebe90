"""Fixtures for fuzzing: an app that owns its engine (schemathesis drives it from its own loop)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from contacts_gateway.app import create_app
from contacts_gateway.settings import Settings

#: Examples per operation; scripts/fuzz-long raises it (env CONTACTS_GATEWAY_FUZZ_EXAMPLES).
FUZZ_EXAMPLES = int(os.environ.get("CONTACTS_GATEWAY_FUZZ_EXAMPLES", "3"))


@pytest.fixture
def fuzz_app(database_url: str, tmp_path: Path) -> Any:
    """The app with its own engine: schemathesis calls it from a separate event loop thread."""
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        allow_private_urls=True,
        # Exercised (headers on every response) but never in the way of the fuzzer.
        rate_limit_burst=1_000_000,
        auth_failure_burst=1_000_000,
    )
    return create_app(settings)
