"""GraphQL core: every query and mutation of the contract, connections, limits and errors."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Api, KeyMaker
from tests.rest._support import make_company, make_contact, snapshot

CONTACT = "id name email phone companyId companyName tags createdAt updatedAt"
COMPANY = "id name domain tags createdAt updatedAt deletedAt contactCount"

CONTACTS_PAGE = f"""
query($first: Int, $after: String, $search: String, $tags: [String!], $companyId: ID) {{
  contacts(first: $first, after: $after, search: $search, tags: $tags, companyId: $companyId) {{
    totalCount
    nodes {{ {CONTACT} company {{ id name }} }}
    edges {{ cursor node {{ id }} }}
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
  }}
}}"""

COMPANIES_PAGE = f"""
query($first: Int, $after: String, $search: String, $tags: [String!], $inc: Boolean) {{
  companies(first: $first, after: $after, search: $search, tags: $tags, includeDeleted: $inc) {{
    totalCount
    nodes {{ {COMPANY} }}
    edges {{ cursor node {{ id }} }}
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
  }}
}}"""


def data(result: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in result, result
    out: dict[str, Any] = result["data"]
    return out


def error(result: dict[str, Any], code: str, field: str | None = None) -> dict[str, Any]:
    """The first error of the result has this code (and names this field)."""
    assert result.get("errors"), result
    first: dict[str, Any] = result["errors"][0]
    assert first["extensions"]["code"] == code, result
    if field is not None:
        assert first["extensions"]["field"] == field, result
    return first


async def test_contact_and_company_by_id(api: Api) -> None:
    company = await make_company(api, "Acme Corp", domain="acme.com", tags=["enterprise"])
    contact = await make_contact(
        api,
        "Jane Smith",
        email="jane@example.com",
        phone="+33612345678",
        company_id=company["id"],
        tags=["vip"],
    )
    got = data(
        await api.gql(
            f"query($id: ID!, $co: ID!) {{ contact(id: $id) {{ {CONTACT} company {{ {COMPANY} }} }}"
            f" company(id: $co) {{ {COMPANY} }} }}",
            {"id": contact["id"], "co": company["id"]},
        )
    )
    c = got["contact"]
    assert c["id"] == contact["id"]  # the same string as REST
    assert (c["name"], c["email"], c["phone"]) == ("Jane Smith", "jane@example.com", "+33612345678")
    assert (c["companyId"], c["companyName"]) == (company["id"], "Acme Corp")
    assert c["tags"] == ["vip"]
    assert (c["createdAt"], c["updatedAt"]) == (contact["created_at"], contact["updated_at"])
    assert c["company"]["id"] == company["id"] and c["company"]["contactCount"] == 1
    co = got["company"]
    assert (co["name"], co["domain"], co["tags"]) == ("Acme Corp", "acme.com", ["enterprise"])
    assert co["deletedAt"] is None and co["contactCount"] == 1
    assert co["createdAt"] == company["created_at"]

    missing = data(
        await api.gql(
            '{ contact(id: "ct_nope") { id } company(id: "co_nope") { id } }',
        )
    )
    assert missing == {"contact": None, "company": None}


async def test_contacts_connection_keyset_pages(api: Api) -> None:
    ids = [(await make_contact(api, f"Person {i}"))["id"] for i in range(7)]
    newest_first = list(reversed(ids))
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        conn = data(await api.gql(CONTACTS_PAGE, {"first": 3, "after": after}))["contacts"]
        pages += 1
        assert conn["totalCount"] == 7
        node_ids = [n["id"] for n in conn["nodes"]]
        assert [e["node"]["id"] for e in conn["edges"]] == node_ids
        info = conn["pageInfo"]
        assert info["startCursor"] == conn["edges"][0]["cursor"]
        assert info["endCursor"] == conn["edges"][-1]["cursor"]
        assert info["hasPreviousPage"] is (after is not None)
        seen += node_ids
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert pages == 3 and seen == newest_first
    # a cursor keeps its place even when newer rows arrive (keyset, not offset)
    first = data(await api.gql(CONTACTS_PAGE, {"first": 2}))["contacts"]
    await make_contact(api, "Newcomer")
    next_page = data(
        await api.gql(CONTACTS_PAGE, {"first": 2, "after": first["pageInfo"]["endCursor"]})
    )["contacts"]
    assert [n["id"] for n in next_page["nodes"]] == newest_first[2:4]
    # default page size is 25
    assert len(data(await api.gql(CONTACTS_PAGE))["contacts"]["nodes"]) == 8


async def test_contacts_filters_match_rest(api: Api) -> None:
    acme = await make_company(api, "Acme")
    jane = await make_contact(
        api, "Jane Smith", email="jane@x.io", tags=["vip"], company_id=acme["id"]
    )
    bob = await make_contact(api, "Bob", email="bob.smith@y.io", tags=["beta"])
    await make_contact(api, "Alice", tags=["other"])

    async def ids(**variables: Any) -> set[str]:
        conn = data(await api.gql(CONTACTS_PAGE, variables))["contacts"]
        assert conn["totalCount"] == len(conn["nodes"])
        return {n["id"] for n in conn["nodes"]}

    assert await ids(search="SMITH") == {jane["id"], bob["id"]}
    assert await ids(search="y.io") == {bob["id"]}
    assert await ids(tags=["vip", "beta"]) == {jane["id"], bob["id"]}
    assert await ids(companyId=acme["id"]) == {jane["id"]}
    assert await ids(search="%") == set()
    nodes = data(await api.gql(CONTACTS_PAGE, {"companyId": acme["id"]}))["contacts"]["nodes"]
    assert nodes[0]["company"] == {"id": acme["id"], "name": "Acme"}


async def test_companies_connection_with_deleted(api: Api) -> None:
    a = await make_company(api, "Acme", domain="acme.com", tags=["enterprise"])
    b = await make_company(api, "Globex", tags=["smb"])
    c = await make_company(api, "Initech")
    await make_contact(api, "Jane", company_id=a["id"])
    assert (await api.delete(f"/api/v2/companies/{c['id']}")).status_code == 204

    conn = data(await api.gql(COMPANIES_PAGE))["companies"]
    assert [n["id"] for n in conn["nodes"]] == [b["id"], a["id"]] and conn["totalCount"] == 2
    assert {n["id"]: n["contactCount"] for n in conn["nodes"]} == {a["id"]: 1, b["id"]: 0}
    with_deleted = data(await api.gql(COMPANIES_PAGE, {"inc": True}))["companies"]
    assert [n["id"] for n in with_deleted["nodes"]] == [c["id"], b["id"], a["id"]]
    assert with_deleted["nodes"][0]["deletedAt"] is not None
    assert [
        n["id"]
        for n in data(await api.gql(COMPANIES_PAGE, {"search": "ACME.C"}))["companies"]["nodes"]
    ] == [a["id"]]
    assert [
        n["id"]
        for n in data(await api.gql(COMPANIES_PAGE, {"tags": ["smb", "x"]}))["companies"]["nodes"]
    ] == [b["id"]]
    page1 = data(await api.gql(COMPANIES_PAGE, {"first": 1}))["companies"]
    assert page1["pageInfo"]["hasNextPage"] is True
    page2 = data(
        await api.gql(COMPANIES_PAGE, {"first": 1, "after": page1["pageInfo"]["endCursor"]})
    )["companies"]
    assert [n["id"] for n in page2["nodes"]] == [a["id"]]
    assert page2["pageInfo"]["hasNextPage"] is False


async def test_company_contacts_nested_connection(api: Api) -> None:
    acme = await make_company(api, "Acme")
    other = await make_company(api, "Other")
    ids = [(await make_contact(api, f"P{i}", company_id=acme["id"]))["id"] for i in range(4)]
    await make_contact(api, "Elsewhere", company_id=other["id"])
    query = """query($id: ID!, $after: String) { company(id: $id) {
        contacts(first: 3, after: $after) { totalCount nodes { id companyName }
          pageInfo { hasNextPage endCursor } } } }"""
    first = data(await api.gql(query, {"id": acme["id"]}))["company"]["contacts"]
    assert first["totalCount"] == 4
    assert [n["id"] for n in first["nodes"]] == list(reversed(ids))[:3]
    assert {n["companyName"] for n in first["nodes"]} == {"Acme"}
    assert first["pageInfo"]["hasNextPage"] is True
    rest = data(await api.gql(query, {"id": acme["id"], "after": first["pageInfo"]["endCursor"]}))
    assert [n["id"] for n in rest["company"]["contacts"]["nodes"]] == [ids[0]]


async def test_mutations_create_update_delete(api: Api, engine: AsyncEngine) -> None:
    company = data(
        await api.gql(
            f"mutation($in: CreateCompanyInput!) {{ createCompany(input: $in) {{ {COMPANY} }} }}",
            {"in": {"name": "Acme Corp", "domain": "Acme.com", "tags": ["enterprise"]}},
        )
    )["createCompany"]
    assert company["id"].startswith("co_") and company["domain"] == "acme.com"
    contact = data(
        await api.gql(
            f"mutation($in: CreateContactInput!) {{ createContact(input: $in) {{ {CONTACT} company {{ name }} }} }}",
            {
                "in": {
                    "name": "John Doe",
                    "email": "john@example.com",
                    "phone": "+33 6 98 76 54 32",
                    "companyId": company["id"],
                    "tags": ["engineering", " engineering"],
                }
            },
        )
    )["createContact"]
    assert contact["phone"] == "+33698765432" and contact["tags"] == ["engineering"]
    assert contact["companyName"] == "Acme Corp" and contact["company"] == {"name": "Acme Corp"}
    rest_view = (await api.get(f"/api/v2/contacts/{contact['id']}")).json()
    assert rest_view["email"] == "john@example.com"

    updated = data(
        await api.gql(
            f"mutation($id: ID!, $in: UpdateContactInput!) {{ updateContact(id: $id, input: $in) {{ {CONTACT} }} }}",
            {"id": contact["id"], "in": {"email": None, "tags": ["vip"], "companyId": None}},
        )
    )["updateContact"]
    assert updated["email"] is None and updated["tags"] == ["vip"]
    assert updated["companyId"] is None and updated["name"] == "John Doe"
    assert updated["phone"] == "+33698765432"  # not sent: unchanged

    co = data(
        await api.gql(
            f"mutation($id: ID!, $in: UpdateCompanyInput!) {{ updateCompany(id: $id, input: $in) {{ {COMPANY} }} }}",
            {"id": company["id"], "in": {"tags": ["enterprise", "priority"], "domain": None}},
        )
    )["updateCompany"]
    assert (
        co["tags"] == ["enterprise", "priority"]
        and co["domain"] is None
        and co["name"] == "Acme Corp"
    )

    deleted = data(
        await api.gql(
            f"mutation($id: ID!) {{ deleteCompany(id: $id) {{ {COMPANY} }} }}",
            {"id": company["id"]},
        )
    )["deleteCompany"]
    assert deleted["deletedAt"] is not None
    restored = data(
        await api.gql(
            f"mutation($id: ID!) {{ restoreCompany(id: $id) {{ {COMPANY} }} }}",
            {"id": company["id"]},
        )
    )["restoreCompany"]
    assert restored["deletedAt"] is None and restored["tags"] == ["enterprise", "priority"]

    gone = data(
        await api.gql("mutation($id: ID!) { deleteContact(id: $id) }", {"id": contact["id"]})
    )
    assert gone == {"deleteContact": contact["id"]}
    assert (await api.get(f"/api/v2/contacts/{contact['id']}")).status_code == 404


async def test_first_and_after_are_validated(api: Api) -> None:
    await make_contact(api, "Jane")
    for first in (0, 101, -1):
        for query in (CONTACTS_PAGE, COMPANIES_PAGE):
            result = await api.gql(query, {"first": first})
            err = error(result, "validation_failed", "first")
            assert "100" in err["message"]
            assert result["data"] is None
    for bad in ("zzz", "bm90LWEtY3Vyc29y", base64.urlsafe_b64encode(b"2026-01-01|").decode()):
        for query in (CONTACTS_PAGE, COMPANIES_PAGE):
            error(await api.gql(query, {"after": bad}), "validation_failed", "after")
    result = await api.gql(
        "query($id: ID!) { company(id: $id) { contacts(first: 101) { totalCount } } }",
        {"id": (await make_company(api, "Acme"))["id"]},
    )
    error(result, "validation_failed", "first")
    assert len(data(await api.gql(CONTACTS_PAGE, {"first": 100}))["contacts"]["nodes"]) == 1


async def test_mutation_errors_carry_code_and_field(api: Api, engine: AsyncEngine) -> None:
    await make_contact(api, "Jane", email="jane@example.com")
    company = await make_company(api, "Acme", domain="acme.com")
    before = await snapshot(engine)
    create = "mutation($in: CreateContactInput!) { createContact(input: $in) { id } }"
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"name": ""}, "validation_failed", "name"),
        ({"name": "x" * 256}, "validation_failed", "name"),
        ({"name": "a", "email": "nope"}, "validation_failed", "email"),
        ({"name": "a", "phone": "12"}, "validation_failed", "phone"),
        ({"name": "a", "tags": [""]}, "validation_failed", "tags"),
        ({"name": "a", "companyId": "co_missing"}, "validation_failed", "companyId"),
        ({"name": "a", "email": "JANE@example.com"}, "conflict", "email"),
    ]
    for variables, code, field in cases:
        result = await api.gql(create, {"in": variables})
        err = error(result, code, field)
        assert err["path"] == ["createContact"]
        assert err["extensions"]["errors"][0]["field"] == field
        assert result["data"] is None
    co_cases: list[tuple[dict[str, Any], str, str]] = [
        ({"name": " "}, "validation_failed", "name"),
        ({"name": "a", "domain": "http://x.com"}, "validation_failed", "domain"),
        ({"name": "a", "domain": "ACME.com"}, "conflict", "domain"),
    ]
    for variables, code, field in co_cases:
        error(
            await api.gql(
                "mutation($in: CreateCompanyInput!) { createCompany(input: $in) { id } }",
                {"in": variables},
            ),
            code,
            field,
        )
    error(
        await api.gql(
            "mutation($id: ID!) { updateCompany(id: $id, input: {name: null}) { id } }",
            {"id": company["id"]},
        ),
        "validation_failed",
        "name",
    )
    for mutation in (
        'updateContact(id: "ct_nope", input: {name: "x"}) { id }',
        'deleteContact(id: "ct_nope")',
        'updateCompany(id: "co_nope", input: {name: "x"}) { id }',
        'deleteCompany(id: "co_nope") { id }',
        'restoreCompany(id: "co_nope") { id }',
    ):
        error(await api.gql(f"mutation {{ {mutation} }}"), "not_found")
    assert await snapshot(engine) == before
    # a GraphQL type error (wrong variable type) is refused before anything runs
    wrong = await api.gql(create, {"in": {"name": 5}})
    assert wrong["errors"][0]["extensions"]["code"] == "validation_failed"
    unknown = await api.gql(create, {"in": {"name": "a", "createdAt": "2026-01-01T00:00:00Z"}})
    assert unknown["errors"][0]["extensions"]["code"] == "validation_failed"
    assert await snapshot(engine) == before


async def test_updating_a_deleted_company_is_a_conflict(api: Api) -> None:
    company = await make_company(api, "Acme", domain="acme.com")
    await api.delete(f"/api/v2/companies/{company['id']}")
    result = await api.gql(
        'mutation($id: ID!) { updateCompany(id: $id, input: {name: "New"}) { id } }',
        {"id": company["id"]},
    )
    error(result, "conflict")
    await make_company(api, "New Acme", domain="acme.com")
    error(
        await api.gql(
            "mutation($id: ID!) { restoreCompany(id: $id) { id } }", {"id": company["id"]}
        ),
        "conflict",
        "domain",
    )


async def test_failed_mutation_undoes_only_itself(api: Api, engine: AsyncEngine) -> None:
    result = await api.gql(
        """mutation {
          ok: createContact(input: {name: "Kept"}) { id }
          bad: createContact(input: {name: "Bad", email: "nope"}) { id }
        }"""
    )
    assert result["data"] is None or result["data"].get("ok") is not None
    error(result, "validation_failed", "email")
    names = [c["name"] for c in (await api.get("/api/v2/contacts")).json()["data"]]
    assert names == ["Kept"]


async def test_tenancy_on_graphql(api: Api, other_api: Api, engine: AsyncEngine) -> None:
    company = await make_company(api, "Acme")
    contact = await make_contact(api, "Jane", company_id=company["id"])
    before = await snapshot(engine)
    seen = data(
        await other_api.gql(
            "query($c: ID!, $co: ID!) { contact(id: $c) { id } company(id: $co) { id } "
            "contacts { totalCount } companies { totalCount } }",
            {"c": contact["id"], "co": company["id"]},
        )
    )
    assert seen == {
        "contact": None,
        "company": None,
        "contacts": {"totalCount": 0},
        "companies": {"totalCount": 0},
    }
    for mutation in (
        'updateContact(id: "{c}", input: {{name: "x"}}) {{ id }}',
        'deleteContact(id: "{c}")',
        'updateCompany(id: "{co}", input: {{name: "x"}}) {{ id }}',
        'deleteCompany(id: "{co}") {{ id }}',
        'restoreCompany(id: "{co}") {{ id }}',
    ):
        text = "mutation { " + mutation.format(c=contact["id"], co=company["id"]) + " }"
        error(await other_api.gql(text), "not_found")
    error(
        await other_api.gql(
            'mutation($co: ID!) { createContact(input: {name: "x", companyId: $co}) { id } }',
            {"co": company["id"]},
        ),
        "validation_failed",
        "companyId",
    )
    assert await snapshot(engine) == before


async def test_scopes_and_authentication_on_fields(
    api: Api, make_key: KeyMaker, api_as: Callable[[str | None], Api], engine: AsyncEngine
) -> None:
    company = await make_company(api, "Acme")
    contact = await make_contact(api, "Jane", company_id=company["id"])
    read_only = api_as(await make_key("acme", ["contacts:read"]))
    write_only = api_as(await make_key("acme", ["contacts:write"]))
    reads = [
        'contact(id: "{c}") {{ id }}',
        "contacts {{ totalCount }}",
        'company(id: "{co}") {{ id }}',
        "companies {{ totalCount }}",
    ]
    writes = [
        'createContact(input: {{name: "x"}}) {{ id }}',
        'updateContact(id: "{c}", input: {{name: "x"}}) {{ id }}',
        'deleteContact(id: "{c}")',
        'createCompany(input: {{name: "x"}}) {{ id }}',
        'updateCompany(id: "{co}", input: {{name: "x"}}) {{ id }}',
        'deleteCompany(id: "{co}") {{ id }}',
        'restoreCompany(id: "{co}") {{ id }}',
    ]
    ids = {"c": contact["id"], "co": company["id"]}
    before = await snapshot(engine)
    for field in reads:
        err = error(await write_only.gql("{ " + field.format(**ids) + " }"), "forbidden")
        assert "contacts:read" in err["message"]
    for field in writes:
        err = error(await read_only.gql("mutation { " + field.format(**ids) + " }"), "forbidden")
        assert "contacts:read" not in err["message"] and "contacts:write" in err["message"]
    for caller in (api_as(None), api_as("ak_live_unknown-key-value"), api_as("garbage")):
        for field in reads:
            err = error(await caller.gql("{ " + field.format(**ids) + " }"), "unauthenticated")
            assert "API key" in err["message"]
        for field in writes:
            error(await caller.gql("mutation { " + field.format(**ids) + " }"), "unauthenticated")
    assert await snapshot(engine) == before
    # the errors are per field: a nested company needs contacts:read too
    data(await read_only.gql("{ contacts { nodes { company { name } } } }"))


async def test_introspection_without_a_key(api_as: Callable[[str | None], Api]) -> None:
    result = await api_as(None).gql(
        '{ __schema { queryType { name } mutationType { name } } __type(name: "Contact") { fields { name } } }'
    )
    got = data(result)
    assert got["__schema"] == {"queryType": {"name": "Query"}, "mutationType": {"name": "Mutation"}}
    assert "companyName" in {f["name"] for f in got["__type"]["fields"]}


async def test_graphiql_on_get(api_as: Callable[[str | None], Api]) -> None:
    response = await api_as(None).get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_depth_alias_and_token_limits(api: Api) -> None:
    await make_contact(api, "Jane", company_id=(await make_company(api, "Acme"))["id"])
    deep = "{ contacts { nodes { company { contacts { nodes { company { contacts { nodes { company { contacts { nodes { company { contacts { nodes { id } } } } } } } } } } } } } } }"
    aliases = "{ " + " ".join(f"a{i}: contacts {{ totalCount }}" for i in range(31)) + " }"
    tokens = "{ contacts { " + "totalCount " * 2100 + "} }"
    for query, needle in ((deep, "depth"), (aliases, "aliases"), (tokens, "tokens")):
        result = await api.gql(query)
        assert result["data"] is None, result
        err = result["errors"][0]
        assert err["extensions"]["code"] == "validation_failed", result
        assert needle in err["message"], err
    # just inside the limits is fine
    ok_aliases = "{ " + " ".join(f"a{i}: contacts {{ totalCount }}" for i in range(30)) + " }"
    assert data(await api.gql(ok_aliases))["a0"] == {"totalCount": 1}


async def test_syntax_and_unknown_field_errors_have_codes(api: Api) -> None:
    for query in ("{ contacts { ", "{ nope }", 'query { contacts(first: "x") { totalCount } }'):
        result = await api.gql(query)
        assert result["errors"][0]["extensions"]["code"] == "validation_failed", result
