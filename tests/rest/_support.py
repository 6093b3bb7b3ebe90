"""Helpers shared by the REST, GraphQL and parity tests."""

from __future__ import annotations

from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Api

#: The tables the contacts/companies API may change.
DATA_TABLES = ("account", "company", "company_tag", "contact", "contact_tag")


async def snapshot(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the data tables, sorted: compare before/after to prove nothing changed."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        for table in DATA_TABLES:
            result = await conn.execute(sa.text(f"SELECT * FROM {table}"))
            rows[table] = sorted((tuple(map(str, r)) for r in result), key=repr)
    return rows


def assert_problem(
    response: httpx.Response, status: int, code: str, field: str | None = None
) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and code (naming ``field``)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    for key in ("type", "title", "detail", "errors"):
        assert key in body, body
    if field is not None:
        fields = [e["field"] for e in body["errors"]]
        assert field in fields, f"{field!r} not named in {body}"
        assert all(e["message"] for e in body["errors"]), body
    return body


async def make_company(api: Api, name: str = "Acme Corp", **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/v2/companies", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def make_contact(api: Api, name: str = "Jane Smith", **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/v2/contacts", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
