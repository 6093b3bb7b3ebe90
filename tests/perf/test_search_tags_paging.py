"""Statement counts, query plans and results of search, tag filters and deep pages.

The plans are read for the statements the app really ran (captured with their parameters)
so a regression to a table scan — or to a query shape the index cannot serve — fails here.
On PostgreSQL a 3,000-row table is cheaper to scan than to index, so the plan checks turn
``enable_seqscan`` off: they prove the statement *can* use its index (an ``ILIKE`` the
trigram GIN serves, ``EXISTS`` on the tag key), which is what a shape regression breaks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import data as bench_data
from db.queries import contacts as contact_q
from db.queries import search
from tests.perf.conftest import Captured, Loaded

PAGE_WITH_COMPANY = """query($first: Int!, $search: String, $tags: [String!]) {
  contacts(first: $first, search: $search, tags: $tags) {
    totalCount nodes { id name company { id name } } pageInfo { endCursor hasNextPage } } }"""


def _expected(loaded: Loaded, keep: Callable[[tuple[Any, ...]], bool]) -> list[str]:
    """Ids of the generated contacts ``keep`` accepts, newest first."""
    rows = [r for r in loaded.data.contact_rows if keep(r)]
    rows.sort(key=lambda r: (r[10], r[0]), reverse=True)
    return [r[0] for r in rows]


def _contains(term: str) -> Callable[[tuple[Any, ...]], bool]:
    t = term.lower()
    return lambda r: t in r[2].lower() or t in (r[3] or "").lower()


async def _ids(loaded: Loaded, query: str) -> tuple[list[str], int]:
    r = await loaded.api.get(f"/api/v2/contacts?{query}")
    assert r.status_code == 200, r.text
    body = r.json()
    return [c["id"] for c in body["data"]], body["total"]


# --- results ---------------------------------------------------------------------------------


async def test_search_finds_exactly_the_substring_matches(loaded: Loaded) -> None:
    for term in (bench_data.COMMON_TERM, "smithson", bench_data.RARE_TERM, "xyzzy", "jo", "Ma"):
        expected = _expected(loaded, _contains(term))
        ids, total = await _ids(loaded, f"search={term}&limit=100")
        assert total == len(expected), term
        assert ids == expected[:100], term


async def test_common_term_walk_returns_what_the_index_join_returns(
    loaded: Loaded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan choice (walk created_at vs. drive from the trigram hits) never changes rows."""
    expected = _expected(loaded, _contains("smith"))
    assert len(expected) > 20
    for threshold in (10, 1_000_000):  # below: "smith" is common and walks; above: rare
        monkeypatch.setattr(search, "COMMON_HITS", threshold)
        first, total = await _ids(loaded, "search=smith&limit=20")
        second, _ = await _ids(loaded, "search=SMITH&limit=20&offset=20")
        assert total == len(expected)
        assert first + second == expected[:40]


async def test_tag_total_counts_live_members_only(loaded: Loaded, engine: AsyncEngine) -> None:
    vip = {c for _, tag, c in loaded.data.tag_rows if tag == bench_data.COMMON_TAG}
    ids, total = await _ids(loaded, "tags=vip&limit=100")
    assert total == len(vip)
    assert ids == _expected(loaded, lambda r: r[0] in vip)[:100]
    # a sync tombstone keeps its tag rows but leaves every list and total
    gone = ids[0]
    async with engine.begin() as conn:
        await conn.execute(
            sa.text("UPDATE contact SET deleted_at = updated_at WHERE id = :id"), {"id": gone}
        )
    ids, total = await _ids(loaded, "tags=vip&limit=100")
    assert total == len(vip) - 1 and gone not in ids
    # two tags: each contact once
    both = {c for _, tag, c in loaded.data.tag_rows if tag in ("vip", "lead")} - {gone}
    _, total = await _ids(loaded, "tags=vip,lead&limit=1")
    assert total == len(both)


async def test_rest_offset_pages_deep_and_shallow(loaded: Loaded) -> None:
    everyone = _expected(loaded, lambda r: True)
    for offset in (0, 999, 1_000, 2_345, 2_950, 2_999, 3_000, 5_000):
        ids, total = await _ids(loaded, f"limit=100&offset={offset}")
        assert total == len(everyone)
        assert ids == everyone[offset : offset + 100], offset


async def test_deep_offset_with_a_filter(loaded: Loaded) -> None:
    expected = _expected(loaded, _contains("a"))
    assert len(expected) > 1_100
    ids, total = await _ids(loaded, "search=a&limit=50&offset=1050")
    assert total == len(expected)
    assert ids == expected[1050:1100]


async def test_graphql_cursor_walks_every_contact_once(loaded: Loaded) -> None:
    seen: list[str] = []
    after = None
    while True:
        body = await loaded.api.gql(
            "query($after: String) { contacts(first: 100, after: $after) "
            "{ nodes { id } pageInfo { endCursor hasNextPage } } }",
            {"after": after},
        )
        conn = body["data"]["contacts"]
        seen += [n["id"] for n in conn["nodes"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == _expected(loaded, lambda r: True)


# --- statement counts --------------------------------------------------------------------------


async def test_page_with_company_and_total_runs_at_most_four_statements(
    loaded: Loaded, capture: Callable[[], Any], dialect: str
) -> None:
    """page + company batch + total (+ the SQLite plan probe for a search), for 5 or 100 rows."""
    for variables in (
        {},
        {"search": bench_data.COMMON_TERM},
        {"search": "smithson"},
        {"search": "jo"},
        {"tags": ["vip"]},
    ):
        counts = []
        for first in (5, 100):
            with capture() as seen:
                body = await loaded.api.gql(PAGE_WITH_COMPANY, {"first": first, **variables})
            assert "errors" not in body, body
            assert body["data"]["contacts"]["nodes"]
            counts.append(len(seen.statements))
        probe = 1 if dialect == "sqlite" and len(str(variables.get("search", ""))) >= 3 else 0
        assert counts[0] == counts[1] <= 3 + probe, (variables, seen.statements)


async def test_rest_search_and_tag_pages_run_constant_statements(
    loaded: Loaded, capture: Callable[[], Any], dialect: str
) -> None:
    for query in ("search=smith", "search=elanhar", "tags=vip", ""):
        counts = []
        for limit in (5, 100):
            with capture() as seen:
                await _ids(loaded, f"{query}&limit={limit}")
            counts.append(len(seen.statements))
        probe = 1 if dialect == "sqlite" and query.startswith("search") else 0
        assert counts[0] == counts[1] <= 2 + probe, (query, seen.statements)


async def test_graphql_without_total_does_not_count(
    loaded: Loaded, capture: Callable[[], Any]
) -> None:
    with capture() as seen:
        await loaded.api.gql('{ contacts(first: 10, tags: ["vip"]) { nodes { id } } }')
    assert not any("count(" in s.lower() for s in seen.statements), seen.statements


# --- plans -------------------------------------------------------------------------------------


async def _plan(engine: AsyncEngine, dialect: str, statement: str, parameters: Any) -> str:
    async with engine.connect() as conn:
        if dialect == "sqlite":
            rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            return "\n".join(str(r[-1]) for r in rows)
        await conn.exec_driver_sql("SET enable_seqscan = off")
        try:
            rows = await conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            return "\n".join(str(r[0]) for r in rows)
        finally:
            await conn.exec_driver_sql("RESET enable_seqscan")


def _no_table_scan(plan: str) -> None:
    """No full scan of contact / contact_tag (SQLite ``SCAN x`` without an index; PG Seq Scan)."""
    assert not re.search(r"^\W*SCAN (contact|contact_tag|c)\s*$", plan, re.M), plan
    assert "Seq Scan on contact" not in plan, plan


async def _captured(loaded: Loaded, capture: Callable[[], Any], query: str) -> Captured:
    with capture() as seen:
        await _ids(loaded, query)
    return seen


async def test_search_statements_use_the_trigram_index(
    loaded: Loaded,
    capture: Callable[[], Any],
    engine: AsyncEngine,
    dialect: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # with 3,000 rows "smith" has ~90 hits: make it "common" so the walk plan is checked too
    monkeypatch.setattr(search, "COMMON_HITS", 50)
    for term in (bench_data.RARE_TERM, bench_data.COMMON_TERM):
        seen = await _captured(loaded, capture, f"search={term}&limit=100")
        data = seen.touching("contact")
        assert len(data) == 2, seen.statements  # page and total
        await _check_search_plans(engine, dialect, term, data)


async def _check_search_plans(
    engine: AsyncEngine, dialect: str, term: str, data: list[tuple[str, Any]]
) -> None:
    for statement, parameters in data:
        plan = await _plan(engine, dialect, statement, parameters)
        _no_table_scan(plan)
        walks = term == bench_data.COMMON_TERM and "LIMIT" in statement.upper()
        if dialect == "sqlite" and walks:
            # the created_at walk: the live index in order, no sort of every hit
            assert "ix_contact_account_live_created" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
        elif dialect == "sqlite":
            assert "contact_fts VIRTUAL TABLE" in plan, plan
            assert "INTEGER PRIMARY KEY (rowid=?)" in plan, plan
        else:
            assert (
                "ix_contact_name_trgm" in plan
                or "ix_contact_email_trgm" in plan
                or (walks and "ix_contact_account" in plan)
            ), plan


async def test_tag_statements_use_the_tag_key(
    loaded: Loaded, capture: Callable[[], Any], engine: AsyncEngine, dialect: str
) -> None:
    seen = await _captured(loaded, capture, "tags=vip&limit=100")
    data = seen.touching("contact_tag")
    assert len(data) == 2, seen.statements  # page and total
    for statement, parameters in data:
        plan = await _plan(engine, dialect, statement, parameters)
        _no_table_scan(plan)
        if dialect == "sqlite":
            assert "sqlite_autoindex_contact_tag_1" in plan, plan
            if "count(" in statement.lower():
                # the total: the tag key alone, minus tombstones through their partial index
                assert "ix_contact_account_tombstones" in plan, plan
        else:
            assert "contact_tag_pkey" in plan, plan


async def test_deep_offset_boundary_is_index_only(
    loaded: Loaded, capture: Callable[[], Any], engine: AsyncEngine, dialect: str
) -> None:
    seen = await _captured(loaded, capture, "limit=100&offset=2000")
    boundary = [
        (s, p) for s, p in seen.calls if re.search(r"OFFSET", s, re.I) and "company" not in s
    ]
    assert len(boundary) == 1, seen.statements
    statement, parameters = boundary[0]
    plan = await _plan(engine, dialect, statement, parameters)
    if dialect == "sqlite":
        assert "COVERING INDEX ix_contact_account_live_created" in plan, plan
    else:
        assert "Index Only Scan" in plan and "ix_contact_account_live_created" in plan, plan


async def test_postgres_search_gets_custom_plans(engine: AsyncEngine, dialect: str) -> None:
    """asyncpg prepares statements; after 5 runs a generic plan could not see the pattern."""
    if dialect != "postgresql":
        pytest.skip("PostgreSQL only")
    async with engine.connect() as conn:
        assert (await conn.exec_driver_sql("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
        await conn.exec_driver_sql(
            "PREPARE s(text) AS SELECT id FROM contact WHERE name ILIKE $1 "
            "ORDER BY created_at DESC LIMIT 100"
        )
        for _ in range(7):
            await conn.exec_driver_sql("EXECUTE s('%elanhar%')")
        plan = "\n".join(
            str(r[0]) for r in await conn.exec_driver_sql("EXPLAIN EXECUTE s('%elanhar%')")
        )
        assert "'%elanhar%'" in plan and "$1" not in plan, plan


async def test_count_contacts_tag_total_matches_a_plain_count(
    loaded: Loaded, engine: AsyncEngine
) -> None:
    """The index-only tag total agrees with counting through the contact table."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from db.records import ListFilter

    for tags in (["vip"], ["vip", "lead", "beta"], ["nobody-has-this"]):
        async with AsyncSession(engine) as session:
            fast = await contact_q.count_contacts(
                session, account_id=loaded.account_id, flt=ListFilter(tags=tags)
            )
            slow = await session.scalar(
                sa.text(
                    "SELECT count(*) FROM contact c WHERE c.account_id = :a AND c.deleted_at IS NULL "
                    "AND EXISTS (SELECT 1 FROM contact_tag t WHERE t.contact_id = c.id "
                    "AND t.tag IN :tags)"
                ).bindparams(sa.bindparam("tags", expanding=True)),
                {"a": loaded.account_id, "tags": tags},
            )
        assert fast == slow
