"""POST/GET /api/v2/contacts/{id}/activity: order, paging, every bad input, tenancy, scopes."""

from __future__ import annotations

from typing import Any

from tests.activity.conftest import WHEN, make_activity
from tests.conftest import Api
from tests.rest._support import assert_problem, make_contact


async def test_log_each_type_and_read_back(api: Api) -> None:
    contact = await make_contact(api)
    call = await make_activity(
        api,
        contact["id"],
        type="call",
        occurred_at="2026-01-15T12:30:00+02:00",
        subject="Callback",
        status="completed",
        channel="phone",
        direction="outbound",
        summary="Discussed the invoice",
        duration_seconds=754,
        external_id="fd-991",
        source="freshdesk",
    )
    assert call["id"].startswith("act_")
    assert call == {
        "id": call["id"],
        "type": "call",
        "subject": "Callback",
        "status": "completed",
        "channel": "phone",
        "direction": "outbound",
        "summary": "Discussed the invoice",
        "occurred_at": "2026-01-15T10:30:00.000Z",  # stored and shown in UTC
        "duration_seconds": 754,
        "external_id": "fd-991",
        "source": "freshdesk",
        "attachments": [],
    }
    ticket = await make_activity(api, contact["id"], type="ticket", status="open")
    assert ticket["source"] == "api" and ticket["duration_seconds"] is None
    listed = await api.get(f"/api/v2/contacts/{contact['id']}/activity")
    assert listed.status_code == 200
    body = listed.json()
    assert body["total"] == 2 and body["limit"] == 20 and body["offset"] == 0
    assert [i["id"] for i in body["data"]] == [call["id"], ticket["id"]]


async def test_newest_first_by_occurred_at_then_id_and_paging(api: Api) -> None:
    contact = await make_contact(api)
    created = []
    # Logged out of order; two share one instant (then the larger id comes first).
    for when in (
        "2026-01-02T00:00:00Z",
        "2026-03-01T00:00:00Z",
        "2026-02-01T00:00:00Z",
        "2026-02-01T00:00:00Z",
        "2025-12-31T23:59:59Z",
    ):
        created.append(await make_activity(api, contact["id"], occurred_at=when))
    expected = [
        i["id"] for i in sorted(created, key=lambda i: (i["occurred_at"], i["id"]), reverse=True)
    ]
    page1 = (await api.get(f"/api/v2/contacts/{contact['id']}/activity?limit=2")).json()
    page2 = (await api.get(f"/api/v2/contacts/{contact['id']}/activity?limit=2&offset=2")).json()
    page3 = (await api.get(f"/api/v2/contacts/{contact['id']}/activity?limit=2&offset=4")).json()
    assert [i["id"] for i in page1["data"] + page2["data"] + page3["data"]] == expected
    assert page3["total"] == 5 and len(page3["data"]) == 1


async def test_other_contacts_activity_is_not_listed(api: Api) -> None:
    jane, john = await make_contact(api), await make_contact(api, "John Doe")
    await make_activity(api, jane["id"])
    listed = (await api.get(f"/api/v2/contacts/{john['id']}/activity")).json()
    assert listed == {"data": [], "total": 0, "limit": 20, "offset": 0}


BAD_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"occurred_at": WHEN}, "type"),
    ({"type": "email", "occurred_at": WHEN}, "type"),
    ({"type": None, "occurred_at": WHEN}, "type"),
    ({"type": "call"}, "occurred_at"),
    ({"type": "call", "occurred_at": "yesterday"}, "occurred_at"),
    ({"type": "call", "occurred_at": "2026-01-15T10:00:00"}, "occurred_at"),  # no zone
    ({"type": "call", "occurred_at": 1768471200}, "occurred_at"),
    ({"type": "call", "occurred_at": WHEN, "duration_seconds": -1}, "duration_seconds"),
    ({"type": "call", "occurred_at": WHEN, "duration_seconds": 1.5}, "duration_seconds"),
    ({"type": "call", "occurred_at": WHEN, "duration_seconds": "60"}, "duration_seconds"),
    ({"type": "call", "occurred_at": WHEN, "duration_seconds": 10**9}, "duration_seconds"),
    ({"type": "conversation", "occurred_at": WHEN, "duration_seconds": 5}, "duration_seconds"),
    ({"type": "ticket", "occurred_at": WHEN, "duration_seconds": 0}, "duration_seconds"),
    ({"type": "call", "occurred_at": WHEN, "direction": "sideways"}, "direction"),
    ({"type": "call", "occurred_at": WHEN, "subject": "x" * 501}, "subject"),
    ({"type": "call", "occurred_at": WHEN, "status": "x" * 41}, "status"),
    ({"type": "call", "occurred_at": WHEN, "channel": "x" * 41}, "channel"),
    ({"type": "call", "occurred_at": WHEN, "summary": "x" * 10_001}, "summary"),
    ({"type": "call", "occurred_at": WHEN, "external_id": "x" * 129}, "external_id"),
    ({"type": "call", "occurred_at": WHEN, "source": "Free Text!"}, "source"),
    ({"type": "call", "occurred_at": WHEN, "subject": 42}, "subject"),
    ({"type": "call", "occurred_at": WHEN, "id": "act_mine"}, "id"),
    ({"type": "call", "occurred_at": WHEN, "contact_id": "ct_x"}, "contact_id"),
    ({"type": "call", "occurred_at": WHEN, "attachments": []}, "attachments"),
]


async def test_every_bad_activity_is_422_naming_the_field(api: Api) -> None:
    contact = await make_contact(api)
    url = f"/api/v2/contacts/{contact['id']}/activity"
    for body, field in BAD_BODIES:
        assert_problem(await api.post(url, json=body), 422, "validation_failed", field)
    for raw in ("[]", '"call"', "{", ""):
        response = await api.post(url, content=raw, headers={"content-type": "application/json"})
        assert_problem(response, 422, "validation_failed")
    assert (await api.get(url)).json()["total"] == 0  # nothing was written


async def test_bad_paging_is_422(api: Api) -> None:
    contact = await make_contact(api)
    url = f"/api/v2/contacts/{contact['id']}/activity"
    for query, field in (
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("offset=-1", "offset"),
        ("limit=x", "limit"),
    ):
        assert_problem(await api.get(f"{url}?{query}"), 422, "validation_failed", field)


async def test_unknown_and_other_accounts_contact_are_404(api: Api, other_api: Api) -> None:
    mine = await make_contact(api)
    theirs = await make_contact(other_api, "Other Person")
    await make_activity(other_api, theirs["id"])
    for contact_id in ("ct_doesnotexist", theirs["id"]):
        assert_problem(await api.get(f"/api/v2/contacts/{contact_id}/activity"), 404, "not_found")
        response = await api.post(
            f"/api/v2/contacts/{contact_id}/activity",
            json={"type": "call", "occurred_at": WHEN},
        )
        assert_problem(response, 404, "not_found")
    # Their item is still theirs alone.
    assert (await other_api.get(f"/api/v2/contacts/{theirs['id']}/activity")).json()["total"] == 1
    assert (await api.get(f"/api/v2/contacts/{mine['id']}/activity")).json()["total"] == 0


async def test_scopes(api: Api, reader: Api, writer: Api, anonymous: Api) -> None:
    contact = await make_contact(api)
    url = f"/api/v2/contacts/{contact['id']}/activity"
    item = {"type": "ticket", "occurred_at": WHEN}
    assert_problem(await reader.post(url, json=item), 403, "forbidden")
    assert_problem(await writer.get(url), 403, "forbidden")
    assert_problem(await anonymous.get(url), 401, "unauthenticated")
    assert_problem(await anonymous.post(url, json=item), 401, "unauthenticated")
    assert (await writer.post(url, json=item)).status_code == 201
    assert (await reader.get(url)).json()["total"] == 1


async def test_new_routes_are_in_the_openapi_document(api: Api) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    assert set(paths["/api/v2/contacts/{contact_id}/activity"]) == {"get", "post"}
    upload = paths["/api/v2/contacts/{contact_id}/attachments"]
    assert set(upload) == {"get", "post"}
    form = upload["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file"] and set(form["properties"]) == {"file", "activity_id"}
    assert set(paths["/api/v2/attachments/{attachment_id}/content"]) == {"get"}
    assert set(paths["/api/v2/custom-fields"]) == {"get", "post"}
    assert set(paths["/api/v2/custom-fields/{key}"]) == {"get", "patch", "delete"}
