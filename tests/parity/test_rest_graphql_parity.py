"""REST and GraphQL are two doors to one domain layer: same results, same error codes."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Api, KeyMaker
from tests.rest._support import make_company, make_contact

CONTACT_REST = (
    "id",
    "name",
    "email",
    "phone",
    "company_id",
    "company_name",
    "tags",
    "created_at",
    "updated_at",
)
COMPANY_REST = (
    "id",
    "name",
    "domain",
    "tags",
    "contact_count",
    "created_at",
    "updated_at",
    "deleted_at",
)
VOLATILE = {"id", "created_at", "updated_at"}


def camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


CONTACT_GQL = " ".join(camel(f) for f in CONTACT_REST)
COMPANY_GQL = " ".join(camel(f) for f in COMPANY_REST)


def as_rest(node: dict[str, Any]) -> dict[str, Any]:
    return {snake(k): v for k, v in node.items()}


def pick(
    body: dict[str, Any], fields: tuple[str, ...], drop: set[str] = frozenset()
) -> dict[str, Any]:  # type: ignore[assignment]
    return {f: body[f] for f in fields if f not in drop}


def gql_data(result: dict[str, Any], name: str) -> Any:
    assert "errors" not in result, result
    return result["data"][name]


def gql_error(result: dict[str, Any]) -> tuple[str, str | None]:
    assert result.get("errors"), result
    ext = result["errors"][0]["extensions"]
    return ext["code"], ext.get("field")


def rest_error(response: Any) -> tuple[str, str | None]:
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json"), body
    field = body["errors"][0]["field"] if body["errors"] else None
    return body["code"], (camel(field) if field else None)


async def gql_create_contact(api: Api, data: dict[str, Any]) -> dict[str, Any]:
    result = await api.gql(
        f"mutation($in: CreateContactInput!) {{ createContact(input: $in) {{ {CONTACT_GQL} }} }}",
        {"in": {camel(k): v for k, v in data.items()}},
    )
    return as_rest(gql_data(result, "createContact"))


async def test_created_contacts_read_the_same_through_both(api: Api) -> None:
    company = await make_company(api, "Acme Corp", domain="acme.com")
    fields = {
        "phone": "+33 6 12 34 56 78",
        "company_id": company["id"],
        "tags": ["vip", " vip", "b"],
    }
    via_rest = await make_contact(api, "Jane Smith", email="Jane@Example.com", **fields)
    via_gql = await gql_create_contact(
        api, {"name": "Jane Smith", "email": "jane2@Example.com", **fields}
    )
    assert pick(via_rest, CONTACT_REST, VOLATILE | {"email"}) == pick(
        via_gql, CONTACT_REST, VOLATILE | {"email"}
    )
    assert (via_rest["email"], via_gql["email"]) == ("Jane@example.com", "jane2@example.com")

    for created in (via_rest, via_gql):
        rest_view = (await api.get(f"/api/v2/contacts/{created['id']}")).json()
        gql_view = as_rest(
            gql_data(
                await api.gql(
                    f"query($id: ID!) {{ contact(id: $id) {{ {CONTACT_GQL} }} }}",
                    {"id": created["id"]},
                ),
                "contact",
            )
        )
        assert pick(rest_view, CONTACT_REST) == gql_view == pick(created, CONTACT_REST)


async def test_lists_agree(api: Api) -> None:
    company = await make_company(api, "Acme", tags=["t"])
    for i in range(5):
        await make_contact(
            api,
            f"Smith {i}",
            email=f"s{i}@x.io",
            tags=["vip"] if i % 2 else [],
            company_id=company["id"] if i < 3 else None,
        )
    for params, args in [
        ({"limit": 3}, {"first": 3}),
        ({"search": "SMITH 1"}, {"search": "SMITH 1"}),
        ({"tags": "vip,none"}, {"tags": ["vip", "none"]}),
        ({"company_id": company["id"]}, {"companyId": company["id"]}),
    ]:
        rest = (await api.get("/api/v2/contacts", params=params)).json()
        conn = gql_data(
            await api.gql(
                "query($first: Int, $search: String, $tags: [String!], $companyId: ID) {"
                " contacts(first: $first, search: $search, tags: $tags, companyId: $companyId) {"
                f" totalCount nodes {{ {CONTACT_GQL} }} }} }}",
                args,
            ),
            "contacts",
        )
        assert conn["totalCount"] == rest["total"], params
        assert [as_rest(n) for n in conn["nodes"]] == [
            pick(c, CONTACT_REST) for c in rest["data"]
        ], params
    rest_companies = (await api.get("/api/v2/companies")).json()
    gql_companies = gql_data(
        await api.gql(f"{{ companies {{ totalCount nodes {{ {COMPANY_GQL} }} }} }}"), "companies"
    )
    assert [as_rest(n) for n in gql_companies["nodes"]] == [
        pick(c, COMPANY_REST) for c in rest_companies["data"]
    ]
    assert gql_companies["totalCount"] == rest_companies["total"] == 1


async def test_updates_agree(api: Api) -> None:
    company = await make_company(api, "Acme")
    a = await make_contact(
        api, "Jane", email="a@x.io", phone="+33612345678", company_id=company["id"], tags=["x"]
    )
    b = await make_contact(
        api, "Jane", email="b@x.io", phone="+33612345678", company_id=company["id"], tags=["x"]
    )
    for patch in (
        {"phone": "+33698765432", "tags": ["vip", "engineering"]},
        {"name": "Jane Doe", "company_id": None},
        {"phone": None, "tags": []},
        {},
    ):
        rest = await api.patch(f"/api/v2/contacts/{a['id']}", json=patch)
        assert rest.status_code == 200, rest.text
        gql = as_rest(
            gql_data(
                await api.gql(
                    f"mutation($id: ID!, $in: UpdateContactInput!) {{ updateContact(id: $id, input: $in) {{ {CONTACT_GQL} }} }}",
                    {"id": b["id"], "in": {camel(k): v for k, v in patch.items()}},
                ),
                "updateContact",
            )
        )
        drop = VOLATILE | {"email"}
        assert pick(rest.json(), CONTACT_REST, drop) == pick(gql, CONTACT_REST, drop), patch

    c1 = await make_company(api, "One", domain="one.com", tags=["a"])
    c2 = await make_company(api, "One", domain="two.com", tags=["a"])
    rest_co = (
        await api.patch(f"/api/v2/companies/{c1['id']}", json={"tags": ["p"], "domain": None})
    ).json()
    gql_co = as_rest(
        gql_data(
            await api.gql(
                f'mutation($id: ID!) {{ updateCompany(id: $id, input: {{tags: ["p"], domain: null}}) {{ {COMPANY_GQL} }} }}',
                {"id": c2["id"]},
            ),
            "updateCompany",
        )
    )
    assert pick(rest_co, COMPANY_REST, VOLATILE) == pick(gql_co, COMPANY_REST, VOLATILE)


async def test_delete_and_restore_agree(api: Api) -> None:
    a = await make_contact(api, "A")
    b = await make_contact(api, "B")
    assert (await api.delete(f"/api/v2/contacts/{a['id']}")).status_code == 204
    assert (
        gql_data(
            await api.gql("mutation($id: ID!) { deleteContact(id: $id) }", {"id": b["id"]}),
            "deleteContact",
        )
        == b["id"]
    )
    for contact in (a, b):
        assert (await api.get(f"/api/v2/contacts/{contact['id']}")).status_code == 404
        assert (
            gql_data(
                await api.gql("query($id: ID!) { contact(id: $id) { id } }", {"id": contact["id"]}),
                "contact",
            )
            is None
        )

    c1 = await make_company(api, "One", domain="one.com")
    c2 = await make_company(api, "Two", domain="two.com")
    assert (await api.delete(f"/api/v2/companies/{c1['id']}")).status_code == 204
    gql_deleted = as_rest(
        gql_data(
            await api.gql(
                f"mutation($id: ID!) {{ deleteCompany(id: $id) {{ {COMPANY_GQL} }} }}",
                {"id": c2["id"]},
            ),
            "deleteCompany",
        )
    )
    rest_deleted = (await api.get(f"/api/v2/companies/{c1['id']}")).json()
    assert rest_deleted["deleted_at"] and gql_deleted["deleted_at"]
    restored_rest = (await api.post(f"/api/v2/companies/{c1['id']}/restore")).json()
    restored_gql = as_rest(
        gql_data(
            await api.gql(
                f"mutation($id: ID!) {{ restoreCompany(id: $id) {{ {COMPANY_GQL} }} }}",
                {"id": c2["id"]},
            ),
            "restoreCompany",
        )
    )
    assert restored_rest["deleted_at"] is None and restored_gql["deleted_at"] is None
    assert pick(restored_rest, COMPANY_REST, VOLATILE | {"name", "domain"}) == pick(
        restored_gql, COMPANY_REST, VOLATILE | {"name", "domain"}
    )


# (REST method, path, body) and the GraphQL operation doing the same thing; {c}/{co} are ids.
OPERATIONS: dict[str, tuple[str, str, dict[str, Any] | None, str]] = {
    "create contact": (
        "POST",
        "/api/v2/contacts",
        {"name": "N"},
        'mutation { createContact(input: {name: "N"}) { id } }',
    ),
    "get contact": ("GET", "/api/v2/contacts/{c}", None, '{{ contact(id: "{c}") {{ id }} }}'),
    "list contacts": ("GET", "/api/v2/contacts", None, "{ contacts { totalCount } }"),
    "update contact": (
        "PATCH",
        "/api/v2/contacts/{c}",
        {"name": "M"},
        'mutation {{ updateContact(id: "{c}", input: {{name: "M"}}) {{ id }} }}',
    ),
    "delete contact": (
        "DELETE",
        "/api/v2/contacts/{c}",
        None,
        'mutation {{ deleteContact(id: "{c}") }}',
    ),
    "create company": (
        "POST",
        "/api/v2/companies",
        {"name": "N"},
        'mutation { createCompany(input: {name: "N"}) { id } }',
    ),
    "get company": ("GET", "/api/v2/companies/{co}", None, '{{ company(id: "{co}") {{ id }} }}'),
    "list companies": ("GET", "/api/v2/companies", None, "{ companies { totalCount } }"),
    "update company": (
        "PATCH",
        "/api/v2/companies/{co}",
        {"name": "M"},
        'mutation {{ updateCompany(id: "{co}", input: {{name: "M"}}) {{ id }} }}',
    ),
    "delete company": (
        "DELETE",
        "/api/v2/companies/{co}",
        None,
        'mutation {{ deleteCompany(id: "{co}") {{ id }} }}',
    ),
    "restore company": (
        "POST",
        "/api/v2/companies/{co}/restore",
        None,
        'mutation {{ restoreCompany(id: "{co}") {{ id }} }}',
    ),
}


def _fmt(text: str, ids: dict[str, str]) -> str:
    return text.format(**ids) if "{c" in text else text


async def _both(
    caller: Api, name: str, ids: dict[str, str]
) -> tuple[tuple[str, str | None], tuple[str, str | None]]:
    method, path, body, query = OPERATIONS[name]
    kw = {"json": body} if body is not None else {}
    rest = await caller.request(method, path.format(**ids), **kw)
    gql = await caller.gql(_fmt(query, ids))
    return rest_error(rest), gql_error(gql)


@pytest.mark.parametrize("scopes", [["contacts:read"], ["contacts:write"], ["config:read"]])
async def test_forbidden_and_unauthenticated_agree(
    api: Api, make_key: KeyMaker, api_as: Callable[[str | None], Api], scopes: list[str]
) -> None:
    ids = {
        "c": (await make_contact(api, "Jane"))["id"],
        "co": (await make_company(api, "Acme"))["id"],
    }
    limited = api_as(await make_key("acme", scopes))
    for name, (method, *_rest) in OPERATIONS.items():
        needed = "contacts:read" if method == "GET" else "contacts:write"
        if needed in scopes:
            continue
        rest, gql = await _both(limited, name, ids)
        assert rest == gql == ("forbidden", None), name
    for raw in (None, "ak_live_not-a-key"):
        for name in OPERATIONS:
            rest, gql = await _both(api_as(raw), name, ids)
            assert rest == gql == ("unauthenticated", None), (raw, name)


async def test_not_found_agrees(api: Api, other_api: Api) -> None:
    ids = {
        "c": (await make_contact(api, "Jane"))["id"],
        "co": (await make_company(api, "Acme"))["id"],
    }
    for name in (
        "update contact",
        "delete contact",
        "update company",
        "delete company",
        "restore company",
    ):
        for caller, label in ((other_api, "other account"), (api, "missing")):
            use = ids if label == "other account" else {"c": "ct_missing", "co": "co_missing"}
            rest, gql = await _both(caller, name, use)
            assert rest == gql and rest[0] == "not_found", (name, label)


VALIDATION_CASES: list[tuple[str, dict[str, Any]]] = [
    ("contacts", {"name": ""}),
    ("contacts", {"name": "x" * 256}),
    ("contacts", {"name": "a", "email": "nope"}),
    ("contacts", {"name": "a", "phone": "12"}),
    ("contacts", {"name": "a", "tags": ["x" * 65]}),
    ("contacts", {"name": "a", "company_id": "co_missing"}),
    ("companies", {"name": " "}),
    ("companies", {"name": "a", "domain": "not a host"}),
    ("companies", {"name": "a", "tags": [""]}),
]


async def test_validation_failures_and_conflicts_agree(api: Api) -> None:
    await make_contact(api, "Jane", email="jane@example.com")
    company = await make_company(api, "Acme", domain="acme.com")
    cases = [
        *VALIDATION_CASES,
        ("contacts", {"name": "a", "email": "JANE@example.com"}),
        ("companies", {"name": "a", "domain": "acme.COM"}),
    ]
    for resource, body in cases:
        rest = rest_error(await api.post(f"/api/v2/{resource}", json=body))
        mutation = "createContact" if resource == "contacts" else "createCompany"
        input_type = "CreateContactInput" if resource == "contacts" else "CreateCompanyInput"
        gql = gql_error(
            await api.gql(
                f"mutation($in: {input_type}!) {{ {mutation}(input: $in) {{ id }} }}",
                {"in": {camel(k): v for k, v in body.items()}},
            )
        )
        assert rest == gql, (resource, body, rest, gql)
        assert rest[0] in ("validation_failed", "conflict") and rest[1], (body, rest)
    # PATCH of a deleted company: conflict through both
    await api.delete(f"/api/v2/companies/{company['id']}")
    rest, gql = await _both(api, "update company", {"c": "-", "co": company["id"]})
    assert rest[0] == gql[0] == "conflict"
    # list limits: REST limit and GraphQL first share the same bound
    assert (
        rest_error(await api.get("/api/v2/contacts", params={"limit": 101}))[0]
        == gql_error(await api.gql("{ contacts(first: 101) { totalCount } }"))[0]
        == "validation_failed"
    )
