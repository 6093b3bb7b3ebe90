"""Upload memory benchmark: a 100 MiB file into a real server keeps the server's memory flat,
and the configured limit answers 413 without leaving a partial file.

    python -m bench.upload_memory [--size-mib 100] [--database-url URL]

Starts ``contacts-gateway serve`` in a subprocess (SQLite in a temporary directory by
default), measures the server's resident memory from /proc (VmRSS sampled every 10 ms, and
the kernel's high-water mark VmHWM) before and during the upload, downloads the file back
(also streamed), then sends three uploads over the limit: announced by Content-Length, chunked
without a length, and one byte over the limit inside an allowed body. After each refusal it
lists the blob directory: only the accepted files may be there, no staging files.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.http import free_port, wait_until_up

MIB = 1024 * 1024
BOUNDARY = "----bench-upload-boundary"


def proc_memory_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, in MiB, from /proc."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


class Sampler:
    """Samples a process's RSS in a thread; ``peak`` is the largest sample."""

    def __init__(self, pid: int, every_s: float = 0.01) -> None:
        self.pid, self.every_s, self.peak = pid, every_s, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, proc_memory_mib(self.pid)[0])
            time.sleep(self.every_s)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def file_chunks(size: int, chunk: int = MIB) -> Iterator[bytes]:
    """``size`` bytes of varied content, generated chunk by chunk (the client holds 1 MiB)."""
    block = bytearray(random.Random(size).randbytes(chunk))  # the same bytes on every call
    sent, n = 0, 0
    while sent < size:
        block[:8] = n.to_bytes(8, "big")  # every chunk differs
        piece = bytes(block[: min(chunk, size - sent)])
        sent += len(piece)
        n += 1
        yield piece


def multipart(size: int, filename: str = "big.bin") -> tuple[Iterator[bytes], int, str]:
    """A streamed multipart body with one file of ``size`` bytes: (chunks, length, sha256)."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    digest = hashlib.sha256()
    for piece in file_chunks(size):
        digest.update(piece)

    def body() -> Iterator[bytes]:
        yield head
        yield from file_chunks(size)
        yield tail

    return body(), len(head) + size + len(tail), digest.hexdigest()


def blob_listing(blob_dir: Path) -> list[str]:
    return sorted(p.name for p in blob_dir.iterdir()) if blob_dir.exists() else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=100, help="size of the big upload")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    args = parser.parse_args()
    size = args.size_mib * MIB
    limit = size  # the configured limit: the big file is exactly at it
    work = Path(tempfile.mkdtemp(prefix="cg-upload-bench-"))
    blob_dir = work / "blobs"
    env = {
        **os.environ,
        "CONTACTS_GATEWAY_DATABASE_URL": args.database_url
        or f"sqlite+aiosqlite:///{work / 'bench.db'}",
        "CONTACTS_GATEWAY_DATA_DIR": str(work),
        "CONTACTS_GATEWAY_BLOB_DIR": str(blob_dir),
        "CONTACTS_GATEWAY_MAX_UPLOAD_BYTES": str(limit),
        "CONTACTS_GATEWAY_LOG_LEVEL": "WARNING",
        "CONTACTS_GATEWAY_REQUEST_TIMEOUT_SECONDS": "600",
        "CONTACTS_GATEWAY_SCHEDULER_ENABLED": "false",
        "CONTACTS_GATEWAY_WEBHOOK_WORKER_ENABLED": "0",
        "CONTACTS_GATEWAY_RATE_LIMIT_ENABLED": "false",
    }
    cli = [sys.executable, "-c", "from contacts_gateway.cli import main; main()"]
    created = subprocess.run(
        [*cli, "keys", "create", "--account", "bench", "--scopes", "contacts:read,contacts:write"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    port = free_port()
    log = (work / "server.log").open("wb")
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    ok = True
    try:
        wait_until_up(f"{base}/healthz", server)
        client = httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=600)
        contact = client.post("/api/v2/contacts", json={"name": "Bench Person"}).json()
        url = f"/api/v2/contacts/{contact['id']}/attachments"
        # Warm up every code path once (imports, pools) before the baseline.
        warm = client.post(url, files={"file": ("warm.txt", b"warm up\n")})
        assert warm.status_code == 201, warm.text
        client.get(warm.json()["download_url"]).raise_for_status()
        baseline_rss, baseline_hwm = proc_memory_mib(server.pid)

        body, length, sha = multipart(size)
        started = time.perf_counter()
        with Sampler(server.pid) as sampler:
            response = client.post(
                url,
                content=body,
                headers={
                    "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                    "Content-Length": str(length),
                },
            )
        upload_s = time.perf_counter() - started
        assert response.status_code == 201, response.text
        stored = response.json()
        _, hwm_after_upload = proc_memory_mib(server.pid)

        digest, received = hashlib.sha256(), 0
        started = time.perf_counter()
        with (
            Sampler(server.pid) as download_sampler,
            client.stream("GET", stored["download_url"]) as download,
        ):
            for piece in download.iter_bytes(MIB):
                digest.update(piece)
                received += len(piece)
        download_s = time.perf_counter() - started

        print(f"server: {base} (pid {server.pid}), blob dir {blob_dir}")
        print(f"limit: {limit} bytes ({limit / MIB:.0f} MiB); upload {size / MIB:.0f} MiB")
        print(f"baseline RSS            {baseline_rss:8.1f} MiB   (VmHWM {baseline_hwm:.1f})")
        print(
            f"peak RSS during upload  {sampler.peak:8.1f} MiB   "
            f"(+{sampler.peak - baseline_rss:.1f} MiB; VmHWM {hwm_after_upload:.1f}, "
            f"+{hwm_after_upload - baseline_hwm:.1f})"
        )
        print(
            f"peak RSS during download{download_sampler.peak:8.1f} MiB   "
            f"(+{download_sampler.peak - baseline_rss:.1f} MiB)"
        )
        print(
            f"upload {size / MIB / upload_s:7.1f} MiB/s, download {received / MIB / download_s:7.1f} MiB/s"
        )
        same = stored["sha256"] == sha == digest.hexdigest() and received == size
        print(f"sha256 server = client = downloaded: {same}; size {stored['size']}")
        ok &= same and stored["size"] == size
        ok &= hwm_after_upload - baseline_hwm < size / MIB / 4

        before = blob_listing(blob_dir)
        total_before = client.get(url).json()["total"]
        print(f"blob dir before the refusals: {before}")

        def refused(label: str, response: httpx.Response) -> None:
            nonlocal ok
            listing = blob_listing(blob_dir)
            partial = [n for n in listing if n not in before]
            good = response.status_code == 413 and not partial
            ok &= good
            print(
                f"{label:58s} -> {response.status_code} "
                f"{response.json().get('detail', '')[:60]!r}; new files in blob dir: {partial}"
            )

        body, length, _ = multipart(limit + 4 * MIB)
        refused(
            "over the limit, announced by Content-Length",
            client.post(
                url,
                content=body,
                headers={
                    "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                    "Content-Length": str(length),
                },
            ),
        )
        body, _, _ = multipart(limit + 4 * MIB)
        refused(
            "over the limit, chunked (no Content-Length)",
            client.post(
                url,
                content=body,
                headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
            ),
        )
        body, length, _ = multipart(limit + 1)
        refused(
            "one byte over the limit (refused while writing the file)",
            client.post(
                url,
                content=body,
                headers={
                    "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                    "Content-Length": str(length),
                },
            ),
        )
        after = client.get(url).json()["total"]
        print(
            f"attachments before/after the refusals: {total_before}/{after}; "
            f"blob dir after: {blob_listing(blob_dir)}"
        )
        ok &= after == total_before and blob_listing(blob_dir) == before
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    print("RESULT:", "OK" if ok else "FAILED")
    if not ok:
        sys.stderr.write((work / "server.log").read_text()[-3000:])
        raise SystemExit(1)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
