"""SQL statement counts stay constant as pages grow: no N+1 through either door."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db.ids import new_id
from db.queries import companies as company_q
from db.queries import contacts as contact_q
from db.types import utcnow
from db.uow import UnitOfWork
from resolvers.keys import hash_key
from tests.conftest import Api

#: auth look-up + page (+ total) + one batch per nested relation
MAX_STATEMENTS = 3

PAGE_WITH_COMPANIES = """query($first: Int!) { contacts(first: $first) {
  nodes { id name company { name } } pageInfo { endCursor } } }"""
PAGE_WITH_COUNTS = """query($first: Int!) { contacts(first: $first) {
  totalCount nodes { id name company { name contactCount } } } }"""


async def _seed(api: Api, engine: AsyncEngine, contacts: int, companies: int) -> list[str]:
    """Contacts spread over companies (through the query layer: fast, and still real rows)."""
    account_id = await _account_of(engine, api.key or "")
    uow = UnitOfWork(engine)
    company_ids = []
    try:
        session = await uow.writer()
        for i in range(companies):
            company_id = new_id("co")
            now = utcnow()
            await company_q.insert_company(
                session,
                account_id=account_id,
                values={
                    "id": company_id,
                    "name": f"Company {i}",
                    "domain": None,
                    "custom_fields": {},
                    "created_at": now,
                    "updated_at": now,
                },
                tags=[f"t{i % 3}"],
            )
            company_ids.append(company_id)
        for i in range(contacts):
            now = utcnow()
            await contact_q.insert_contact(
                session,
                account_id=account_id,
                values={
                    "id": new_id("ct"),
                    "name": f"Person {i}",
                    "email": f"p{i}@example.com",
                    "email_norm": f"p{i}@example.com",
                    "phone": None,
                    "company_id": company_ids[i % companies],
                    "custom_fields": {},
                    "created_at": now,
                    "updated_at": now,
                },
                tags=["vip"] if i % 2 else [],
            )
        await uow.commit()
    finally:
        await uow.close()
    return company_ids


async def _account_of(engine: AsyncEngine, raw_key: str) -> str:
    """The account id of a raw key."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.text("SELECT account_id FROM api_key WHERE key_hash = :h"),
                {"h": hash_key(raw_key)},
            )
        ).one()
    return str(row[0])


async def _count(
    count_statements: Callable[[], Any], call: Callable[[], Any]
) -> tuple[int, list[str]]:
    await call()  # warm: the key's last_used_at touch and caches happen once
    with count_statements() as counter:
        await call()
    return counter.count, counter.statements


async def test_graphql_contacts_page_with_nested_company_is_constant(
    api: Api, engine: AsyncEngine, count_statements: Callable[[], Any]
) -> None:
    await _seed(api, engine, contacts=120, companies=40)
    # company { name }: auth + page + one companies batch;
    # with totalCount and contactCount: + the count + one contact-count batch
    for query, limit in (
        (PAGE_WITH_COMPANIES, MAX_STATEMENTS),
        (PAGE_WITH_COUNTS, MAX_STATEMENTS + 2),
    ):
        counts = {}
        for size in (10, 100):

            async def call(size: int = size, query: str = query) -> None:
                result = await api.gql(query, {"first": size})
                assert "errors" not in result, result
                nodes = result["data"]["contacts"]["nodes"]
                assert len(nodes) == size
                assert all(n["company"]["name"].startswith("Company ") for n in nodes)
                assert all(n["company"].get("contactCount", 3) == 3 for n in nodes)

            counts[size] = await _count(count_statements, call)
        small, large = counts[10], counts[100]
        assert small[0] == large[0], (
            f"statements grow with the page: {small[0]} → {large[0]}\n" + "\n".join(large[1])
        )
        assert large[0] <= limit, "\n".join(large[1])


async def test_graphql_company_contacts_nested_connection_is_constant(
    api: Api, engine: AsyncEngine, count_statements: Callable[[], Any]
) -> None:
    await _seed(api, engine, contacts=200, companies=50)
    query = """query($first: Int!) { companies(first: $first) { nodes { id name contactCount
      contacts(first: 5) { nodes { id name company { name } } } } } }"""
    counts = {}
    for size in (5, 50):

        async def call(size: int = size) -> None:
            result = await api.gql(query, {"first": size})
            assert "errors" not in result, result
            nodes = result["data"]["companies"]["nodes"]
            assert len(nodes) == size
            assert all(len(n["contacts"]["nodes"]) == 4 and n["contactCount"] == 4 for n in nodes)

        counts[size] = await _count(count_statements, call)
    assert counts[5][0] == counts[50][0], "\n".join(counts[50][1])
    # auth + page + counts batch + nested contacts batch + their companies batch
    assert counts[50][0] <= MAX_STATEMENTS + 2, "\n".join(counts[50][1])


async def test_rest_pages_are_constant(
    api: Api, engine: AsyncEngine, count_statements: Callable[[], Any]
) -> None:
    await _seed(api, engine, contacts=120, companies=100)
    for path, per in (("/api/v2/contacts", "contacts"), ("/api/v2/companies", "companies")):
        counts = {}
        for size in (10, 100):

            async def call(size: int = size, path: str = path) -> None:
                response = await api.get(path, params={"limit": size})
                assert response.status_code == 200
                assert len(response.json()["data"]) == size

            counts[size] = await _count(count_statements, call)
        assert counts[10][0] == counts[100][0], (per, "\n".join(counts[100][1]))
        # auth + page + total (+ contact counts for companies)
        limit = MAX_STATEMENTS if per == "contacts" else MAX_STATEMENTS + 1
        assert counts[100][0] <= limit, (per, "\n".join(counts[100][1]))
