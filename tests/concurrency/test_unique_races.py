"""Racing writers on the partial unique indexes: exactly one wins, the other gets 409, never 500."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tests.concurrency.conftest import wait_for_app_lock_wait
from tests.conftest import Api

ROUNDS = 8

CREATE_CONTACT = """
mutation($input: CreateContactInput!) { createContact(input: $input) { id email } }
"""


def _statuses(responses: list[httpx.Response]) -> list[int]:
    return sorted(r.status_code for r in responses)


async def test_same_email_concurrently_one_201_one_409(api: Api) -> None:
    """Two creates of one email (differing only in case) at once: one 201 and one 409 (email)."""
    for n in range(ROUNDS):
        responses = await asyncio.gather(
            api.post("/api/v2/contacts", json={"name": "A", "email": f"Race{n}@Example.com"}),
            api.post("/api/v2/contacts", json={"name": "B", "email": f"race{n}@example.COM"}),
        )
        assert _statuses(responses) == [201, 409], [r.text for r in responses]
        conflict = next(r for r in responses if r.status_code == 409)
        assert conflict.headers["content-type"].startswith("application/problem+json")
        assert conflict.json()["code"] == "conflict"
        assert conflict.json()["errors"][0]["field"] == "email"
    listed = await api.get("/api/v2/contacts", params={"limit": 100})
    assert listed.json()["total"] == ROUNDS
    assert len({c["email"].lower() for c in listed.json()["data"]}) == ROUNDS


async def test_email_race_many_writers(api: Api) -> None:
    """Eight writers on one email: exactly one 201."""
    responses = await asyncio.gather(
        *(
            api.post("/api/v2/contacts", json={"name": f"W{n}", "email": "crowd@example.com"})
            for n in range(8)
        )
    )
    assert _statuses(responses) == [201] + [409] * 7, [r.text for r in responses]


async def test_rest_and_graphql_race_on_one_email(api: Api) -> None:
    """The same race across both front doors: one success, one conflict naming the field."""
    rest, gql = await asyncio.gather(
        api.post("/api/v2/contacts", json={"name": "R", "email": "both@example.com"}),
        api.post(
            "/graphql",
            json={
                "query": CREATE_CONTACT,
                "variables": {"input": {"name": "G", "email": "BOTH@example.com"}},
            },
        ),
    )
    assert gql.status_code == 200
    body = gql.json()
    if rest.status_code == 201:
        assert body["data"] is None or body["data"].get("createContact") is None
        assert body["errors"][0]["extensions"]["code"] == "conflict"
        assert body["errors"][0]["extensions"]["field"] == "email"
    else:
        assert rest.status_code == 409, rest.text
        assert "errors" not in body, body
        assert body["data"]["createContact"]["email"] == "BOTH@example.com"


async def test_same_domain_concurrently_and_partial_index(api: Api) -> None:
    """Active company domains are unique (one 409 in a race); a soft-deleted one frees it."""
    for n in range(ROUNDS):
        responses = await asyncio.gather(
            api.post("/api/v2/companies", json={"name": "A", "domain": f"race{n}.example.com"}),
            api.post("/api/v2/companies", json={"name": "B", "domain": f"RACE{n}.example.com"}),
        )
        assert _statuses(responses) == [201, 409], [r.text for r in responses]
        conflict = next(r for r in responses if r.status_code == 409)
        assert conflict.json()["errors"][0]["field"] == "domain"
    winner = (await api.get("/api/v2/companies", params={"limit": 100})).json()["data"][0]
    deleted = await api.delete(f"/api/v2/companies/{winner['id']}")
    assert deleted.status_code in (200, 204), deleted.text
    # Only active companies take part in the partial unique index.
    again = await api.post("/api/v2/companies", json={"name": "C", "domain": winner["domain"]})
    assert again.status_code == 201, again.text
    # ... and restoring the deleted one now collides with the new active one.
    restored = await api.post(f"/api/v2/companies/{winner['id']}/restore")
    assert restored.status_code == 409, restored.text


async def test_email_of_other_account_is_free(api: Api, other_api: Api) -> None:
    """Uniqueness is per account: the same email at once in two accounts is two 201s."""
    responses = await asyncio.gather(
        api.post("/api/v2/contacts", json={"name": "A", "email": "shared@example.com"}),
        other_api.post("/api/v2/contacts", json={"name": "B", "email": "shared@example.com"}),
    )
    assert _statuses(responses) == [201, 201]


async def test_insert_blocked_on_unique_index_is_409(
    api: Api,
    dialect: str,
    engine: AsyncEngine,
    outsider: AsyncConnection,
    outside_engine: AsyncEngine,
) -> None:
    """PostgreSQL: the race the pre-check cannot see (an uncommitted twin) still ends in 409.

    Another connection inserts the same email and holds its transaction open, so the
    request's "is this email taken?" check passes and its INSERT waits on the unique index;
    when the other commits, the INSERT fails with a unique violation: it must be a 409.
    """
    if dialect != "postgresql":
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE: the pre-check sees the twin")
    first = await api.post("/api/v2/contacts", json={"name": "Seed", "email": "seed@example.com"})
    assert first.status_code == 201
    async with engine.connect() as conn:
        account_id = await conn.scalar(sa.text("SELECT account_id FROM contact LIMIT 1"))
    await outsider.execute(
        sa.text(
            "INSERT INTO contact (id, account_id, name, email, email_norm, tags, custom_fields, "
            "version, created_at, updated_at) VALUES ('ct_outsider', :account, 'Twin', "
            "'twin@example.com', 'twin@example.com', '[]', '{}', 1, now(), now())"
        ),
        {"account": account_id},
    )
    racing = asyncio.create_task(
        api.post("/api/v2/contacts", json={"name": "Me", "email": "Twin@example.com"})
    )
    await wait_for_app_lock_wait(outside_engine)
    await outsider.commit()
    response = await racing
    assert response.status_code == 409, response.text
    assert response.json()["errors"][0]["field"] == "email"
