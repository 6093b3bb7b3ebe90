"""Webhook delivery: events delivered per second, and the delay from commit to delivery.

    python -m bench.webhooks_bench [--events 2000] [--endpoints 4] [--latency-events 300]
                                   [--database-url URL]

A receiver runs in its own process on 127.0.0.1 (it answers 200 and logs when each delivery
arrived). Two phases, with one delivery worker in this process (as inside ``serve``):

1. backlog: ``--events`` contacts are created (one transaction each) with the worker
   stopped, then the worker starts; reports deliveries/s and events/s until all arrived.
2. latency: with the worker running, ``--latency-events`` contacts are created ~every 10 ms;
   reports the commit → arrival delay (p50, p95, max).

Defaults to a fresh SQLite file in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from contacts_gateway.pubsub import EventHub
from contacts_gateway.settings import Settings
from contacts_gateway.worker import DeliveryWorker
from db.engine import make_engine
from db.migrate import upgrade
from db.uow import UnitOfWork
from resolvers import contacts, keys, webhooks
from resolvers.context import RequestContext
from resolvers.scopes import ALL_SCOPES


def receive(port: int, log_path: str) -> None:
    """The receiver process: 200 to every POST, one line "<path> <contact id> <time>" each."""
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 (lives as long as the process)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            arrived = time.time()
            obj = json.loads(body)["data"]["object"]
            log.write(f"{self.path} {obj.get('id')} {arrived:.6f}\n")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def arrivals(log_path: Path) -> list[tuple[str, str, float]]:
    lines = log_path.read_text().splitlines() if log_path.exists() else []
    out = []
    for line in lines:
        path, cid, at = line.split(" ")
        out.append((path, cid, float(at)))
    return out


def arrived_count(log_path: Path) -> int:
    return log_path.read_bytes().count(b"\n") if log_path.exists() else 0


async def wait_for(log_path: Path, count: int, limit: float) -> list[tuple[str, str, float]]:
    """Every arrival once ``count`` have arrived. The receiver stamps each one itself, so
    polling the log cheaply (counting lines) and not too often costs the worker nothing."""
    deadline = time.monotonic() + limit
    while True:
        arrived = arrived_count(log_path)
        if arrived >= count:
            return arrivals(log_path)
        if time.monotonic() > deadline:
            raise SystemExit(f"only {arrived} of {count} deliveries arrived in {limit} s")
        await asyncio.sleep(0.05)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="cg-webhooks-bench-"))
    url = args.database_url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    os.environ["CONTACTS_GATEWAY_ALLOW_PRIVATE_URLS"] = "1"
    settings = Settings(database_url=url, allow_private_urls=True)
    engine = make_engine(url)
    await upgrade(engine)
    port = free_port()
    log_path = tmp / "arrivals.log"
    receiver = subprocess.Popen(  # noqa: ASYNC220 (set-up, before anything is measured)
        [sys.executable, "-m", "bench.webhooks_bench", "--receiver", str(port), str(log_path)]
    )
    hub = EventHub(engine, poll_seconds=settings.events_poll_seconds)
    worker = DeliveryWorker(engine, settings, hub=hub)
    try:
        uow = UnitOfWork(engine)
        raw, _ = await keys.create_key(
            uow, account_name=f"bench-{os.getpid()}", scopes=list(ALL_SCOPES)
        )
        await uow.commit()
        await uow.close()
        principal = await keys.authenticate(engine, raw)

        async def in_transaction(fn):  # type: ignore[no-untyped-def]
            uow = UnitOfWork(engine)
            try:
                result = await fn(RequestContext(uow=uow, principal=principal))
                await uow.commit()
                return result
            finally:
                await uow.close()

        for i in range(args.endpoints):
            await in_transaction(
                lambda ctx, i=i: webhooks.create_webhook(
                    ctx, data={"url": f"http://127.0.0.1:{port}/ep{i}", "events": ["contact.*"]}
                )
            )
        deadline = time.monotonic() + 30
        while True:  # the receiver process is listening
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)

        # 1. backlog
        started = time.perf_counter()
        for i in range(args.events):
            await in_transaction(
                lambda ctx, i=i: contacts.create_contact(ctx, data={"name": f"Backlog {i}"})
            )
        commit_seconds = time.perf_counter() - started
        expected = args.events * args.endpoints
        await hub.start()
        t0 = time.perf_counter()
        await worker.start()
        await wait_for(log_path, expected, limit=600)
        drain = time.perf_counter() - t0
        print(f"database: {engine.url.get_backend_name()}; endpoints: {args.endpoints}")
        print(
            f"backlog: {args.events} events committed in {commit_seconds:.1f} s "
            f"({args.events / commit_seconds:.0f} commits/s with their outbox rows)"
        )
        print(
            f"backlog delivered: {expected} deliveries in {drain:.2f} s = "
            f"{expected / drain:.0f} deliveries/s, {args.events / drain:.0f} events/s"
        )

        # 2. latency, worker running
        before = len(arrivals(log_path))
        committed: dict[str, float] = {}
        for i in range(args.latency_events):
            record = await in_transaction(
                lambda ctx, i=i: contacts.create_contact(ctx, data={"name": f"Live {i}"})
            )
            committed[record.id] = time.time()
            await asyncio.sleep(0.01)
        got = await wait_for(log_path, before + args.latency_events * args.endpoints, 120)
        delays = [(at - committed[cid]) * 1000 for _, cid, at in got[before:] if cid in committed]
        print(
            f"commit → delivery ({len(delays)} deliveries, ~100 events/s offered): "
            f"p50 {pct(delays, 50):.1f} ms, p95 {pct(delays, 95):.1f} ms, "
            f"max {max(delays):.1f} ms, mean {statistics.fmean(delays):.1f} ms"
        )
    finally:
        await worker.stop()
        await hub.stop()
        receiver.terminate()
        receiver.wait()
        await engine.dispose()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--receiver":
        receive(int(sys.argv[2]), sys.argv[3])
        raise SystemExit(0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--endpoints", type=int, default=4)
    parser.add_argument("--latency-events", type=int, default=300)
    parser.add_argument("--database-url", default=None)
    asyncio.run(main(parser.parse_args()))
