"""Sync 100,000 contacts from the fake Freshdesk (in a subprocess) and report throughput and memory.

    python -m bench.sync_100k [--contacts 100000] [--mode manual|full] [--database-url URL]

Prints records/second and this process's memory (current RSS and its high-water mark) at
10k, 50k and 100k records: the engine streams pages and writes batches, so memory must stay
flat as the count grows. Defaults to a fresh SQLite file in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from contacts_gateway.scheduler import sync_options_from
from contacts_gateway.settings import Settings
from db.engine import make_engine
from db.migrate import upgrade
from db.uow import UnitOfWork
from providers.fake_server import FRESHDESK_API_KEY
from resolvers import keys, sync, sync_settings
from resolvers.context import Principal, RequestContext
from resolvers.scopes import ALL_SCOPES
from resolvers.sync import SyncProgress

CHECKPOINTS = (10_000, 50_000, 100_000)


def memory_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MiB, from /proc (Linux)."""
    values = {"VmRSS": 0.0, "VmHWM": 0.0}
    with open("/proc/self/status") as status:
        for line in status:
            key = line.split(":", 1)[0]
            if key in values:
                values[key] = int(line.split()[1]) / 1024
    return values["VmRSS"], values["VmHWM"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_fake(contacts: int, port: int) -> subprocess.Popen[bytes]:
    """The fake Freshdesk in its own process (its memory is not ours)."""
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "providers.fake_server", "freshdesk"),
            *("--port", str(port), "--contacts", str(contacts)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/__stats", timeout=1).raise_for_status()
            return process
        except httpx.HTTPError:
            if process.poll() is not None:
                raise RuntimeError("the fake provider exited") from None
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the fake provider did not start")


async def run(contacts: int, mode: str, database_url: str, port: int) -> None:
    os.environ["CONTACTS_GATEWAY_ALLOW_PRIVATE_URLS"] = "1"
    settings = Settings(
        database_url=database_url,
        data_dir=Path(tempfile.mkdtemp(prefix="sync-bench-key-")),
        allow_private_urls=True,
    )
    options = sync_options_from(settings)
    engine = make_engine(database_url)
    try:
        await upgrade(engine)
        uow = UnitOfWork(engine)
        _, key = await keys.create_key(uow, account_name="bench", scopes=list(ALL_SCOPES))
        principal = Principal(key.account_id, key.id, key.prefix, frozenset(ALL_SCOPES))
        await sync_settings.update_sync_settings(
            RequestContext(uow=uow, principal=principal),
            data={
                "provider": {
                    "type": "freshdesk",
                    "domain": "fake.freshdesk.com",
                    "api_key": FRESHDESK_API_KEY,
                    "base_url": f"http://127.0.0.1:{port}",
                }
            },
            secret_key=options.secret_key,
            allow_private_urls=True,
        )
        await uow.commit()
        await uow.close()

        rss0, _ = memory_mb()
        print(f"baseline RSS {rss0:.1f} MiB; syncing {contacts:,} contacts ({mode})")
        print(f"{'records':>9} {'seconds':>8} {'rec/s':>8} {'RSS MiB':>8} {'peak MiB':>9}")
        started = time.monotonic()
        pending = [c for c in CHECKPOINTS if c <= contacts] or [contacts]

        def report(progress: SyncProgress) -> None:
            while pending and progress.records >= pending[0]:
                elapsed = time.monotonic() - started
                rss, peak = memory_mb()
                print(
                    f"{progress.records:>9,} {elapsed:>8.1f} {progress.records / elapsed:>8,.0f}"
                    f" {rss:>8.1f} {peak:>9.1f}",
                    flush=True,
                )
                pending.pop(0)

        record = await sync.run_sync(
            engine,
            account_id=key.account_id,
            mode=mode,
            trigger="manual",
            options=options,
            progress=report,
        )
        elapsed = time.monotonic() - started
        rss, peak = memory_mb()
        records = record.details.get("stats", {}).get("records", 0)
        print(
            f"{record.status}: created {record.created:,}, updated {record.updated:,},"
            f" skipped {record.skipped:,}, deleted {record.deleted:,}, failed {record.failed:,}"
        )
        print(
            f"total {elapsed:.1f} s, {records / elapsed:,.0f} records/s;"
            f" RSS {rss:.1f} MiB, peak {peak:.1f} MiB (baseline {rss0:.1f} MiB)"
        )
        if record.error:
            print(f"error: {record.error}")
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--mode", choices=("manual", "full"), default="manual")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="sync-bench-"))
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    port = free_port()
    started = time.monotonic()
    fake = start_fake(args.contacts, port)
    print(
        f"fake Freshdesk with {args.contacts:,} contacts ready in {time.monotonic() - started:.1f} s"
    )
    try:
        asyncio.run(run(args.contacts, args.mode, url, port))
    finally:
        fake.terminate()
        fake.wait(10)


if __name__ == "__main__":
    main()
