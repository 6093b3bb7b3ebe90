"""One benchmark process run: load data, measure the floor and every case, print and save."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import data as bench_data
from bench.cases import (
    GRAPHQL_GET,
    GRAPHQL_PAGE,
    AiosqliteFloor,
    InProcess,
    PostgresFloor,
    SqliteFloor,
    asyncpg_dsn,
    sqlite_path,
)
from bench.http import Call, latency, server, throughput
from bench.measure import Sample, measure_async, measure_sync
from db.engine import make_engine
from db.migrate import upgrade
from db.records import ListFilter
from db.uow import UnitOfWork
from resolvers import keys as key_use_cases
from resolvers.context import Principal
from resolvers.pagination import PageRequest

T = TypeVar("T")
console = Console(stderr=True)
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/contacts_bench"
DATA_DIR = Path(__file__).resolve().parent / ".data"

#: Targets from the issue, as ratios (to the floor unless the case says otherwise).
TARGETS: dict[str, float] = {
    "rest_page_total": 8,
    "graphql_page_company": 15,
    "graphql_vs_rest_page_rps": 2,
    "graphql_vs_rest_page_p50": 2,
    "search_page_common": 30,
    "search_page_rare": 30,
    "search_page_none": 30,
    "search_total_common": 15,
    "search_total_rare": 15,
    "search_total_none": 15,
    "tag_total": 5,
    "tag_page": 25,
    "graphql_cursor_page_500k_vs_first": 2,
    "rest_offset_500000": 100,
    "graphql_vs_postgraphile_p50": 1,
    "graphql_vs_postgraphile_rps": 1,
}


def _run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    try:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro_fn())
    except ImportError:
        return asyncio.run(coro_fn())  # type: ignore[arg-type]


@dataclass
class Entry:
    """One row of the results."""

    backend: str
    case: str
    median_ms: float | None
    p90_ms: float | None
    ratio: float | None
    n: int = 0
    note: str = ""
    rps: float | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "case": f"{self.backend}:{self.case}",
            "median_ms": _r(self.median_ms),
            "p90_ms": _r(self.p90_ms),
            "ratio": _r(self.ratio),
            "backend": self.backend,
            "n": self.n,
        }
        if self.case in TARGETS:
            out["target"] = TARGETS[self.case]
            out["met"] = self.ratio is not None and self.ratio <= TARGETS[self.case]
        if self.rps is not None:
            out["rps"] = _r(self.rps)
        if self.note:
            out["note"] = self.note
        return out


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@dataclass
class Prepared:
    url: str
    backend: str
    raw_key: str
    principal: Principal
    load: dict[str, float] = field(default_factory=dict)
    reused: bool = False


async def _prepare(url: str, contacts: int, regenerate: bool) -> Prepared:
    """Migrate, make sure the bench account holds exactly ``contacts`` contacts, create a key."""
    backend = make_url(url).get_backend_name()
    if backend == "postgresql":
        await _ensure_pg_database(url)
    engine = make_engine(url)
    try:
        await upgrade(engine)
        existing = await _bench_count(engine)
        reused = existing == contacts and not regenerate
        if not reused and existing is not None:
            await _wipe(engine, url)
        raw, record = await _new_key(engine)
        timings: dict[str, float] = {}
        if not reused:
            console.print(f"[bold]{backend}[/]: generating {contacts:,} contacts…")
            t0 = time.perf_counter()
            rows = bench_data.generate(record.account_id, contacts, sqlite=backend == "sqlite")
            timings["generate_s"] = time.perf_counter() - t0

            def progress(msg: str) -> None:
                console.print(f"  {backend}: {msg}  ({time.perf_counter() - t0:.1f} s)")

            if backend == "sqlite":
                await engine.dispose()
                timings |= await asyncio.to_thread(
                    bench_data.load_sqlite, sqlite_path(url), rows, progress
                )
            else:
                import asyncpg

                conn = await asyncpg.connect(asyncpg_dsn(url))
                try:
                    timings |= await bench_data.load_postgres(conn, rows, progress)
                finally:
                    await conn.close()
            timings["total_s"] = time.perf_counter() - t0
            console.print(f"  {backend}: loaded in {timings['total_s']:.1f} s {_fmt(timings)}")
        else:
            console.print(f"[bold]{backend}[/]: reusing {contacts:,} bench contacts")
        principal = await key_use_cases.authenticate(engine, raw)
        return Prepared(url, backend, raw, principal, timings, reused)
    finally:
        await engine.dispose()


def _fmt(timings: dict[str, float]) -> str:
    return (
        "(" + ", ".join(f"{k[:-2]} {v:.1f} s" for k, v in timings.items() if k != "total_s") + ")"
    )


async def _ensure_pg_database(url: str) -> None:
    import asyncpg

    target = make_url(url)
    admin = asyncpg_dsn(str(target.set(database="postgres")))
    conn = await asyncpg.connect(admin)
    try:
        exists = await conn.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", target.database
        )
        if not exists:
            await conn.execute(f'CREATE DATABASE "{target.database}"')
    finally:
        await conn.close()


async def _bench_count(engine: AsyncEngine) -> int | None:
    """The bench account's counter, or None when the database has no bench account."""
    import sqlalchemy as sa

    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.text("SELECT contact_count FROM account WHERE name = :n"),
                {"n": bench_data.ACCOUNT},
            )
        ).first()
        others = await conn.scalar(
            sa.text("SELECT count(*) FROM account WHERE name <> :n"), {"n": bench_data.ACCOUNT}
        )
    if others:
        raise SystemExit(
            f"{engine.url.render_as_string()} holds other accounts: the bench only loads into "
            "an empty database or its own"
        )
    return None if row is None else int(row[0])


async def _wipe(engine: AsyncEngine, url: str) -> None:
    """Empty the bench database (it holds only the bench account: checked before)."""
    import sqlalchemy as sa

    async with engine.begin() as conn:
        for table in ("contact_tag", "company_tag", "contact", "company", "api_key", "account"):
            await conn.execute(sa.text(f"DELETE FROM {table}"))


async def _new_key(engine: AsyncEngine) -> tuple[str, Any]:
    uow = UnitOfWork(engine)
    try:
        raw, record = await key_use_cases.create_key(
            uow, account_name=bench_data.ACCOUNT, scopes=["contacts:read", "contacts:write"]
        )
        await uow.commit()
        return raw, record
    finally:
        await uow.close()


class BackendRun:
    """Every measurement for one database, in this process."""

    def __init__(self, prepared: Prepared, http_seconds: float, peer: bool) -> None:
        self.p = prepared
        self.backend = prepared.backend
        self.http_seconds = http_seconds
        self.peer = peer
        self.floors: list[Sample] = []
        self.entries: list[Entry] = []
        self.samples: dict[str, Sample] = {}

    # -- floor ------------------------------------------------------------------------
    def floor(self, label: str) -> None:
        account_id = self.p.principal.account_id
        if self.backend == "sqlite":
            f = SqliteFloor(sqlite_path(self.p.url), account_id)
            try:
                sample = measure_sync(f, min_runs=200, budget_s=1.0, max_runs=2000)
            finally:
                f.close()
        else:

            async def go() -> Sample:
                import asyncpg

                conn = await asyncpg.connect(asyncpg_dsn(self.p.url))
                try:
                    return await measure_async(
                        PostgresFloor(conn, account_id), min_runs=200, budget_s=1.0, max_runs=2000
                    )
                finally:
                    await conn.close()

            sample = _run(go)
        self.floors.append(sample)
        console.print(f"  {self.backend}: floor ({label}) {sample.median:.3f} ms (n={sample.n})")

    @property
    def floor_ms(self) -> float:
        return statistics.median(s.median for s in self.floors)

    # -- in-process ---------------------------------------------------------------------
    def in_process(self) -> None:
        async def go() -> None:
            engine = make_engine(self.p.url)
            try:
                await self._in_process(InProcess(engine, self.p.principal))
            finally:
                await engine.dispose()

        _run(go)

    async def _in_process(self, ip: InProcess) -> None:
        page = PageRequest(limit=100, with_total=False)
        with_total = PageRequest.rest(100, 0)
        cursor_500k, _ = await ip.keyset_at(
            499_999 if self._contacts() > 500_000 else self._contacts() // 2
        )
        company_id = await self._busy_company(ip)
        cases: list[tuple[str, Callable[[], Awaitable[Any]], float]] = [
            ("rest_page_total", ip.rest_list(ListFilter(), with_total), 1.5),
            ("rest_page", ip.rest_list(ListFilter(), page), 1.0),
            ("graphql_page_company", ip.graphql(GRAPHQL_PAGE, {}), 2.0),
        ]
        for label, term in (
            ("common", bench_data.COMMON_TERM),
            ("rare", bench_data.RARE_TERM),
            ("none", bench_data.MISSING_TERM),
            ("short", "jo"),
        ):
            cases.append((f"search_page_{label}", ip.rest_list(ListFilter(search=term), page), 1.5))
            if label != "short":  # a 2-letter total is a full scan by design: not a case
                cases.append((f"search_total_{label}", ip.count(ListFilter(search=term)), 1.0))
        tags = ListFilter(tags=[bench_data.COMMON_TAG])
        cases += [
            ("tag_total", ip.count(tags), 1.0),
            ("tag_page", ip.rest_list(tags, page), 1.0),
            (
                "company_page_total",
                ip.rest_list(ListFilter(company_id=company_id), with_total),
                1.0,
            ),
            ("graphql_cursor_page_500k", ip.graphql(GRAPHQL_PAGE, {"after": cursor_500k}), 2.0),
            ("rest_offset_500000", ip.rest_list(ListFilter(), PageRequest.rest(100, 500_000)), 3.0),
        ]
        for name, fn, budget in cases:
            sample = await measure_async(fn, budget_s=budget)
            self._add(name, sample)
        if self.backend == "sqlite":
            import aiosqlite

            async with aiosqlite.connect(sqlite_path(self.p.url)) as conn:
                raw = AiosqliteFloor(conn, self.p.principal.account_id)
                self._add(
                    "diag_raw_aiosqlite_page",
                    await measure_async(raw, budget_s=1.0),
                    "the floor's SQL via raw aiosqlite: the cost of the thread hand-off",
                )
        first = self.samples["graphql_page_company"].median
        deep = self.samples["graphql_cursor_page_500k"]
        self.entries.append(
            Entry(
                self.backend,
                "graphql_cursor_page_500k_vs_first",
                deep.median,
                deep.p90,
                deep.median / first,
                deep.n,
                "ratio to the GraphQL first page of the same run",
            )
        )

    def _contacts(self) -> int:
        return self._n

    async def _busy_company(self, ip: InProcess) -> str:
        import sqlalchemy as sa

        async with ip.engine.connect() as conn:
            value = await conn.scalar(
                sa.text(
                    "SELECT company_id FROM contact WHERE account_id = :a AND company_id IS NOT NULL "
                    "ORDER BY created_at DESC LIMIT 1"
                ),
                {"a": self.p.principal.account_id},
            )
        return str(value)

    def _add(self, name: str, sample: Sample, note: str = "") -> None:
        self.samples[name] = sample
        self.entries.append(
            Entry(self.backend, name, sample.median, sample.p90, None, sample.n, note)
        )
        console.print(
            f"  {self.backend}: {name:<34} {sample.median:9.3f} ms  p90 {sample.p90:9.3f}  n={sample.n}"
        )

    # -- over HTTP ----------------------------------------------------------------------------
    def over_http(self) -> None:
        headers = {"X-API-Key": self.p.raw_key}
        rest_page = Call("GET", "/api/v2/contacts?limit=100", headers)
        gql_page = Call(
            "POST",
            "/graphql",
            headers,
            {"query": GRAPHQL_PAGE.replace("pageInfo {", "totalCount pageInfo {"), "variables": {}},
        )
        with server(self.p.url) as base, httpx.Client(base_url=base, timeout=30.0) as client:
            some_id = client.get("/api/v2/contacts?limit=1", headers=headers).json()["data"][0][
                "id"
            ]
            rest_get = Call("GET", f"/api/v2/contacts/{some_id}", headers)
            gql_get = Call(
                "POST", "/graphql", headers, {"query": GRAPHQL_GET, "variables": {"id": some_id}}
            )
            for name, call in (
                ("http_rest_page_total", rest_page),
                ("http_graphql_page_company", gql_page),
                ("http_rest_get", rest_get),
                ("http_graphql_get", gql_get),
            ):
                self._add(name, latency(client, call), "unloaded, one request at a time")
            loads = {}
            for name, call in (("rest_page", rest_page), ("graphql_page", gql_page)):
                t = throughput(base, call, seconds=self.http_seconds)
                loads[name] = t
                self.entries.append(
                    Entry(
                        self.backend,
                        f"http_throughput_{name}",
                        t.p50,
                        t.p90,
                        None,
                        0,
                        t.tool,
                        t.rps,
                    )
                )
                console.print(
                    f"  {self.backend}: throughput {name:<22} {t.rps:8.1f} req/s ({t.tool})"
                )
        rest = self.samples["http_rest_page_total"]
        gql = self.samples["http_graphql_page_company"]
        self.entries += [
            Entry(
                self.backend,
                "graphql_vs_rest_page_p50",
                None,
                None,
                gql.median / rest.median,
                0,
                "GraphQL p50 / REST p50, unloaded, one worker",
            ),
            Entry(
                self.backend,
                "graphql_vs_rest_page_rps",
                None,
                None,
                loads["rest_page"].rps / loads["graphql_page"].rps,
                0,
                "REST req/s / GraphQL req/s, one worker",
            ),
            Entry(
                self.backend,
                "graphql_vs_rest_get_p50",
                None,
                None,
                self.samples["http_graphql_get"].median / self.samples["http_rest_get"].median,
                0,
                "GET by id: GraphQL p50 / REST p50",
            ),
        ]

    # -- the PostGraphile peer -------------------------------------------------------------
    def versus_peer(self) -> None:
        """Ours and PostGraphile side by side: the same page query (no totals), same data."""
        from bench.peer import PEER_PAGE, PEER_PAGE_TOTAL, PeerUnavailable, postgraphile

        account = self.p.principal.account_id
        peer_json = {"query": PEER_PAGE, "variables": {"account": account}}
        ours_json = {"query": GRAPHQL_PAGE, "variables": {}}
        ours_call = Call("POST", "/graphql", {"X-API-Key": self.p.raw_key}, ours_json)
        peer_call = Call("POST", "/graphql", {}, peer_json)
        try:
            with (
                postgraphile(asyncpg_dsn(self.p.url)) as peer_url,
                server(self.p.url) as base,
            ):
                peer_base = peer_url.rsplit("/graphql", 1)[0]
                with (
                    httpx.Client(base_url=peer_base, timeout=60.0) as peer,
                    httpx.Client(base_url=base, timeout=60.0) as ours,
                ):
                    check = peer.post("/graphql", json=peer_json).json()
                    if "errors" in check:
                        raise PeerUnavailable(f"peer query failed: {check['errors']}")
                    ours_lat = latency(ours, ours_call)
                    peer_lat = latency(peer, peer_call)
                    total_call = Call(
                        "POST", "/graphql", {}, {**peer_json, "query": PEER_PAGE_TOTAL}
                    )
                    peer_total = latency(peer, total_call, min_runs=20, budget_s=1.0)
                ours_load = throughput(base, ours_call, seconds=self.http_seconds)
                peer_load = throughput(peer_base, peer_call, seconds=self.http_seconds)
        except PeerUnavailable as exc:
            console.print(f"  [yellow]peer skipped:[/] {exc}")
            self.entries.append(
                Entry(self.backend, "peer_postgraphile", None, None, None, 0, f"skipped: {exc}")
            )
            return
        self._add("http_graphql_page_no_total", ours_lat, "ours, the peer's query shape")
        self._add("http_postgraphile_page", peer_lat, "PostGraphile 4, same page and data")
        self._add(
            "http_postgraphile_page_total",
            peer_total,
            "PostGraphile with totalCount (COUNT(*) over the account), 20 runs",
        )
        for name, t in (("graphql_page_no_total", ours_load), ("postgraphile_page", peer_load)):
            self.entries.append(
                Entry(self.backend, f"http_throughput_{name}", t.p50, t.p90, None, 0, t.tool, t.rps)
            )
            console.print(f"  {self.backend}: throughput {name:<22} {t.rps:8.1f} req/s ({t.tool})")
        self.entries += [
            Entry(
                self.backend,
                "graphql_vs_postgraphile_p50",
                None,
                None,
                ours_lat.median / peer_lat.median,
                0,
                "our GraphQL p50 / PostGraphile p50, unloaded",
            ),
            Entry(
                self.backend,
                "graphql_vs_postgraphile_rps",
                None,
                None,
                peer_load.rps / ours_load.rps,
                0,
                "PostGraphile req/s / our GraphQL req/s",
            ),
        ]

    # -- all ----------------------------------------------------------------------------------
    def run(self, contacts: int) -> list[Entry]:
        self._n = contacts
        self.floor("start")
        self.in_process()
        self.floor("middle")
        self.over_http()
        if self.peer and self.backend == "postgresql":
            self.versus_peer()
        self.floor("end")
        floor = self.floor_ms
        for e in self.entries:
            if e.ratio is None and e.median_ms is not None and e.rps is None:
                e.ratio = e.median_ms / floor
        all_floor = Sample([t for s in self.floors for t in s.times_ms])
        self.entries.insert(
            0,
            Entry(
                self.backend,
                "floor",
                floor,
                all_floor.p90,
                1.0,
                all_floor.n,
                "median of the start/middle/end floor medians: "
                + ", ".join(f"{s.median:.3f}" for s in self.floors),
            ),
        )
        return self.entries


def print_table(entries: list[Entry]) -> None:
    table = Table(title="contacts-gateway bench (ratio = x floor of the same backend and run)")
    for col in ("backend", "case", "median ms", "p90 ms", "ratio", "target", "req/s", "n"):
        table.add_column(col, justify="left" if col in ("backend", "case") else "right")
    for e in entries:
        target = TARGETS.get(e.case)
        met = "" if target is None or e.ratio is None else (" ✓" if e.ratio <= target else " ✗")
        table.add_row(
            e.backend,
            e.case,
            "" if e.median_ms is None else f"{e.median_ms:.3f}",
            "" if e.p90_ms is None else f"{e.p90_ms:.3f}",
            "" if e.ratio is None else f"{e.ratio:.2f}x",
            "" if target is None else f"≤ {target:g}x{met}",
            "" if e.rps is None else f"{e.rps:.0f}",
            str(e.n or ""),
        )
    Console(width=160).print(table)


def run(
    *,
    contacts: int = 1_000_000,
    database_url: str | None = None,
    with_postgres: bool = False,
    json_out: str | None = None,
    regenerate: bool = False,
    http_seconds: float = 4.0,
    peer: bool = True,
    sqlite: bool = True,
) -> list[Entry]:
    """Run the whole suite; SQLite always (unless ``sqlite=False``), PostgreSQL when asked."""
    urls: list[str] = []
    if sqlite:
        DATA_DIR.mkdir(exist_ok=True)
        urls.append(f"sqlite+aiosqlite:///{DATA_DIR / f'contacts-{contacts}.sqlite'}")
    if database_url and make_url(database_url).get_backend_name() == "sqlite":
        urls = [database_url]
    elif database_url:
        urls.append(database_url)
    elif with_postgres:
        urls.append(DEFAULT_POSTGRES)
    started = time.perf_counter()
    entries: list[Entry] = []
    for url in urls:
        prepared = _run(lambda url=url: _prepare(url, contacts, regenerate))  # type: ignore[misc]
        entries += BackendRun(prepared, http_seconds, peer).run(contacts)
    print_table(entries)
    console.print(f"bench finished in {time.perf_counter() - started:.0f} s")
    if json_out:
        Path(json_out).write_bytes(
            orjson.dumps([e.as_json() for e in entries], option=orjson.OPT_INDENT_2)
        )
        console.print(f"wrote {json_out}")
    return entries
