"""Two `contacts-gateway serve` replicas on one PostgreSQL database, written to at once.

Both start together on an empty database (so they race to migrate it), then a few hundred
writes go through both: creates (with duplicate-email races across the replicas), patches
of different fields of one contact through different replicas, deletes. Afterwards every
acknowledged write must be readable, identically, from either replica, and the list totals
must equal the ledger exactly.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from contacts_gateway.cli import app as cli_app

pytestmark = pytest.mark.e2e

CLI = str(Path(sys.executable).with_name("contacts-gateway"))
CREATES = 80  # plus RACES duplicate-email pairs and LATE_CREATES during the patch phase
RACES = 25
LATE_CREATES = 20
DELETES = 25
PATCHED = 60  # contacts patched twice at once (name via one replica, phone via the other)
IN_FLIGHT = 16


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Replica:
    port: int
    process: asyncio.subprocess.Process
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@dataclass
class Ledger:
    """What the servers acknowledged: the truth the database must show afterwards."""

    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    emails_won: dict[str, str] = field(default_factory=dict)


@pytest.fixture
async def replicas(
    dialect: str, empty_database: Callable[[], Awaitable[str]], tmp_path: Path
) -> AsyncIterator[tuple[list[Replica], str]]:
    """Two serve processes started together on one new, empty PostgreSQL database."""
    if dialect != "postgresql":
        pytest.skip("SKIPPING the two-replica test: it needs PostgreSQL (run with --db postgresql)")
    url = await empty_database()
    secret = Fernet.generate_key().decode()  # replicas must share it (provider secrets)
    started: list[Replica] = []
    for n in range(2):
        port = _free_port()
        log = tmp_path / f"replica{n}.log"
        env = {
            **os.environ,
            "CONTACTS_GATEWAY_DATABASE_URL": url,
            "CONTACTS_GATEWAY_DATA_DIR": str(tmp_path / f"data{n}"),
            "CONTACTS_GATEWAY_SECRET_KEY": secret,
            "CONTACTS_GATEWAY_RATE_LIMIT_ENABLED": "false",
            "CONTACTS_GATEWAY_LOG_LEVEL": "WARNING",
        }
        with log.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                CLI, "serve", "--host", "127.0.0.1", "--port", str(port),
                env=env, stdout=sink, stderr=sink,
            )  # fmt: skip
        started.append(Replica(port, process, log))
    try:
        await _wait_ready(started)
        yield started, url
    finally:
        for replica in started:
            if replica.process.returncode is None:
                replica.process.terminate()
        for replica in started:
            try:
                await asyncio.wait_for(replica.process.wait(), timeout=15)
            except TimeoutError:
                replica.process.kill()
                await replica.process.wait()
            # pytest shows this only when the test failed.
            print(f"--- replica on port {replica.port}:\n{replica.output()}")


async def _wait_ready(replicas: list[Replica]) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=2) as client:
        for replica in replicas:
            while True:
                assert replica.process.returncode is None, (
                    f"replica on {replica.port} exited:\n{replica.output()}"
                )
                try:
                    response = await client.get(f"{replica.base}/readyz")
                    if response.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"not ready in time:\n{replica.output()}"
                await asyncio.sleep(0.05)


async def _create_key(url: str) -> str:
    """`contacts-gateway keys create` on the PostgreSQL URL (in-process: no second start-up)."""
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli_app,
        ["keys", "create", "--account", "acme", "--scopes", "contacts:read,contacts:write"],
        env={"CONTACTS_GATEWAY_DATABASE_URL": url},
    )
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


async def test_two_replicas_agree_on_every_acknowledged_write(
    replicas: tuple[list[Replica], str],
) -> None:
    servers, url = replicas
    key = await _create_key(url)
    ledger = Ledger()
    gate = asyncio.Semaphore(IN_FLIGHT)
    unexpected: list[str] = []
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    async with (
        httpx.AsyncClient(
            base_url=servers[0].base, headers={"X-API-Key": key}, timeout=30, limits=limits
        ) as a,
        httpx.AsyncClient(
            base_url=servers[1].base, headers={"X-API-Key": key}, timeout=30, limits=limits
        ) as b,
    ):
        clients = (a, b)

        async def call(client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> Any:
            async with gate:
                response = await client.request(method, path, **kw)
            if response.status_code >= 500:
                unexpected.append(f"{method} {path} -> {response.status_code} {response.text}")
            return response

        async def create(n: int, email: str, client: httpx.AsyncClient) -> None:
            body = {"name": f"Person {n}", "email": email}
            response = await call(client, "POST", "/api/v2/contacts", json=body)
            if response.status_code == 201:
                record = response.json()
                ledger.live[record["id"]] = record
                assert email not in ledger.emails_won, f"two winners for {email}"
                ledger.emails_won[email] = record["id"]
            elif response.status_code != 409:
                unexpected.append(f"create {email} -> {response.status_code} {response.text}")

        # Phase 1: creates through both replicas; RACES emails are sent to both at once.
        jobs = [create(n, f"p{n}@example.com", clients[n % 2]) for n in range(CREATES)]
        for n in range(RACES):
            email = f"race{n}@example.com"
            jobs += [create(1000 + n, email, a), create(2000 + n, email.upper(), b)]
        await asyncio.gather(*jobs)
        assert not unexpected, unexpected
        for n in range(RACES):  # each race has exactly one winner (case-insensitively)
            winners = [e for e in ledger.emails_won if e.lower() == f"race{n}@example.com"]
            assert len(winners) == 1, (n, winners)
        assert len(ledger.live) == CREATES + RACES

        # Phase 2: deletes, double patches across replicas, more creates: all at once.
        ids = sorted(ledger.live)
        to_delete, to_patch = ids[:DELETES], ids[DELETES : DELETES + PATCHED]

        async def delete(contact_id: str, client: httpx.AsyncClient) -> None:
            response = await call(client, "DELETE", f"/api/v2/contacts/{contact_id}")
            if response.status_code == 204:
                ledger.live.pop(contact_id)
                ledger.deleted.add(contact_id)
            else:
                unexpected.append(f"delete -> {response.status_code} {response.text}")

        async def patch(contact_id: str, client: httpx.AsyncClient, body: dict[str, str]) -> None:
            response = await call(client, "PATCH", f"/api/v2/contacts/{contact_id}", json=body)
            if response.status_code == 200:
                stored = response.json()
                for name in body:  # the field as the server normalised it
                    ledger.live[contact_id][name] = stored[name]
            else:
                unexpected.append(f"patch -> {response.status_code} {response.text}")

        jobs = [delete(cid, clients[n % 2]) for n, cid in enumerate(to_delete)]
        for n, cid in enumerate(to_patch):
            jobs += [
                patch(cid, clients[n % 2], {"name": f"Renamed {n}"}),
                patch(cid, clients[(n + 1) % 2], {"phone": f"+1415555{n:04d}"}),
            ]
        jobs += [
            create(5000 + n, f"late{n}@example.com", clients[n % 2]) for n in range(LATE_CREATES)
        ]
        await asyncio.gather(*jobs)
        assert not unexpected, unexpected
        writes = CREATES + 2 * RACES + DELETES + 2 * PATCHED + LATE_CREATES
        assert writes >= 290

        # Every acknowledged write is visible, the same, from either replica.
        expected_live = CREATES + RACES - DELETES + LATE_CREATES
        assert len(ledger.live) == expected_live
        sample_live = sorted(ledger.live)[:: max(1, expected_live // 10)]
        sample_gone = sorted(ledger.deleted)[:10]
        for client in clients:
            listed: dict[str, dict[str, Any]] = {}
            offset = 0
            while True:
                page = await call(
                    client, "GET", "/api/v2/contacts", params={"limit": 100, "offset": offset}
                )
                # The unfiltered total is the account's counter, kept in each transaction.
                assert page.json()["total"] == expected_live
                data = page.json()["data"]
                listed |= {c["id"]: c for c in data}
                if len(data) < 100:
                    break
                offset += 100
            assert set(listed) == set(ledger.live)
            for contact_id, record in ledger.live.items():
                for name in ("name", "email", "phone"):
                    assert listed[contact_id][name] == record[name], (contact_id, name)
            # A filtered total counts the rows themselves.
            counted = await call(
                client, "GET", "/api/v2/contacts", params={"limit": 1, "search": "example.com"}
            )
            assert counted.json()["total"] == expected_live
            got = await asyncio.gather(
                *(call(client, "GET", f"/api/v2/contacts/{cid}") for cid in sample_live),
                *(call(client, "GET", f"/api/v2/contacts/{cid}") for cid in sample_gone),
            )
            for contact_id, response in zip(sample_live, got, strict=False):
                assert response.status_code == 200
                assert response.json()["name"] == ledger.live[contact_id]["name"]
            assert [r.status_code for r in got[len(sample_live) :]] == [404] * len(sample_gone)
        assert not unexpected, unexpected
