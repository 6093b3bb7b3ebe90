"""Logs of a real server process: one JSON line per request carrying the request id that the
response header and every problem+json carry; never an API key, only its prefix."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from contacts_gateway.logs import JsonFormatter, TextFormatter
from tests.browser.live import live_server

ACCESS = "contacts_gateway.access"


def access_lines(log: str) -> list[dict[str, Any]]:
    """The access-log records of a JSON log (every line must be JSON)."""
    records = [json.loads(line) for line in log.splitlines() if line.strip()]
    # The test harness polled /healthz until the server was up: those lines are not ours.
    return [r for r in records if r["logger"] == ACCESS and "/healthz" not in r["msg"]]


@pytest.mark.e2e
async def test_one_json_line_per_request_with_its_id_and_no_key(
    key: str, database_url: str, tmp_path: Path
) -> None:
    wrong = "ak_live_" + "Z" * 40  # looks like a key: must not be logged either
    with live_server(database_url, tmp_path) as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            calls = [
                await http.get("/api/v2/contacts", headers={"X-API-Key": key}),
                await http.post(
                    "/api/v2/contacts", json={"name": "Ada"}, headers={"X-API-Key": key}
                ),
                await http.post("/api/v2/contacts", json={"nme": "x"}, headers={"X-API-Key": key}),
                await http.get("/api/v2/contacts/ct_nope", headers={"X-API-Key": key}),
                await http.get("/api/v2/contacts", headers={"X-API-Key": wrong}),
                await http.get("/api/v2/contacts", headers={"X-Request-ID": "client-chosen-42"}),
                await http.post(
                    "/graphql",
                    json={"query": "{ contacts(first: 1) { totalCount } }"},
                    headers={"X-API-Key": key},
                ),
            ]
        statuses = [r.status_code for r in calls]
        assert statuses == [200, 201, 422, 404, 401, 401, 200]
        ids = [r.headers["x-request-id"] for r in calls]
        assert len(set(ids)) == len(ids) and ids[5] == "client-chosen-42"
        for response in calls:
            if response.status_code >= 400:
                assert response.headers["content-type"].startswith("application/problem+json")
                assert response.json()["request_id"] == response.headers["x-request-id"]
        # The server writes the line after the response: poll for it with a deadline.
        lines = await _wait_for(server.log, lambda log: len(access_lines(log)) >= len(calls))
    log = server.log()
    assert key not in log and wrong not in log
    assert key[8:] not in log  # not even the secret part on its own
    records = access_lines(lines)
    assert [r["request_id"] for r in records] == ids  # one line per request, same ids
    assert [r["status"] for r in records] == statuses
    prefix = key[:16]
    assert records[0]["key_prefix"] and key.startswith(records[0]["key_prefix"])
    assert len(records[0]["key_prefix"]) < len(key) // 2, prefix
    assert all(isinstance(r["duration_ms"], float | int) for r in records)
    assert records[0]["msg"] == "GET /api/v2/contacts 200"


async def _wait_for(read: Any, ready: Any, seconds: float = 10) -> str:
    import asyncio
    import time

    deadline = time.monotonic() + seconds
    while True:
        text: str = read()
        if ready(text):
            return text
        assert time.monotonic() < deadline, f"the log never got there:\n{text}"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()])
def test_secret_extras_are_dropped_by_both_formats(formatter: logging.Formatter) -> None:
    record = logging.makeLogRecord(
        {
            "name": ACCESS,
            "levelname": "INFO",
            "msg": "GET / 200",
            "api_key": "ak_live_SECRET1",
            "authorization": "Bearer SECRET2",
            "X-API-Key": "SECRET3",
            "password": "SECRET4",
            "request_id": "req_1",
        }
    )
    line = formatter.format(record)
    assert "SECRET" not in line
    assert "req_1" in line and "GET / 200" in line
