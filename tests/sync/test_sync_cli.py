"""`contacts-gateway sync` and its summary, against the fake Freshdesk over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contacts_gateway.cli import app
from providers.fake_testing import RunningFake


def test_cli_sync_saves_the_provider_runs_and_prints_a_summary(
    tmp_path: Path, start_fake: Callable[..., RunningFake], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = start_fake("freshdesk")
    for i in range(12):
        fake.store.create_contact({"name": f"Cli {i}", "email": f"cli{i}@x.io"})
    monkeypatch.setenv("CONTACTS_GATEWAY_ALLOW_PRIVATE_URLS", "1")
    monkeypatch.setenv("CONTACTS_GATEWAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CONTACTS_GATEWAY_SYNC_RETRY_WAIT_SCALE", "0")
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    created = runner.invoke(
        app,
        ["keys", "create", "--account", "acme", "--scopes", "config:read", "--database-url", url],
    )
    assert created.exit_code == 0, created.output
    missing = runner.invoke(app, ["sync", "--account", "nobody", "--database-url", url])
    assert missing.exit_code == 2 and "no account named" in missing.output
    unconfigured = runner.invoke(app, ["sync", "--account", "acme", "--database-url", url])
    assert unconfigured.exit_code == 2 and "no provider is configured" in unconfigured.output
    args = ["sync", "--account", "acme", "--mode", "full", "--database-url", url]
    result = runner.invoke(app, [*args, "--provider", json.dumps(fake.config())])
    assert result.exit_code == 0, result.output
    assert "completed" in result.output and "created" in result.output
    assert "fake-freshdesk-key" not in result.output
    fake.faults.inject("500", times=None, path="/api/v2/companies", after=1)
    failed = runner.invoke(app, args)
    assert failed.exit_code == 1
    assert "failed" in failed.output and "gave up" in failed.output
