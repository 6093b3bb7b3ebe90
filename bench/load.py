"""Bounded load: many concurrent clients, mixed reads and writes, against one ``serve``.

    python -m bench.load [--seconds 60] [--clients 50] [--database-url URL]

Loopback only, fixed duration. Every client keeps a ledger of what the server
acknowledged (creates, renames, deletes); at the end the ledger is compared with the
database. Reports requests, status counts, latency, 5xx (must be 0), ledger mismatches
(must be 0) and the server's RSS at start and end. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HOST = "127.0.0.1"  # loopback only, by design


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cli(*args: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "contacts_gateway", *args], env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"contacts-gateway {args[0]} failed:\n{out.stderr[-3000:]}")
    return out.stdout.strip().splitlines()[-1]


@dataclass
class Ledger:
    """What the server acknowledged to one client: id -> name (None: deleted)."""

    contacts: dict[str, str | None] = field(default_factory=dict)


@dataclass
class Stats:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


async def _client(
    base_url: str, key: str, deadline: float, ledger: Ledger, stats: Stats, seed: int
) -> None:
    rnd = random.Random(seed)
    async with httpx.AsyncClient(
        base_url=base_url, headers={"X-API-Key": key}, timeout=30
    ) as client:
        while time.monotonic() < deadline:
            live = [cid for cid, name in ledger.contacts.items() if name is not None]
            roll = rnd.random()
            started = time.perf_counter()
            try:
                if roll < 0.30 or not live:
                    name = f"Load {uuid.uuid4().hex[:10]}"
                    r = await client.post(
                        "/api/v2/contacts",
                        json={"name": name, "tags": ["load", f"t{rnd.randint(0, 9)}"]},
                        headers={"Idempotency-Key": uuid.uuid4().hex},
                    )
                    if r.status_code == 201:
                        ledger.contacts[r.json()["id"]] = name
                elif roll < 0.45:
                    cid = rnd.choice(live)
                    name = f"Renamed {uuid.uuid4().hex[:10]}"
                    r = await client.patch(f"/api/v2/contacts/{cid}", json={"name": name})
                    if r.status_code == 200:
                        ledger.contacts[cid] = name
                elif roll < 0.50:
                    cid = rnd.choice(live)
                    r = await client.delete(f"/api/v2/contacts/{cid}")
                    if r.status_code == 204:
                        ledger.contacts[cid] = None
                elif roll < 0.70:
                    r = await client.get(f"/api/v2/contacts/{rnd.choice(live)}")
                elif roll < 0.85:
                    r = await client.get("/api/v2/contacts", params={"limit": 25, "search": "load"})
                else:
                    r = await client.post(
                        "/graphql",
                        json={
                            "query": "{ contacts(first: 10) { totalCount nodes { id name tags } } }"
                        },
                    )
            except httpx.HTTPError as exc:
                stats.errors[type(exc).__name__] += 1
                continue
            stats.latencies.append(time.perf_counter() - started)
            stats.statuses[r.status_code] += 1


async def _verify(base_url: str, key: str, ledgers: list[Ledger]) -> tuple[int, int]:
    """(checked, mismatches): every acknowledged write as the ledger says."""
    checked = mismatches = 0
    sem = asyncio.Semaphore(20)
    async with httpx.AsyncClient(base_url=base_url, headers={"X-API-Key": key}, timeout=30) as c:

        async def check(cid: str, name: str | None) -> bool:
            async with sem:
                r = await c.get(f"/api/v2/contacts/{cid}")
            if name is None:
                return r.status_code == 404
            return r.status_code == 200 and r.json()["name"] == name

        items = [(cid, name) for ledger in ledgers for cid, name in ledger.contacts.items()]
        results = await asyncio.gather(*(check(cid, name) for cid, name in items))
        checked, mismatches = len(results), results.count(False)
        total = (await c.get("/api/v2/contacts", params={"limit": 1})).json()["total"]
        live = sum(1 for _, name in items if name is not None)
        if total != live:
            print(f"  total {total} != {live} live contacts in the ledgers")
            mismatches += 1
    return checked, mismatches


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="load duration")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cg-load-"))
    url = args.database_url or f"sqlite+aiosqlite:///{work / 'load.db'}"
    env = {
        **os.environ,
        "CONTACTS_GATEWAY_DATA_DIR": str(work / "data"),
        "CONTACTS_GATEWAY_RATE_LIMIT_BURST": "1000000",
        "CONTACTS_GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
        "CONTACTS_GATEWAY_LOG_LEVEL": "WARNING",
    }
    key = _cli(
        "keys", "create", "--account", f"load-{uuid.uuid4().hex[:6]}",
        "--scopes", "contacts:read,contacts:write", "--database-url", url, env=env,
    )  # fmt: skip
    port = _free_port()
    base_url = f"http://{HOST}:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "contacts_gateway", "serve", "--host", HOST, "--port", str(port),
         "--database-url", url],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)
        rss_start = _rss_kib(server.pid)
        ledgers = [Ledger() for _ in range(args.clients)]
        stats = Stats()
        started = time.monotonic()

        samples: list[int] = []

        async def sample_rss(end: float) -> None:
            while time.monotonic() < end:
                samples.append(_rss_kib(server.pid))
                await asyncio.sleep(max(1.0, args.seconds / 10))

        async def run() -> None:
            end = time.monotonic() + args.seconds
            await asyncio.gather(
                sample_rss(end),
                *(_client(base_url, key, end, ledgers[i], stats, i) for i in range(args.clients)),
            )

        asyncio.run(run())
        elapsed = time.monotonic() - started
        rss_end = _rss_kib(server.pid)
        checked, mismatches = asyncio.run(_verify(base_url, key, ledgers))
    finally:
        server.terminate()
        server.wait(timeout=15)

    requests = sum(stats.statuses.values())
    server_errors = sum(n for s, n in stats.statuses.items() if s >= 500)
    lat = sorted(stats.latencies) or [0.0]
    print(f"load: {args.clients} clients, {elapsed:.0f} s, {url.split(':')[0]}")
    print(f"  requests        {requests} ({requests / elapsed:.0f}/s)")
    print(f"  statuses        {dict(sorted(stats.statuses.items()))}")
    print(f"  5xx             {server_errors}")
    print(f"  transport errs  {dict(stats.errors) or 0}")
    print(
        f"  latency ms      p50 {statistics.median(lat) * 1000:.1f}  "
        f"p99 {lat[int(len(lat) * 0.99) - 1] * 1000:.1f}  max {lat[-1] * 1000:.1f}"
    )
    print(f"  ledger          {checked} acknowledged writes checked, {mismatches} mismatches")
    print(f"  server RSS MiB  start {rss_start / 1024:.1f}  end {rss_end / 1024:.1f}")
    print("  RSS samples     " + " ".join(f"{kib / 1024:.0f}" for kib in samples))
    ok = server_errors == 0 and mismatches == 0 and not stats.errors
    print("  result          " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
