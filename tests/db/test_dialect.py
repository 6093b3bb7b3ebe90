"""What differs between the dialects stays in db/: timestamps, JSON, substring search indexes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db.models import Account, Contact, table_of
from db.queries import contacts as contact_q
from db.records import ListFilter

account = table_of(Account)
contact = table_of(Contact)
PLUS_TWO = timezone(timedelta(hours=2))
ROWS = 300


async def _account(engine: AsyncEngine, account_id: str = "acc_dialect") -> str:
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(account).values(
                id=account_id, name=account_id, created_at=datetime.now(UTC), contact_count=0
            )
        )
    return account_id


def _contact(account_id: str, n: int, **values: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": f"ct_{n:04d}",
        "account_id": account_id,
        "name": f"Person {n}",
        "tags": [],
        "custom_fields": {},
        "version": 1,
        "created_at": now,
        "updated_at": now,
        **values,
    }


async def test_timestamps_keep_microseconds_and_come_back_in_utc(engine: AsyncEngine) -> None:
    account_id = await _account(engine)
    given = datetime(2026, 3, 29, 2, 30, 15, 123456, tzinfo=PLUS_TWO)  # a DST night somewhere
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(contact).values(**_contact(account_id, 1, created_at=given, updated_at=given))
        )
        back = await conn.scalar(sa.select(contact.c.created_at).where(contact.c.id == "ct_0001"))
    assert back == given  # the same instant ...
    assert back.tzinfo == UTC  # ... always handed back in UTC
    assert back.microsecond == 123456
    assert back.hour == 0


async def test_timestamps_order_by_the_microsecond(engine: AsyncEngine) -> None:
    """Keyset pagination orders by created_at: 1 µs apart must sort (0 µs included)."""
    account_id = await _account(engine)
    base = datetime(2026, 1, 1, 12, 0, 0, 0, tzinfo=UTC)
    stamps = [base + timedelta(microseconds=n) for n in (0, 1, 999_999, 10)]
    async with engine.begin() as conn:
        for n, stamp in enumerate(stamps):
            await conn.execute(
                sa.insert(contact).values(**_contact(account_id, n, created_at=stamp))
            )
        rows = await conn.execute(
            sa.select(contact.c.created_at).order_by(contact.c.created_at.desc())
        )
        ordered = [r[0] for r in rows]
        earlier = await conn.scalar(
            sa.select(sa.func.count()).where(
                contact.c.created_at < base + timedelta(microseconds=1)
            )
        )
    assert ordered == sorted(stamps, reverse=True)
    assert earlier == 1


async def test_naive_timestamps_are_refused(engine: AsyncEngine) -> None:
    account_id = await _account(engine)
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(contact).values(
                    **_contact(account_id, 1, created_at=datetime(2026, 1, 1))
                )
            )


async def test_json_columns_round_trip_and_filter(engine: AsyncEngine) -> None:
    account_id = await _account(engine)
    fields = {
        "plan": "gold",
        "seats": 12,
        "ratio": 0.25,
        "active": True,
        "note": None,
        "names": ["Zoë", "李", "🚀"],
        "nested": {"a": {"b": [1, 2, 3]}},
    }
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(contact).values(
                **_contact(account_id, 1, custom_fields=fields, tags=["vip", "β"])
            )
        )
        await conn.execute(
            sa.insert(contact).values(**_contact(account_id, 2, custom_fields={"plan": "free"}))
        )
        row = (
            await conn.execute(
                sa.select(contact.c.custom_fields, contact.c.tags).where(contact.c.id == "ct_0001")
            )
        ).one()
    assert row.custom_fields == fields
    assert row.tags == ["vip", "β"]
    async with AsyncSession(engine) as session:
        found = await contact_q.list_contacts(
            session, account_id=account_id, flt=ListFilter(custom_fields={"plan": "gold"}), limit=10
        )
    assert [c.id for c in found] == ["ct_0001"]


async def test_substring_search_uses_the_trigram_index(engine: AsyncEngine, dialect: str) -> None:
    """The list query's search runs through FTS5 (SQLite) or a pg_trgm GIN index (PostgreSQL)."""
    account_id = await _account(engine)
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(contact),
            [
                _contact(account_id, n, name="Jane Smithers" if n == 7 else f"Person {n}")
                for n in range(ROWS)
            ],
        )
        if dialect == "postgresql":
            await conn.execute(sa.text("ANALYZE contact"))
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    sa.event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with AsyncSession(engine) as session:
            found = await contact_q.list_contacts(
                session, account_id=account_id, flt=ListFilter(search="smith"), limit=10
            )
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", capture)
    assert [c.name for c in found] == ["Jane Smithers"]
    statement, parameters = captured[-1]
    async with engine.connect() as conn:
        if dialect == "postgresql":
            # The list query searches with ILIKE on name and email ...
            assert "contact.name ILIKE" in statement and "contact.email ILIKE" in statement
            # ... which is the predicate the GIN gin_trgm_ops indexes serve (whether the
            # planner prefers them on a given table is bench/'s business, not this test's).
            await conn.exec_driver_sql("SET enable_seqscan = off")
            rows = await conn.exec_driver_sql(
                "EXPLAIN SELECT id FROM contact WHERE name ILIKE $1 OR email ILIKE $1",
                ("%smith%",),
            )
            plan = "\n".join(r[0] for r in rows)
            assert "ix_contact_name_trgm" in plan and "ix_contact_email_trgm" in plan, plan
        else:
            plan = "\n".join(
                str(r[-1])
                for r in await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            )
            assert "contact_fts VIRTUAL TABLE INDEX" in plan, plan
