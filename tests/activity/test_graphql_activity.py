"""GraphQL twins: logActivity, uploadAttachment (multipart spec), Contact.activity/attachments,
custom field definitions; scopes and tenancy; a constant number of SQL statements."""

from __future__ import annotations

import json
from typing import Any

from contacts_gateway.settings import Settings
from tests.activity.conftest import PNG, WHEN, blob_files, make_activity, upload
from tests.conftest import Api
from tests.rest._support import make_company, make_contact

LOG = """mutation($c: ID!, $i: LogActivityInput!) {
  logActivity(contactId: $c, input: $i) {
    id type subject direction occurredAt durationSeconds source attachments { id }
  }
}"""
UPLOAD = """mutation($c: ID!, $f: Upload!, $a: ID) {
  uploadAttachment(contactId: $c, file: $f, activityId: $a) {
    id activityId filename contentType size sha256 downloadUrl
  }
}"""


async def gql_upload(
    api: Api,
    contact_id: str,
    content: bytes,
    filename: str,
    activity_id: str | None = None,
    extra_query: str = "",
) -> dict[str, Any]:
    query = UPLOAD if not extra_query else UPLOAD.replace("mutation(", "mutation M(", 1)
    if extra_query:
        query = query[:-1] + extra_query + "}"
    operations = {"query": query, "variables": {"c": contact_id, "f": None, "a": activity_id}}
    response = await api.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.f"]})},
        files={"0": (filename, content, "text/html")},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors", [])]


async def test_log_activity_and_read_the_timeline(api: Api) -> None:
    contact = await make_contact(api)
    result = await api.gql(
        LOG,
        {
            "c": contact["id"],
            "i": {
                "type": "CALL",
                "occurredAt": "2026-01-15T11:00:00+01:00",
                "subject": "Hi",
                "direction": "INBOUND",
                "durationSeconds": 30,
            },
        },
    )
    assert "errors" not in result, result
    item = result["data"]["logActivity"]
    assert item["type"] == "CALL" and item["direction"] == "INBOUND"
    assert item["occurredAt"] == "2026-01-15T10:00:00.000Z" and item["source"] == "api"
    older = await make_activity(api, contact["id"], occurred_at="2025-01-01T00:00:00Z")
    bad = await api.gql(
        LOG, {"c": contact["id"], "i": {"type": "TICKET", "occurredAt": WHEN, "durationSeconds": 5}}
    )
    assert codes(bad) == ["validation_failed"]
    assert bad["errors"][0]["extensions"]["field"] == "durationSeconds"
    bad = await api.gql(LOG, {"c": contact["id"], "i": {"type": "CALL", "occurredAt": "soon"}})
    assert codes(bad) == ["validation_failed"]
    assert bad["errors"][0]["extensions"]["field"] == "occurredAt"
    page = await api.gql(
        """query($id: ID!, $after: String) { contact(id: $id) { activity(first: 1, after: $after) {
            totalCount nodes { id } pageInfo { hasNextPage hasPreviousPage endCursor } } } }""",
        {"id": contact["id"]},
    )
    first = page["data"]["contact"]["activity"]
    assert first["totalCount"] == 2 and [n["id"] for n in first["nodes"]] == [item["id"]]
    assert first["pageInfo"]["hasNextPage"] is True
    page = await api.gql(
        """query($id: ID!, $after: String) { contact(id: $id) { activity(first: 1, after: $after) {
            nodes { id } pageInfo { hasNextPage hasPreviousPage } } } }""",
        {"id": contact["id"], "after": first["pageInfo"]["endCursor"]},
    )
    second = page["data"]["contact"]["activity"]
    assert [n["id"] for n in second["nodes"]] == [older["id"]]
    assert second["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True}
    bad_page = await api.gql(
        "query($id: ID!) { contact(id: $id) { activity(first: 0) { totalCount } } }",
        {"id": contact["id"]},
    )
    assert codes(bad_page) == ["validation_failed"]
    bad_cursor = await api.gql(
        'query($id: ID!) { contact(id: $id) { activity(after: "nope") { totalCount } } }',
        {"id": contact["id"]},
    )
    assert codes(bad_cursor) == ["validation_failed"]


async def test_upload_through_the_multipart_spec(api: Api, settings: Settings) -> None:
    contact = await make_contact(api)
    chat = await make_activity(api, contact["id"])
    result = await gql_upload(api, contact["id"], PNG, "../x/shot.png", chat["id"])
    assert "errors" not in result, result
    stored = result["data"]["uploadAttachment"]
    assert stored["contentType"] == "image/png" and stored["filename"] == "shot.png"
    assert stored["size"] == len(PNG) and stored["activityId"] == chat["id"]
    assert (await api.get(stored["downloadUrl"])).content == PNG
    read = await api.gql(
        """query($id: ID!) { contact(id: $id) { attachments { id }
            activity { nodes { id attachments { id filename } } } } }""",
        {"id": contact["id"]},
    )
    assert read["data"]["contact"]["attachments"] == [{"id": stored["id"]}]
    assert read["data"]["contact"]["activity"]["nodes"][0]["attachments"][0]["id"] == stored["id"]
    ticket = await make_activity(api, contact["id"], type="ticket")
    refused = await gql_upload(api, contact["id"], PNG, "a.png", ticket["id"])
    assert codes(refused) == ["validation_failed"]
    assert refused["errors"][0]["extensions"]["field"] == "activityId"
    empty = await gql_upload(api, contact["id"], b"", "a.png")
    assert codes(empty) == ["validation_failed"]
    assert len(blob_files(settings)) == 1


async def test_a_later_failing_mutation_keeps_an_earlier_upload(
    api: Api, settings: Settings
) -> None:
    contact = await make_contact(api)
    result = await gql_upload(
        api,
        contact["id"],
        PNG,
        "a.png",
        extra_query=' broken: logActivity(contactId: "ct_missing", '
        'input: {type: CALL, occurredAt: "2026-01-15T10:00:00Z"}) { id }',
    )
    assert codes(result) == ["not_found"]
    # The failed mutation rolled back its own savepoint only (data is null: a non-null
    # root field failed); the upload before it was committed with its bytes.
    listed = (await api.get(f"/api/v2/contacts/{contact['id']}/attachments")).json()
    assert listed["total"] == 1
    stored = listed["data"][0]
    assert (await api.get(stored["download_url"])).content == PNG
    assert [p.name for p in blob_files(settings)] == [stored["id"]]


async def test_graphql_scopes_and_tenancy(
    api: Api, other_api: Api, reader: Api, writer: Api, configurer: Api, settings: Settings
) -> None:
    contact = await make_contact(api)
    item = {"type": "TICKET", "occurredAt": WHEN}
    assert codes(await reader.gql(LOG, {"c": contact["id"], "i": item})) == ["forbidden"]
    assert codes(await gql_upload(reader, contact["id"], PNG, "a.png")) == ["forbidden"]
    assert codes(await other_api.gql(LOG, {"c": contact["id"], "i": item})) == ["not_found"]
    assert codes(await gql_upload(other_api, contact["id"], PNG, "a.png")) == ["not_found"]
    assert blob_files(settings) == []
    await upload(api, contact["id"])
    await make_activity(api, contact["id"])
    nested = "query($id: ID!) { contact(id: $id) { activity { totalCount } attachments { id } } }"
    denied = await writer.gql(nested, {"id": contact["id"]})
    assert "forbidden" in codes(denied)
    assert (await other_api.gql(nested, {"id": contact["id"]}))["data"]["contact"] is None
    definitions = "{ customFieldDefinitions { key type appliesTo options required label } }"
    create = """mutation($i: CreateCustomFieldDefinitionInput!) {
        createCustomFieldDefinition(input: $i) { key type appliesTo options required } }"""
    body = {
        "key": "plan",
        "label": "Plan",
        "type": "SELECT",
        "appliesTo": "CONTACTS",
        "options": ["gold"],
    }
    assert codes(await writer.gql(create, {"i": body})) == ["forbidden"]
    made = await configurer.gql(create, {"i": body})
    assert made["data"]["createCustomFieldDefinition"] == {
        "key": "plan",
        "type": "SELECT",
        "appliesTo": "CONTACTS",
        "options": ["gold"],
        "required": False,
    }
    assert codes(await configurer.gql(definitions)) == ["forbidden"]
    listed = await reader.gql(definitions)
    assert [d["key"] for d in listed["data"]["customFieldDefinitions"]] == ["plan"]
    assert (await other_api.gql(definitions))["data"]["customFieldDefinitions"] == []
    update = """mutation($k: String!, $i: UpdateCustomFieldDefinitionInput!) {
        updateCustomFieldDefinition(key: $k, input: $i) { label options required } }"""
    changed = await configurer.gql(
        update, {"k": "plan", "i": {"options": ["gold", "silver"], "label": "Tier"}}
    )
    assert changed["data"]["updateCustomFieldDefinition"] == {
        "label": "Tier",
        "options": ["gold", "silver"],
        "required": False,
    }
    assert codes(await other_api.gql(update, {"k": "plan", "i": {"label": "x"}})) == ["not_found"]
    bad = await configurer.gql(create, {"i": {**body, "key": "Bad Key"}})
    assert codes(bad) == ["validation_failed"]
    delete = 'mutation { deleteCustomFieldDefinition(key: "plan") }'
    assert codes(await reader.gql(delete)) == ["forbidden"]
    assert (await configurer.gql(delete))["data"] == {"deleteCustomFieldDefinition": "plan"}
    assert codes(await configurer.gql(delete)) == ["not_found"]


async def test_graphql_custom_field_filter(api: Api) -> None:
    await api.post(
        "/api/v2/custom-fields",
        json={"key": "vip", "label": "VIP", "type": "boolean", "applies_to": "contacts"},
    )
    yes = await make_contact(api, "Yes", custom_fields={"vip": True})
    await make_contact(api, "No", custom_fields={"vip": False})
    query = "query($f: [CustomFieldFilter!]) { contacts(customFields: $f) { nodes { id } } }"
    found = await api.gql(query, {"f": [{"key": "vip", "value": "true"}]})
    assert found["data"]["contacts"]["nodes"] == [{"id": yes["id"]}]
    assert codes(await api.gql(query, {"f": [{"key": "nope", "value": "1"}]})) == [
        "validation_failed"
    ]


async def test_nested_activity_runs_a_constant_number_of_statements(
    api: Api, count_statements: Any
) -> None:
    company = await make_company(api)
    for n in range(50):
        contact = await make_contact(api, f"Person {n}", company_id=company["id"])
        if n % 5 == 0:
            chat = await make_activity(api, contact["id"])
            await make_activity(api, contact["id"], type="call", duration_seconds=5)
            await upload(api, contact["id"], activity_id=chat["id"])
    query = """query($n: Int!) { contacts(first: $n) { nodes { id company { name }
        activity(first: 5) { totalCount nodes { id type occurredAt
            attachments { id filename size } } pageInfo { endCursor } }
        attachments { id } } } }"""
    counts = {}
    for size in (5, 50):
        with count_statements() as counter:
            result = await api.gql(query, {"n": size})
        assert "errors" not in result, result
        assert len(result["data"]["contacts"]["nodes"]) == size
        counts[size] = counter.count
    with_files = [n for n in result["data"]["contacts"]["nodes"] if n["activity"]["totalCount"]]
    assert len(with_files) == 10
    assert all(len(n["activity"]["nodes"][1]["attachments"]) == 1 for n in with_files)
    assert counts[5] == counts[50], counts
    assert counts[50] <= 12, counts
    print(f"statements for 5 and 50 contacts: {counts}")


async def test_graphql_upload_limit_and_erasure(
    api: Api, limited_api: Api, settings: Settings
) -> None:
    contact = await make_contact(api)
    over = await gql_upload(limited_api, contact["id"], b"a" * 4097, "big.txt")
    assert codes(over) == ["payload_too_large"]
    far_over = await limited_api.post(
        "/graphql",
        data={
            "operations": json.dumps(
                {"query": UPLOAD, "variables": {"c": contact["id"], "f": None}}
            ),
            "map": json.dumps({"0": ["variables.f"]}),
        },
        files={"0": ("big.txt", b"a" * 200_000)},
    )
    assert far_over.status_code == 413
    assert blob_files(settings) == []
    stored = (await gql_upload(limited_api, contact["id"], b"a" * 4096, "ok.txt"))["data"]
    assert stored["uploadAttachment"]["size"] == 4096
    assert len(blob_files(settings)) == 1
    erased = await api.gql("mutation($id: ID!) { deleteContact(id: $id) }", {"id": contact["id"]})
    assert erased["data"] == {"deleteContact": contact["id"]}
    assert blob_files(settings) == []
