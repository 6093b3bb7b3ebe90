from tests.conftest import Api


async def test_create_and_list_contact(api: Api) -> None:
    created = await api.post(
        "/api/v2/contacts", json={"name": "Jane Smith", "email": "jane@example.com"}
    )
    assert created.status_code == 201, created.text
    listed = await api.get("/api/v2/contacts", params={"search": "smith"})
    assert listed.status_code == 200
    body = listed.json()
    assert body["total"] == 1
    assert body["data"][0]["id"] == created.json()["id"]
