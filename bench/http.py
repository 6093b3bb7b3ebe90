"""Over-HTTP cases: a real server process on a free loopback port, driven by httpx (or wrk)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.measure import Sample


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_up(url: str, process: subprocess.Popen[bytes], deadline_s: float = 60.0) -> None:
    """Poll ``url`` until it answers 200, the process dies, or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {deadline_s:.0f} s")


@contextmanager
def server(database_url: str) -> Iterator[str]:
    """``contacts-gateway serve`` (uvicorn, one worker) in a subprocess; yields its base URL.

    Logging is at WARNING so the one-line-per-request access log is not what is measured.
    """
    port = free_port()
    env = {
        **os.environ,
        "CONTACTS_GATEWAY_DATABASE_URL": database_url,
        "CONTACTS_GATEWAY_LOG_LEVEL": "WARNING",
        "CONTACTS_GATEWAY_GRAPHQL_IDE": "false",
    }
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in finally)
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from contacts_gateway.cli import main; main()",
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_up(f"{base}/healthz", process)
        except RuntimeError:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])
            raise
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@dataclass(frozen=True)
class Call:
    """One request to repeat."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any = None


def latency(
    client: httpx.Client,
    call: Call,
    *,
    min_runs: int = 50,
    budget_s: float = 2.0,
    max_runs: int = 400,
) -> Sample:
    """Unloaded latency: one request at a time, at least ``min_runs``, bounded by time."""
    sample = Sample()
    for _ in range(3):
        _send(client, call)
    started = time.perf_counter()
    while sample.n < min_runs or (sample.n < max_runs and time.perf_counter() - started < budget_s):
        t0 = time.perf_counter()
        _send(client, call)
        sample.times_ms.append((time.perf_counter() - t0) * 1000)
    return sample


def _send(client: httpx.Client, call: Call) -> None:
    response = client.request(call.method, call.path, headers=call.headers, json=call.json)
    if response.status_code != 200 or b'"errors"' in response.content[:20]:
        raise RuntimeError(f"{call.path}: {response.status_code} {response.text[:300]}")


@dataclass
class Throughput:
    """Requests per second at a fixed concurrency, and the latencies seen meanwhile."""

    rps: float
    p50: float
    p90: float
    tool: str


def throughput(base: str, call: Call, *, seconds: float = 4.0, connections: int = 8) -> Throughput:
    """Drive ``call`` for a fixed time with ``connections`` concurrent clients (wrk if installed)."""
    if shutil.which("wrk") and call.method == "GET" and not call.json:
        return _wrk(base, call, seconds, connections)
    return asyncio.run(_httpx_load(base, call, seconds, connections))


async def _httpx_load(base: str, call: Call, seconds: float, connections: int) -> Throughput:
    sample = Sample()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0) as client:
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                r = await client.request(
                    call.method, call.path, headers=call.headers, json=call.json
                )
                if r.status_code != 200:
                    raise RuntimeError(f"{call.path}: {r.status_code}")
                sample.times_ms.append((time.perf_counter() - t0) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return Throughput(
        rps=sample.n / elapsed,
        p50=sample.median,
        p90=sample.p90,
        tool=f"httpx, {connections} conns",
    )


def _wrk(base: str, call: Call, seconds: float, connections: int) -> Throughput:
    headers: list[str] = []
    for k, v in call.headers.items():
        headers += ["-H", f"{k}: {v}"]
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, int(seconds))}s",
            "--latency",
            *headers,
            base + call.path,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = 0.0
    p50 = p90 = float("nan")
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            rps = float(parts[1])
        elif parts[:1] == ["50%"]:
            p50 = _wrk_ms(parts[1])
        elif parts[:1] == ["90%"]:
            p90 = _wrk_ms(parts[1])
    return Throughput(rps=rps, p50=p50, p90=p90, tool=f"wrk, {connections} conns")


def _wrk_ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


def peer_dir() -> Path:
    """Scratch folder for the PostGraphile install (git-ignored)."""
    return Path(__file__).resolve().parent / ".peer"
