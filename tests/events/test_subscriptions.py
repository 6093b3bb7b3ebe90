"""GraphQL subscriptions over a real websocket (graphql-transport-ws), served by uvicorn."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from contacts_gateway.app import create_app
from contacts_gateway.settings import Settings
from tests.conftest import KeyMaker
from tests.events.conftest import eventually

pytestmark = pytest.mark.e2e


class Server:
    """The whole app under uvicorn in a thread, on a free port of 127.0.0.1."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", ws="websockets-sansio"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    @property
    def subscribers(self) -> int:
        return int(self.app.state.event_hub.subscriber_count)


@pytest.fixture
def server_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_worker_enabled": False,
            "scheduler_enabled": False,
            "events_poll_seconds": 0.05,
            "rate_limit_enabled": False,
        }
    )


@pytest.fixture
def server(server_settings: Settings) -> Iterator[Server]:
    srv = Server(server_settings)
    srv.start()
    yield srv
    srv.stop()


SUBSCRIBE_CONTACTS = """subscription($types: [String!], $companyId: ID) {
  contactEvents(types: $types, companyId: $companyId) {
    id type contactId version contact changedFields timestamp } }"""


async def _open(url: str, payload: dict[str, Any]) -> ClientConnection:
    ws = await connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    return ws


async def _subscribe(
    ws: ClientConnection, query: str, variables: dict[str, Any] | None = None, op: str = "1"
) -> None:
    await ws.send(
        json.dumps(
            {
                "id": op,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables or {}},
            }
        )
    )


async def _next(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:  # noqa: ASYNC109
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message["type"] in ("ping", "pong", "ka"):
            continue
        return message  # type: ignore[no-any-return]


async def _post(base: str, key: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base) as client:
        r = await client.post(path, json=body, headers={"X-API-Key": key})
        assert r.status_code in (200, 201), r.text
        return r.json()  # type: ignore[no-any-return]


async def test_subscriber_gets_its_accounts_events_only(server: Server, make_key: KeyMaker) -> None:
    key_a = await make_key("acme", scopes=["contacts:read", "contacts:write"])
    key_b = await make_key("globex")
    ws = await _open(server.ws, {"X-API-Key": key_a})
    try:
        assert (await _next(ws))["type"] == "connection_ack"
        await _subscribe(ws, SUBSCRIBE_CONTACTS)
        await eventually(lambda: server.subscribers == 1)
        await _post(server.http, key_b, "/api/v2/contacts", {"name": "Not yours"})
        ann = await _post(server.http, key_a, "/api/v2/contacts", {"name": "Ann"})
        message = await _next(ws)
        assert message["type"] == "next" and message["id"] == "1"
        event = message["payload"]["data"]["contactEvents"]
        assert event["type"] == "contact.created" and event["contactId"] == ann["id"]
        assert event["contact"] == ann and event["id"].startswith("evt_")
        async with httpx.AsyncClient(base_url=server.http) as client:
            await client.patch(
                f"/api/v2/contacts/{ann['id']}", json={"name": "Anna"}, headers={"X-API-Key": key_a}
            )
        await _post(server.http, key_b, "/api/v2/contacts", {"name": "Still not yours"})
        event = (await _next(ws))["payload"]["data"]["contactEvents"]
        assert event["type"] == "contact.updated"
        assert event["changedFields"] == {"name": "Ann"} and event["version"] == 2
        # Nothing of globex's ever arrives.
        with pytest.raises(TimeoutError):
            await _next(ws, timeout=0.5)
    finally:
        await ws.close()


async def test_filters_by_type_and_company(server: Server, make_key: KeyMaker) -> None:
    key = await make_key("acme")
    co = await _post(server.http, key, "/api/v2/companies", {"name": "Acme"})
    ws = await _open(server.ws, {"apiKey": key})
    try:
        assert (await _next(ws))["type"] == "connection_ack"
        await _subscribe(
            ws, SUBSCRIBE_CONTACTS, {"types": ["contact.created"], "companyId": co["id"]}
        )
        await _subscribe(ws, "subscription { companyEvents { type companyId company } }", op="2")
        await eventually(lambda: server.subscribers == 2)
        await _post(server.http, key, "/api/v2/contacts", {"name": "Elsewhere"})
        inside = await _post(
            server.http, key, "/api/v2/contacts", {"name": "In", "company_id": co["id"]}
        )
        await _post(server.http, key, "/api/v2/companies", {"name": "Globex"})
        got: dict[str, Any] = {}
        for _ in range(2):
            message = await _next(ws)
            got[message["id"]] = message["payload"]["data"]
        assert got["1"]["contactEvents"]["contactId"] == inside["id"]
        assert got["2"]["companyEvents"]["type"] == "company.created"
        assert got["2"]["companyEvents"]["company"]["name"] == "Globex"
    finally:
        await ws.close()


@pytest.mark.parametrize("payload", [{}, {"X-API-Key": "ak_live_wrong"}, {"apiKey": 42}])
async def test_bad_or_missing_key_closes_the_socket(
    server: Server, payload: dict[str, Any]
) -> None:
    ws = await _open(server.ws, payload)
    with pytest.raises(ConnectionClosed) as info:
        await _next(ws)
    assert info.value.rcvd is not None and info.value.rcvd.code == 4403


async def test_subscription_needs_contacts_read(server: Server, make_key: KeyMaker) -> None:
    key = await make_key("acme", scopes=["config:read"])
    ws = await _open(server.ws, {"X-API-Key": key})
    try:
        assert (await _next(ws))["type"] == "connection_ack"
        await _subscribe(ws, SUBSCRIBE_CONTACTS)
        message = await _next(ws)
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert "contacts:read" in json.dumps(errors)
    finally:
        await ws.close()


async def test_unknown_event_type_is_an_error(server: Server, make_key: KeyMaker) -> None:
    ws = await _open(server.ws, {"X-API-Key": await make_key("acme")})
    try:
        assert (await _next(ws))["type"] == "connection_ack"
        await _subscribe(ws, SUBSCRIBE_CONTACTS, {"types": ["contact.exploded"]})
        message = await _next(ws)
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert "contact.exploded" in errors[0]["message"]
        assert server.subscribers == 0
    finally:
        await ws.close()


async def test_events_reach_subscribers_on_another_replica(
    server: Server, server_settings: Settings, make_key: KeyMaker
) -> None:
    other = Server(server_settings)  # a second replica on the same database
    other.start()
    try:
        key = await make_key("acme")
        ws = await _open(server.ws, {"X-API-Key": key})
        try:
            assert (await _next(ws))["type"] == "connection_ack"
            await _subscribe(ws, "subscription { companyEvents { type companyId } }")
            await eventually(lambda: server.subscribers == 1)
            co = await _post(other.http, key, "/api/v2/companies", {"name": "Via the other one"})
            event = (await _next(ws))["payload"]["data"]["companyEvents"]
            assert event == {"type": "company.created", "companyId": co["id"]}
        finally:
            await ws.close()
    finally:
        other.stop()
