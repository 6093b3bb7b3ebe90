"""Custom field definitions (REST), value validation on contacts/companies, list filters."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.rest._support import assert_problem, make_company, make_contact

CF = "/api/v2/custom-fields"


async def define(api: Api, key: str, type: str, **fields: Any) -> dict[str, Any]:
    body = {"key": key, "label": key.title(), "type": type, "applies_to": "contacts", **fields}
    response = await api.post(CF, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_definition_lifecycle(api: Api) -> None:
    plan = await define(api, "plan", "select", options=["gold", "silver", " gold "][:2])
    assert plan["options"] == ["gold", "silver"] and plan["required"] is False
    assert plan["applies_to"] == "contacts" and plan["created_at"].endswith("Z")
    await define(api, "seats", "number", applies_to="companies", required=True)
    listed = (await api.get(CF)).json()
    assert [d["key"] for d in listed["data"]] == ["plan", "seats"] and listed["total"] == 2
    only = (await api.get(CF, params={"applies_to": "companies"})).json()
    assert [d["key"] for d in only["data"]] == ["seats"]
    assert (await api.get(f"{CF}/plan")).json()["label"] == "Plan"
    patched = await api.patch(
        f"{CF}/plan", json={"label": "Plan tier", "options": ["gold", "bronze"], "required": True}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["options"] == ["gold", "bronze"] and patched.json()["required"] is True
    assert (await api.delete(f"{CF}/plan")).status_code == 204
    assert_problem(await api.get(f"{CF}/plan"), 404, "not_found")
    assert_problem(await api.delete(f"{CF}/plan"), 404, "not_found")
    assert_problem(await api.patch(f"{CF}/plan", json={"label": "x"}), 404, "not_found")


BAD_DEFINITIONS: list[tuple[dict[str, Any], str]] = [
    ({"key": "Plan"}, "key"),
    ({"key": "1plan"}, "key"),
    ({"key": "plan-tier"}, "key"),
    ({"key": "p" * 65}, "key"),
    ({"key": ""}, "key"),
    ({"label": ""}, "label"),
    ({"label": "x" * 256}, "label"),
    ({"type": "json"}, "type"),
    ({"applies_to": "tickets"}, "applies_to"),
    ({"type": "select"}, "options"),
    ({"type": "multi_select", "options": []}, "options"),
    ({"type": "select", "options": ["a", "a"]}, "options"),
    ({"type": "select", "options": ["a", ""]}, "options"),
    ({"type": "select", "options": [1]}, "options"),
    ({"type": "select", "options": ["x" * 101]}, "options"),
    ({"type": "text", "options": ["a"]}, "options"),
    ({"required": "yes"}, "required"),
    ({"default": 1}, "default"),
]


async def test_every_bad_definition_is_422(api: Api) -> None:
    base = {"key": "plan", "label": "Plan", "type": "text", "applies_to": "contacts"}
    for change, field in BAD_DEFINITIONS:
        response = await api.post(CF, json={**base, **change})
        assert_problem(response, 422, "validation_failed", field)
    for missing in ("key", "label", "type", "applies_to"):
        body = {k: v for k, v in base.items() if k != missing}
        assert_problem(await api.post(CF, json=body), 422, "validation_failed", missing)
    assert (await api.get(CF)).json()["total"] == 0
    await define(api, "plan", "select", options=["gold"])
    assert_problem(await api.post(CF, json=base), 409, "conflict", "key")
    for change, field in (
        ({"type": "text"}, "type"),
        ({"key": "tier"}, "key"),
        ({"applies_to": "companies"}, "applies_to"),
        ({"options": []}, "options"),
        ({"label": None}, "label"),
        ({"required": None}, "required"),
        ({"label": ""}, "label"),
    ):
        response = await api.patch(f"{CF}/plan", json=change)
        assert_problem(response, 422, "validation_failed", field)
    assert (await api.get(f"{CF}/plan")).json()["options"] == ["gold"]


async def test_scopes_and_tenancy(
    api: Api, other_api: Api, reader: Api, writer: Api, configurer: Api, anonymous: Api
) -> None:
    body = {"key": "plan", "label": "Plan", "type": "text", "applies_to": "contacts"}
    for caller in (reader, writer):
        assert_problem(await caller.post(CF, json=body), 403, "forbidden")
    assert_problem(await anonymous.post(CF, json=body), 401, "unauthenticated")
    assert_problem(await anonymous.get(CF), 401, "unauthenticated")
    assert (await configurer.post(CF, json=body)).status_code == 201
    assert_problem(await configurer.get(CF), 403, "forbidden")  # listing needs contacts:read
    assert (await reader.get(CF)).json()["total"] == 1
    for caller in (reader, writer):
        assert_problem(await caller.patch(f"{CF}/plan", json={"label": "x"}), 403, "forbidden")
        assert_problem(await caller.delete(f"{CF}/plan"), 403, "forbidden")
    # Another account neither sees nor changes it, and may define the same key.
    assert (await other_api.get(CF)).json()["total"] == 0
    assert_problem(await other_api.get(f"{CF}/plan"), 404, "not_found")
    assert_problem(await other_api.patch(f"{CF}/plan", json={"label": "x"}), 404, "not_found")
    assert_problem(await other_api.delete(f"{CF}/plan"), 404, "not_found")
    assert (await other_api.post(CF, json=body)).status_code == 201
    assert (await api.get(f"{CF}/plan")).json()["label"] == "Plan"


async def test_values_are_validated_on_create_and_update(api: Api) -> None:
    await define(api, "note", "text")
    await define(api, "seats", "number")
    await define(api, "active", "boolean")
    await define(api, "renews", "date")
    await define(api, "plan", "select", options=["gold", "silver"], required=True)
    await define(api, "areas", "multi_select", options=["emea", "apac"])
    await define(api, "industry", "text", applies_to="companies")
    ok = {"plan": "gold"}
    bad: list[tuple[dict[str, Any], str]] = [
        ({"note": 5}, "note"),
        ({"note": "x" * 2001}, "note"),
        ({"seats": "5"}, "seats"),
        ({"seats": True}, "seats"),
        ({"seats": 2**53}, "seats"),  # beyond what a JSON client holds exactly
        ({"seats": -(2**53)}, "seats"),
        ({"active": "true"}, "active"),
        ({"active": 1}, "active"),
        ({"renews": "2026-02-30"}, "renews"),
        ({"renews": "15/01/2026"}, "renews"),
        ({"renews": "2026-01-15T10:00:00Z"}, "renews"),
        ({"plan": "platinum"}, "plan"),
        ({"plan": ["gold"]}, "plan"),
        ({"areas": "emea"}, "areas"),
        ({"areas": ["emea", "latam"]}, "areas"),
        ({"unknown": 1}, "unknown"),
        ({"industry": "retail"}, "industry"),  # a companies field
    ]
    for values, key in bad:
        response = await api.post(
            "/api/v2/contacts", json={"name": "Jane", "custom_fields": {**ok, **values}}
        )
        assert_problem(response, 422, "validation_failed", f"custom_fields.{key}")
    missing = await api.post("/api/v2/contacts", json={"name": "Jane"})
    assert_problem(missing, 422, "validation_failed", "custom_fields.plan")
    assert (await api.get("/api/v2/contacts")).json()["total"] == 0
    values = {
        "note": "likes tea",
        "seats": 12.5,
        "active": False,
        "renews": "2026-12-31",
        "plan": "gold",
        "areas": ["apac", "emea", "apac"],
    }
    contact = await make_contact(api, custom_fields=values)
    assert contact["custom_fields"] == {**values, "areas": ["apac", "emea"]}
    # PATCH merges: keys sent replace theirs, null removes a key, others stay.
    largest = await api.patch(
        f"/api/v2/contacts/{contact['id']}", json={"custom_fields": {"seats": 2**53 - 1}}
    )
    assert largest.status_code == 200, largest.text
    stored = (await api.get(f"/api/v2/contacts/{contact['id']}")).json()["custom_fields"]
    assert stored["seats"] == 2**53 - 1 and isinstance(stored["seats"], int)  # read back exactly
    patched = await api.patch(
        f"/api/v2/contacts/{contact['id']}",
        json={"custom_fields": {"seats": 3, "note": None}},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["custom_fields"] == {
        "seats": 3,
        "active": False,
        "renews": "2026-12-31",
        "plan": "gold",
        "areas": ["apac", "emea"],
    }
    for values, key in [*bad, ({"plan": None}, "plan")]:
        response = await api.patch(
            f"/api/v2/contacts/{contact['id']}", json={"custom_fields": values}
        )
        assert_problem(response, 422, "validation_failed", f"custom_fields.{key}")
    # Companies are validated against their own definitions.
    company = await make_company(api, custom_fields={"industry": "retail"})
    assert company["custom_fields"] == {"industry": "retail"}
    response = await api.post(
        "/api/v2/companies", json={"name": "X", "custom_fields": {"plan": "gold"}}
    )
    assert_problem(response, 422, "validation_failed", "custom_fields.plan")
    response = await api.patch(
        f"/api/v2/companies/{company['id']}", json={"custom_fields": {"industry": 7}}
    )
    assert_problem(response, 422, "validation_failed", "custom_fields.industry")


async def test_deleting_a_definition_keeps_values_readable(api: Api) -> None:
    await define(api, "plan", "select", options=["gold", "silver"])
    await define(api, "seats", "number")
    contact = await make_contact(api, custom_fields={"plan": "gold", "seats": 4})
    assert (await api.delete(f"{CF}/plan")).status_code == 204
    read = (await api.get(f"/api/v2/contacts/{contact['id']}")).json()
    assert read["custom_fields"] == {"plan": "gold", "seats": 4}
    # Other fields still update; the orphaned value stays untouched…
    patched = await api.patch(
        f"/api/v2/contacts/{contact['id']}", json={"name": "Jane B", "custom_fields": {"seats": 5}}
    )
    assert patched.json()["custom_fields"] == {"plan": "gold", "seats": 5}
    # …cannot be set any more, can be removed, and is no longer filterable.
    response = await api.patch(
        f"/api/v2/contacts/{contact['id']}", json={"custom_fields": {"plan": "silver"}}
    )
    assert_problem(response, 422, "validation_failed", "custom_fields.plan")
    response = await api.get("/api/v2/contacts", params={"custom_fields[plan]": "gold"})
    assert_problem(response, 422, "validation_failed", "custom_fields[plan]")
    cleared = await api.patch(
        f"/api/v2/contacts/{contact['id']}", json={"custom_fields": {"plan": None}}
    )
    assert cleared.json()["custom_fields"] == {"seats": 5}
    # Defining the key again (another type) does not misread old rows.
    await define(api, "plan", "number")
    assert (await api.get("/api/v2/contacts", params={"custom_fields[plan]": "1"})).json()[
        "total"
    ] == 0


async def _ids(api: Api, url: str, **params: str) -> set[str]:
    response = await api.get(url, params={f"custom_fields[{k}]": v for k, v in params.items()})
    assert response.status_code == 200, response.text
    return {r["id"] for r in response.json()["data"]}


async def test_list_filters_by_type(api: Api) -> None:
    await define(api, "note", "text")
    await define(api, "seats", "number")
    await define(api, "active", "boolean")
    await define(api, "renews", "date")
    await define(api, "plan", "select", options=["gold", "silver"])
    await define(api, "areas", "multi_select", options=["emea", "apac"])
    await define(api, "tier", "select", options=["1", "2"])
    a = await make_contact(
        api,
        "A",
        custom_fields={
            "note": "x",
            "seats": 5,
            "active": True,
            "renews": "2026-01-01",
            "plan": "gold",
            "areas": ["emea"],
            "tier": "1",
        },
    )
    b = await make_contact(
        api,
        "B",
        custom_fields={
            "note": "y",
            "seats": 5.5,
            "active": False,
            "plan": "silver",
            "areas": ["emea", "apac"],
        },
    )
    c = await make_contact(api, "C", custom_fields={"seats": 1})
    await make_contact(api, "D")
    url = "/api/v2/contacts"
    assert await _ids(api, url, note="x") == {a["id"]}
    assert await _ids(api, url, seats="5") == {a["id"]}
    assert await _ids(api, url, seats="5.0") == {a["id"]}
    assert await _ids(api, url, seats="5.5") == {b["id"]}
    assert await _ids(api, url, active="true") == {a["id"]}
    assert await _ids(api, url, active="FALSE") == {b["id"]}
    # A stored number 1 is not the boolean true (SQLite's json_extract gives 1 for both).
    assert await _ids(api, url, seats="1") == {c["id"]}
    assert await _ids(api, url, renews="2026-01-01") == {a["id"]}
    assert await _ids(api, url, plan="gold") == {a["id"]}
    assert await _ids(api, url, areas="apac") == {b["id"]}
    assert await _ids(api, url, areas="emea") == {a["id"], b["id"]}
    assert await _ids(api, url, tier="1") == {a["id"]}  # text "1", not the number 1
    assert await _ids(api, url, plan="gold", note="y") == set()
    total = (await api.get(url, params={"custom_fields[plan]": "silver"})).json()["total"]
    assert total == 1
    for key, value in (
        ("seats", "many"),
        ("seats", "nan"),
        ("active", "yes"),
        ("nope", "1"),
        ("Bad-Key", "1"),
    ):
        response = await api.get(url, params={f"custom_fields[{key}]": value})
        assert_problem(response, 422, "validation_failed", f"custom_fields[{key}]")


async def test_company_filters(api: Api) -> None:
    await define(api, "industry", "select", options=["retail", "banking"], applies_to="companies")
    await define(api, "public", "boolean", applies_to="companies")
    shop = await make_company(api, "Shop", custom_fields={"industry": "retail", "public": True})
    await make_company(api, "Bank", custom_fields={"industry": "banking", "public": False})
    url = "/api/v2/companies"
    assert await _ids(api, url, industry="retail") == {shop["id"]}
    assert await _ids(api, url, public="true") == {shop["id"]}
    # A contacts key is not a companies filter.
    await define(api, "plan", "text")
    response = await api.get(url, params={"custom_fields[plan]": "x"})
    assert_problem(response, 422, "validation_failed", "custom_fields[plan]")
