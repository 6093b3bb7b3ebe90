"""The ``contacts-gateway`` command: help texts, keys create/list/revoke, db upgrade, --version."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contacts_gateway import __version__
from contacts_gateway.cli import app

runner = CliRunner()


class Ran:
    """What one CLI run produced."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def subprocess_cli(*args: str, env: dict[str, str] | None = None) -> Ran:
    """Run the real console entry point in a subprocess (slow: used once)."""
    full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    if env is None:
        full_env.pop("CONTACTS_GATEWAY_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "contacts_gateway", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=full_env,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Ran]:
    """Run the CLI in-process (fast); the env var it sets is restored afterwards."""
    monkeypatch.setenv("CONTACTS_GATEWAY_DATABASE_URL", "sqlite+aiosqlite:///./unused.db")

    def run(*args: str, columns: int = 200) -> Ran:
        result = runner.invoke(app, list(args), env={"COLUMNS": str(columns), "NO_COLOR": "1"})
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Ran(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh SQLite file the CLI creates and migrates itself."""
    return f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        ([], ["serve", "keys", "db", "--version"]),
        (["serve"], ["--host", "--port", "--database-url", "--workers", "--demo"]),
        (["keys"], ["create", "list", "revoke"]),
        (["keys", "create"], ["--account", "--scopes", "--name", "--database-url", "last line"]),
        (["keys", "list"], ["--account", "--database-url"]),
        (["keys", "revoke"], ["prefix", "401"]),
        (["db"], ["upgrade"]),
        (["db", "upgrade"], ["--database-url", "migrate"]),
    ],
)
def test_help_texts(args: list[str], needles: list[str]) -> None:
    result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    for needle in needles:
        assert needle in result.output, f"{needle!r} missing from `{' '.join(args)} --help`"


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"contacts-gateway {__version__}"


def test_keys_create_list_revoke(cli: Callable[..., Ran], db_url: str) -> None:
    created = cli(
        "keys", "create", "--account", "acme", "--scopes", "contacts:read,contacts:write",
        "--name", "ci", "--database-url", db_url,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"ak_live_[A-Za-z0-9]{40,}", key), created.stdout
    assert key not in created.stderr  # the secret is printed once, on stdout only
    second = cli(
        "keys", "create", "--account", "globex", "--scopes", "config:read", "--database-url", db_url
    )
    assert second.returncode == 0, second.stderr
    other = second.stdout.strip().splitlines()[-1]
    assert other != key

    listed = cli("keys", "list", "--database-url", db_url, columns=60)
    assert listed.returncode == 0, listed.stderr
    prefix = key[:16]
    # piped (as here) and however narrow the terminal: a tab-separated line a key, uncut
    lines = [line.split("\t") for line in listed.stdout.splitlines()]
    assert lines[0][:4] == ["prefix", "account", "name", "scopes"]
    assert {line[0] for line in lines[1:]} == {prefix, other[:16]}
    assert key not in listed.stdout and key[16:] not in listed.stdout  # never the secret
    assert "acme" in listed.stdout and "contacts:read,contacts:write" in listed.stdout
    only = cli("keys", "list", "--account", "globex", "--database-url", db_url)
    assert other[:16] in only.stdout and prefix not in only.stdout

    revoked = cli("keys", "revoke", prefix, "--database-url", db_url)
    assert revoked.returncode == 0, revoked.stderr
    assert "Revoked 1 key" in revoked.stdout
    again = cli("keys", "revoke", prefix, "--database-url", db_url)
    assert again.returncode == 2 and "no live key" in again.stderr
    short = cli("keys", "revoke", "ak_live", "--database-url", db_url)
    assert short.returncode == 2 and "prefix" in short.stderr


def test_keys_list_in_a_narrow_terminal_never_cuts_the_prefix(
    cli: Callable[..., Ran], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from rich.console import Console

    import contacts_gateway.cli as cli_module

    created = cli(
        "keys",
        "create",
        "--account",
        "acme",
        "--scopes",
        ",".join(["contacts:read", "contacts:write", "config:read", "config:write"]),
        "--database-url",
        db_url,
    )
    prefix = created.stdout.strip().splitlines()[-1][:16]
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=60, color_system=None)
    monkeypatch.setattr(cli_module, "out", terminal)
    listed = cli("keys", "list", "--database-url", db_url)
    assert listed.returncode == 0, listed.stderr
    assert prefix in screen.getvalue()  # whole, on one line, however narrow the table
    assert "\t" not in screen.getvalue()  # the table, not the piped form


def test_a_revoked_key_is_refused_by_the_api(cli: Callable[..., Ran], db_url: str) -> None:
    import asyncio

    import httpx

    from contacts_gateway.app import create_app
    from contacts_gateway.settings import Settings

    key = (
        cli(
            "keys",
            "create",
            "--account",
            "acme",
            "--scopes",
            "contacts:read",
            "--database-url",
            db_url,
        )
        .stdout.strip()
        .splitlines()[-1]
    )

    async def status() -> int:
        app = create_app(Settings(database_url=db_url))
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.get("/api/v2/contacts", headers={"X-API-Key": key})
                return response.status_code
        finally:
            await app.state.engine.dispose()

    assert asyncio.run(status()) == 200
    assert cli("keys", "revoke", key[:16], "--database-url", db_url).returncode == 0
    assert asyncio.run(status()) == 401


@pytest.mark.parametrize(
    ("scopes", "needle"),
    [
        ("contacts:admin", "unknown: contacts:admin"),
        ("contacts:read,nope", "unknown: nope"),
        ("", "scopes must be"),
        (" , ", "scopes must be"),
    ],
)
def test_bad_scopes_exit_2_with_a_clear_message(
    cli: Callable[..., Ran], db_url: str, scopes: str, needle: str
) -> None:
    result = cli(
        "keys", "create", "--account", "acme", "--scopes", scopes, "--database-url", db_url
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert needle in result.stderr
    assert "contacts:read" in result.stderr  # it names the valid scopes
    assert "ak_live_" not in result.stdout
    assert "Traceback" not in result.stderr


def test_bad_account_exits_2(cli: Callable[..., Ran], db_url: str) -> None:
    result = cli(
        "keys", "create", "--account", "  ", "--scopes", "contacts:read", "--database-url", db_url
    )
    assert result.returncode == 2 and "account" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_required_options_exit_2() -> None:
    result = runner.invoke(app, ["keys", "create", "--scopes", "contacts:read"])
    assert result.exit_code == 2
    assert "--account" in result.output


def test_db_upgrade_creates_and_is_idempotent(
    cli: Callable[..., Ran], tmp_path: Path, db_url: str
) -> None:
    first = cli("db", "upgrade", "--database-url", db_url)
    assert first.returncode == 0, first.stderr
    assert "Database is at revision" in first.stdout
    assert (tmp_path / "cli.db").exists()
    second = cli("db", "upgrade", "--database-url", db_url)
    assert second.returncode == 0 and second.stdout == first.stdout
    # the console script, in a subprocess, with the URL from the environment
    env_based = subprocess_cli("db", "upgrade", env={"CONTACTS_GATEWAY_DATABASE_URL": db_url})
    assert env_based.returncode == 0, env_based.stderr
    assert env_based.stdout == first.stdout
