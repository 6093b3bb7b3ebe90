"""GraphQL limits: cost, aliases through fragments, depth, tokens; the production switch."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.safety.conftest import ClientMaker

pytestmark = pytest.mark.asyncio

NESTED = """query($n: Int) { contacts(first: $n) { nodes { company {
  contacts(first: $n) { nodes { id } } } } } }"""


async def _gql(client, key: str, query: str, variables: dict | None = None) -> dict:
    r = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers={"X-API-Key": key}
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_costly_query_is_refused_before_execution(
    api: Api, count_statements, client_with: ClientMaker, key: str
) -> None:
    client = await client_with(graphql_max_cost=1_000)
    with count_statements() as counter:
        refused = await _gql(client, key, NESTED, {"n": 100})
    error = refused["errors"][0]
    assert refused.get("data") is None
    assert error["extensions"]["code"] == "query_too_complex"
    assert error["extensions"]["cost"] > 1_000 and error["extensions"]["maxCost"] == 1_000
    assert "too costly" in error["message"]
    assert not [s for s in counter.statements if "contact" in s.lower() and "api_key" not in s]
    # Small pages multiply to a small cost: allowed.
    assert "errors" not in await _gql(client, key, NESTED, {"n": 5})
    # Literals and defaults count too (default first = 25: 25 * 25 > 500).
    client2 = await client_with(graphql_max_cost=500)
    literal = "{ companies { nodes { contacts { nodes { id } } } } }"
    assert (await _gql(client2, key, literal))["errors"][0]["extensions"]["code"] == (
        "query_too_complex"
    )


async def test_aliases_are_counted_through_fragments(client_with: ClientMaker, key: str) -> None:
    client = await client_with(graphql_max_aliases=10)
    fragment = "fragment F on Query { " + " ".join(f"a{i}: __typename" for i in range(6)) + " }"
    once = await _gql(client, key, "query { ...F } " + fragment)
    assert "errors" not in once
    twice = await _gql(
        client,
        key,
        "query { ...F ... on Query { ...G } } "
        + fragment.replace("fragment F", "fragment G")
        + " "
        + fragment,
    )
    assert twice["errors"][0]["extensions"]["code"] == "validation_failed"
    assert "aliases" in twice["errors"][0]["message"].lower()


async def test_depth_and_tokens(client_with: ClientMaker, key: str) -> None:
    client = await client_with(graphql_max_depth=4, graphql_max_tokens=200)
    deep = "{ contacts { nodes { company { contacts { nodes { company { name } } } } } } }"
    assert "depth" in (await _gql(client, key, deep))["errors"][0]["message"]
    many = "{ " + " ".join("__typename" for _ in range(300)) + " }"
    assert "token" in (await _gql(client, key, many))["errors"][0]["message"].lower()


async def test_production_switch(client_with: ClientMaker, key: str) -> None:
    dev = await client_with()
    assert (
        "Did you mean"
        in (await _gql(dev, key, "{ contactz { totalCount } }"))["errors"][0]["message"]
    )
    prod = await client_with(production=True)
    typo = await _gql(prod, key, "{ contactz { totalCount } }")
    assert "Did you mean" not in typo["errors"][0]["message"]
    introspection = await _gql(prod, key, "{ __schema { types { name } } }")
    assert introspection["errors"][0]["extensions"]["code"] == "validation_failed"
    assert "introspection" in introspection["errors"][0]["message"].lower()
    ide = await prod.get("/graphql", headers={"Accept": "text/html"})
    assert ide.status_code >= 400 and "graphiql" not in ide.text.lower()
    assert (await dev.get("/graphql", headers={"Accept": "text/html"})).status_code == 200
