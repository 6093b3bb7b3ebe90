"""The worker as its own process (``contacts-gateway worker``), killed and restarted."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import Api
from tests.events.conftest import Receiver, eventually, standard_webhooks_verify

pytestmark = pytest.mark.e2e


@pytest.fixture
def spawn_worker(database_url: str) -> Iterator[object]:
    procs: list[subprocess.Popen[bytes]] = []
    exe = shutil.which("contacts-gateway")
    command = [exe, "worker"] if exe else [sys.executable, "-m", "contacts_gateway", "worker"]

    def spawn() -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "CONTACTS_GATEWAY_DATABASE_URL": database_url,
            "CONTACTS_GATEWAY_ALLOW_PRIVATE_URLS": "1",
            "CONTACTS_GATEWAY_WEBHOOK_POLL_SECONDS": "0.05",
            "CONTACTS_GATEWAY_EVENTS_POLL_SECONDS": "0.05",
        }
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


async def test_killed_worker_loses_nothing(
    api: Api, receiver: Receiver, spawn_worker: object
) -> None:
    hook = (await api.post("/api/v2/webhooks", json={"url": receiver.url})).json()
    first = spawn_worker()  # type: ignore[operator]
    await api.post("/api/v2/contacts", json={"name": "A"})
    try:
        await eventually(lambda: len(receiver.requests) == 1, timeout=30)
    except AssertionError:
        first.kill()
        raise AssertionError(first.stderr.read().decode()[-3000:]) from None

    async def recorded() -> bool:
        log = (await api.get(f"/api/v2/webhooks/{hook['id']}/deliveries")).json()["data"]
        return bool(log) and log[0]["status"] == "delivered"

    # (killed after recording: a worker killed mid-attempt leaves a lease that expires
    # after timeout + 30 s, and the attempt is then made again: at-least-once)
    await eventually(recorded, timeout=10)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    # Committed while no worker is alive…
    await api.post("/api/v2/contacts", json={"name": "B"})
    await api.post("/api/v2/contacts", json={"name": "C"})
    # …delivered by the next one, in order; A is not sent again.
    second = spawn_worker()  # type: ignore[operator]
    await eventually(lambda: len(receiver.requests) == 3, timeout=30)
    assert [b["data"]["object"]["name"] for b in receiver.bodies()] == ["A", "B", "C"]
    assert all(
        standard_webhooks_verify(hook["secret"], r.headers, r.body) for r in receiver.requests
    )
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=15) == 0, second.stderr.read() if second.stderr else ""
