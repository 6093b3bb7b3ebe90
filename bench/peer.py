"""PostGraphile (v4, from the npm registry) as a peer over the same PostgreSQL data.

Installed by the benchmark into ``bench/.peer`` (git-ignored), never a product dependency.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.http import free_port

PEER_VERSION = "4.9.2"
PEER_DIR = Path(__file__).resolve().parent / ".peer"

#: The same page as ours: 100 newest live contacts of the account, with the company name.
PEER_PAGE = (
    "query Page($account: String!) { allContacts(first: 100, orderBy: [CREATED_AT_DESC, ID_DESC], "
    "condition: {accountId: $account, deletedAt: null}) { nodes { id name email phone "
    "tags createdAt company: companyByCompanyId { id name } } pageInfo { endCursor hasNextPage } } }"
)
#: The same with ``totalCount`` (PostGraphile counts with COUNT(*); ours reads a counter).
PEER_PAGE_TOTAL = PEER_PAGE.replace("{ nodes {", "{ totalCount nodes {", 1)


class PeerUnavailable(Exception):
    """Why the peer cannot run (shown, then the peer cases are skipped)."""


def install() -> Path:
    """``npm install postgraphile`` into the scratch folder (once); the CLI's path."""
    binary = PEER_DIR / "node_modules" / ".bin" / "postgraphile"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        raise PeerUnavailable("npm is not installed")
    PEER_DIR.mkdir(parents=True, exist_ok=True)
    package = PEER_DIR / "package.json"
    if not package.exists():
        package.write_text('{"name": "bench-peer", "private": true}\n')
    try:
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", f"postgraphile@{PEER_VERSION}"],
            cwd=PEER_DIR,
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
    except subprocess.CalledProcessError as exc:
        raise PeerUnavailable(f"npm install failed: {exc.stderr.strip()[-500:]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise PeerUnavailable("npm install took more than 5 minutes") from exc
    if not binary.exists():
        raise PeerUnavailable(f"npm install did not produce {binary}")
    return binary


@contextmanager
def postgraphile(dsn: str) -> Iterator[str]:
    """Run PostGraphile against ``dsn``; yields its GraphQL endpoint URL."""
    binary = install()
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in finally)
    process = subprocess.Popen(
        [
            str(binary),
            "--connection",
            dsn,
            "--schema",
            "public",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--disable-query-log",
            "--disable-graphiql",
        ],
        cwd=PEER_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise PeerUnavailable(
                    "postgraphile exited: " + log.read().decode(errors="replace")[-800:]
                )
            try:
                r = httpx.post(url, json={"query": "{ __typename }"}, timeout=2.0)
                if r.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise PeerUnavailable("postgraphile did not answer within 60 s")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
