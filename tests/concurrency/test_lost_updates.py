"""Concurrent partial updates of different fields of one record: no field is ever lost."""

from __future__ import annotations

import asyncio

from tests.conftest import Api

ROUNDS = 3

UPDATE_CONTACT = """
mutation($id: ID!, $input: UpdateContactInput!) { updateContact(id: $id, input: $input) { id } }
"""


async def test_concurrent_patches_of_different_fields_all_stick(api: Api) -> None:
    """name, phone, email, tags and company_id patched at once (REST and GraphQL): all kept."""
    created = await api.post("/api/v2/contacts", json={"name": "Start"})
    assert created.status_code == 201
    contact_id = created.json()["id"]
    companies = []
    for n in range(ROUNDS):
        made = await api.post("/api/v2/companies", json={"name": f"Co {n}"})
        assert made.status_code == 201
        companies.append(made.json()["id"])
    url = f"/api/v2/contacts/{contact_id}"
    for n in range(ROUNDS):
        responses = await asyncio.gather(
            api.patch(url, json={"name": f"Name {n}"}),
            api.patch(url, json={"phone": f"+1415555{n:04d}"}),
            api.patch(url, json={"email": f"round{n}@example.com"}),
            api.patch(url, json={"tags": [f"t{n}"]}),
            api.post(
                "/graphql",
                json={
                    "query": UPDATE_CONTACT,
                    "variables": {"id": contact_id, "input": {"companyId": companies[n]}},
                },
            ),
        )
        assert [r.status_code for r in responses] == [200] * 5, [r.text for r in responses]
        assert "errors" not in responses[-1].json(), responses[-1].text
        got = (await api.get(url)).json()
        assert got["name"] == f"Name {n}"
        assert got["phone"].replace(" ", "").endswith(f"555{n:04d}")
        assert got["email"] == f"round{n}@example.com"
        assert got["tags"] == [f"t{n}"]
        assert got["company_id"] == companies[n]
    # Every update was applied on top of the previous one (none raced past another).
    assert (await api.get(url)).json()["version"] == 1 + 5 * ROUNDS


async def test_concurrent_patches_of_two_companies_fields(api: Api) -> None:
    """The same for companies: name and domain and tags at once."""
    made = await api.post("/api/v2/companies", json={"name": "Start"})
    url = f"/api/v2/companies/{made.json()['id']}"
    for n in range(ROUNDS):
        responses = await asyncio.gather(
            api.patch(url, json={"name": f"Name {n}"}),
            api.patch(url, json={"domain": f"d{n}.example.com"}),
            api.patch(url, json={"tags": [f"t{n}"]}),
        )
        assert [r.status_code for r in responses] == [200] * 3, [r.text for r in responses]
        got = (await api.get(url)).json()
        assert (got["name"], got["domain"], got["tags"]) == (
            f"Name {n}",
            f"d{n}.example.com",
            [f"t{n}"],
        )
