"""A real ``contacts-gateway`` server in a subprocess (uvicorn on a free loopback port)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveServer:
    """A running server: its base URL and the file its log lines go to."""

    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def server_env(database_url: str, data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a server process: this test's database, no background workers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTS_GATEWAY_")}
    env.update(
        CONTACTS_GATEWAY_DATABASE_URL=database_url,
        CONTACTS_GATEWAY_DATA_DIR=str(data_dir),
        CONTACTS_GATEWAY_SCHEDULER_ENABLED="false",
        CONTACTS_GATEWAY_WEBHOOK_WORKER_ENABLED="false",
        CONTACTS_GATEWAY_LOG_JSON="true",
    )
    env.update({f"CONTACTS_GATEWAY_{k.upper()}": v for k, v in settings.items()})
    return env


@contextmanager
def live_server(
    database_url: str, tmp_path: Path, *, startup_seconds: float = 30, **settings: str
) -> Iterator[LiveServer]:
    """Serve the app from a subprocess until the block ends; logs go to ``tmp_path``."""
    port = free_port()
    log_path = tmp_path / f"server-{port}.log"
    code = (
        "import uvicorn\n"
        "from contacts_gateway.logs import configure_logging\n"
        "from contacts_gateway.settings import get_settings\n"
        "s = get_settings()\n"
        "configure_logging(s.log_level, s.log_json)\n"
        f"uvicorn.run('contacts_gateway.app:create_app', factory=True, host='127.0.0.1', port={port},"
        " log_config=None, access_log=False)\n"
    )
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-c", code],
            env=server_env(database_url, tmp_path / "data", **settings),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", log_path)
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}:\n{server.log()}")
            try:
                if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the server did not start in {startup_seconds}s:\n{server.log()}"
                )
            time.sleep(0.05)  # polling the port with a deadline, not waiting for a guess
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
