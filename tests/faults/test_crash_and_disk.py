"""Faults: SIGKILL during 1,000 concurrent creates, a held SQLite write lock, a full disk.

These run real ``serve`` processes on an SQLite file (the embedded default, where a crash
and the file system matter most); PostgreSQL's durability is PostgreSQL's.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from contacts_gateway.app import create_app
from contacts_gateway.settings import Settings
from db.engine import make_engine
from tests.faults._server import Server
from tests.rest._support import assert_problem

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore")]

CREATES = 1_000
KILL_AFTER = 50  # acknowledged creates before the SIGKILL (the rest are in flight or queued)


def _sqlite_only(dialect: str) -> None:
    if dialect != "sqlite":
        pytest.skip("file-level faults of the embedded SQLite database (PostgreSQL: its own)")


def _db_path(database_url: str) -> Path:
    return Path(sa.make_url(database_url).database or "")


def _check_consistency(path: Path) -> dict[str, Any]:
    """integrity_check, tags rows for every contact, counters equal to row counts."""
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        half_written = db.execute(
            """SELECT c.id FROM contact c WHERE json_array_length(c.tags) <>
               (SELECT count(*) FROM contact_tag t WHERE t.contact_id = c.id)"""
        ).fetchall()
        assert half_written == [], f"contacts without their tag rows: {half_written[:5]}"
        counters = db.execute(
            """SELECT a.id, a.contact_count,
                      (SELECT count(*) FROM contact c WHERE c.account_id = a.id AND c.deleted_at IS NULL)
               FROM account a"""
        ).fetchall()
        for account, counter, rows in counters:
            assert counter == rows, f"account {account}: counter {counter} != {rows} rows"
        ids = {r[0] for r in db.execute("SELECT id FROM contact")}
        return {"ids": ids}
    finally:
        db.close()


async def test_sigkill_during_concurrent_creates_loses_no_acknowledged_write(
    dialect: str, database_url: str, key: str, tmp_path: Path
) -> None:
    _sqlite_only(dialect)
    server = Server(database_url, tmp_path / "data")
    server.start()
    acknowledged: dict[str, str] = {}  # id -> email
    failures: list[str] = []
    killed = asyncio.Event()
    busy = 0

    async def create(client: httpx.AsyncClient, i: int) -> None:
        email = f"crash{i}@example.com"
        try:
            r = await client.post(
                "/api/v2/contacts",
                json={"name": f"Crash {i}", "email": email, "tags": [f"t{i}", "crash"]},
            )
        except httpx.HTTPError:
            return  # the server died under it: not acknowledged
        if r.status_code == 201:
            acknowledged[r.json()["id"]] = email
            if len(acknowledged) >= KILL_AFTER and not killed.is_set():
                killed.set()
                server.kill()
        elif r.status_code == 503:  # busy is an honest answer (not acknowledged)
            nonlocal busy
            busy += 1
        else:
            failures.append(f"{r.status_code} {r.text[:200]}")

    try:
        # 1,000 creates at once; 20 connections carry them (the rest queue in the client),
        # so the server is busy writing, not shedding load, when it dies.
        limits = httpx.Limits(max_connections=20)
        timeout = httpx.Timeout(30, pool=None)
        async with httpx.AsyncClient(
            base_url=server.base_url, headers={"X-API-Key": key}, limits=limits, timeout=timeout
        ) as client:
            await asyncio.gather(*(create(client, i) for i in range(CREATES)))
        assert killed.is_set(), (
            f"the server finished before the kill ({len(acknowledged)} acknowledged, "
            f"{busy} busy): raise CREATES"
        )
        assert not failures, failures[:5]

        # Restart on the same file: every acknowledged write is there, nothing half-written.
        server.start()
        state = _check_consistency(_db_path(database_url))
        missing = set(acknowledged) - state["ids"]
        assert not missing, f"{len(missing)} acknowledged creates lost: {sorted(missing)[:5]}"
        async with httpx.AsyncClient(base_url=server.base_url, headers={"X-API-Key": key}) as c:
            total = (await c.get("/api/v2/contacts")).json()["total"]
            assert total == len(state["ids"]) >= len(acknowledged)
            sample = next(iter(acknowledged))
            got = (await c.get(f"/api/v2/contacts/{sample}")).json()
            assert got["email"] == acknowledged[sample] and "crash" in got["tags"]
        print(
            f"\nSIGKILL after {len(acknowledged)} acknowledged creates; {total} rows after restart"
        )
    finally:
        server.stop()


async def test_held_write_lock_gives_503_then_the_retry_succeeds(
    dialect: str, database_url: str, key: str, tmp_path: Path
) -> None:
    _sqlite_only(dialect)
    server = Server(database_url, tmp_path / "data", CONTACTS_GATEWAY_SQLITE_BUSY_TIMEOUT_MS="300")
    server.start()
    try:
        async with httpx.AsyncClient(
            base_url=server.base_url, headers={"X-API-Key": key}, timeout=10
        ) as client:
            holder = sqlite3.connect(_db_path(database_url), isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            try:
                started = time.monotonic()
                busy = await client.post("/api/v2/contacts", json={"name": "Blocked"})
                waited = time.monotonic() - started
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            body = assert_problem(busy, 503, "unavailable")
            assert busy.headers["Retry-After"] == "1" and "busy" in body["detail"]
            assert waited > 0.25  # the busy timeout was honoured before giving up
            retry = await client.post("/api/v2/contacts", json={"name": "Blocked"})
            assert retry.status_code == 201
            assert (await client.get("/api/v2/contacts")).json()["total"] == 1
    finally:
        server.stop()


async def test_full_disk_is_a_clear_error_and_corrupts_nothing(
    dialect: str, database_url: str, key: str, tmp_path: Path
) -> None:
    _sqlite_only(dialect)
    path = _db_path(database_url)
    engine = make_engine(database_url)
    limit: dict[str, int] = {}

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _cap(dbapi_connection: Any, _record: Any) -> None:
        # SQLite's page cap: the file may not grow past what it has now plus a few pages.
        if "pages" in limit:
            dbapi_connection.execute(f"PRAGMA max_page_count = {limit['pages']}")

    app = create_app(Settings(database_url=database_url, data_dir=tmp_path), engine=engine)
    headers = {"X-API-Key": key}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://t",
            headers=headers,
        ) as client:
            assert (
                await client.post("/api/v2/contacts", json={"name": "Before"})
            ).status_code == 201
            await engine.dispose()
            with sqlite3.connect(path) as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                limit["pages"] = db.execute("PRAGMA page_count").fetchone()[0] + 2
            statuses: list[int] = []
            full = None
            for i in range(200):
                r = await client.post(
                    "/api/v2/contacts",
                    json={
                        "name": "Filler " + "x" * 200,
                        "tags": [f"tag{i}-{j}" for j in range(40)],
                    },
                )
                statuses.append(r.status_code)
                if r.status_code != 201:
                    full = r
                    break
            assert full is not None, "the database never filled up"
            body = assert_problem(full, 503, "unavailable")
            assert "out of space" in body["detail"] and full.headers["Retry-After"] == "60"
            assert "sqlite" not in full.text.lower() and "Traceback" not in full.text
            listed = (await client.get("/api/v2/contacts?limit=100")).json()
            assert listed["total"] == statuses.count(201) + 1
        await engine.dispose()
        state = _check_consistency(path)
        assert len(state["ids"]) == statuses.count(201) + 1
        # With room again, writes work.
        limit.clear()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://t",
            headers=headers,
        ) as client:
            assert (
                await client.post("/api/v2/contacts", json={"name": "After"})
            ).status_code == 201
    finally:
        await engine.dispose()
