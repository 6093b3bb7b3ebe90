"""End to end: the real `contacts-gateway serve` (uvicorn) in a subprocess, spoken to over HTTP."""

from __future__ import annotations

import json
import os
import queue
import shlex
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

#: Every curl example of the reference's v2 section ("Contacts & Companies"), verbatim.
REFERENCE_V2_CURLS = r"""
curl "https://apps.aurionai.net/api/v2/contacts?limit=10&search=smith" \
-H "X-API-Key: ak_live_xxxx"
----
curl -X POST "https://apps.aurionai.net/api/v2/contacts" \
-H "X-API-Key: ak_live_xxxx" \
-H "Content-Type: application/json" \
-d '{
"name": "John Doe",
"email": "john@example.com",
"phone": "+33698765432",
"company_id": "co_789",
"tags": ["engineering"]
}'
----
curl "https://apps.aurionai.net/api/v2/contacts/ct_456" \
-H "X-API-Key: ak_live_xxxx"
----
curl -X PATCH "https://apps.aurionai.net/api/v2/contacts/ct_456" \
-H "X-API-Key: ak_live_xxxx" \
-H "Content-Type: application/json" \
-d '{
"phone": "+33698765432",
"tags": ["vip", "engineering"]
}'
----
curl -X DELETE "https://apps.aurionai.net/api/v2/contacts/ct_456" \
-H "X-API-Key: ak_live_xxxx"
----
curl "https://apps.aurionai.net/api/v2/contacts/ct_456/activity?limit=20" \
-H "X-API-Key: ak_live_xxxx"
----
curl "https://apps.aurionai.net/api/v2/contacts/ct_456/attachments" \
-H "X-API-Key: ak_live_xxxx"
----
curl "https://apps.aurionai.net/api/v2/companies?search=acme" \
-H "X-API-Key: ak_live_xxxx"
----
curl -X POST "https://apps.aurionai.net/api/v2/companies" \
-H "X-API-Key: ak_live_xxxx" \
-H "Content-Type: application/json" \
-d '{
"name": "Acme Corp",
"domain": "acme.com",
"tags": ["enterprise"]
}'
----
curl -X PATCH "https://apps.aurionai.net/api/v2/companies/co_789" \
-H "X-API-Key: ak_live_xxxx" \
-H "Content-Type: application/json" \
-d '{
"tags": ["enterprise", "priority"]
}'
----
curl -X DELETE "https://apps.aurionai.net/api/v2/companies/co_789" \
-H "X-API-Key: ak_live_xxxx"
----
curl -X POST "https://apps.aurionai.net/api/v2/companies/co_789/restore" \
-H "X-API-Key: ak_live_xxxx"
"""

STARTUP_DEADLINE_S = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def command() -> list[str]:
    """The installed console script (falls back to ``python -m contacts_gateway``)."""
    script = Path(sys.executable).with_name("contacts-gateway")
    return [str(script)] if script.exists() else [sys.executable, "-m", "contacts_gateway"]


def server_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("CONTACTS_GATEWAY_DATABASE_URL", None)
    env["CONTACTS_GATEWAY_DATA_DIR"] = str(tmp_path / "data")
    return env


class Server:
    """A ``serve`` subprocess whose stdout is collected line by line."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.lines: queue.Queue[str] = queue.Queue()
        self.stdout: list[str] = []
        self.process = subprocess.Popen(
            [*command(), *args],
            stdout=subprocess.PIPE,
            stderr=log.open("w"),
            text=True,
            env=env,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for_line(self, prefix: str, deadline: float) -> str:
        """The first stdout line (stripped) starting with ``prefix``."""
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                self.check_alive()
                continue
            self.stdout.append(line)
            if line.strip().startswith(prefix):
                return line.strip()
        raise AssertionError(f"no {prefix!r} line in time; stdout: {self.stdout}\n{self.tail()}")

    def wait_healthy(self, base: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)  # polling interval with a deadline, not a wait for an event
        raise AssertionError(f"the server did not answer /healthz in time\n{self.tail()}")

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"the server exited with {self.process.returncode}\n{self.tail()}")

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def create_key(database_url: str, env: dict[str, str], account: str = "acme") -> str:
    """``contacts-gateway keys create`` in a subprocess; the key is the last stdout line."""
    done = subprocess.run(
        [*command(), "keys", "create", "--account", account,
         "--scopes", "contacts:read,contacts:write", "--name", "e2e",
         "--database-url", database_url],
        capture_output=True, text=True, timeout=180, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip().splitlines()[-1]
    assert key.startswith("ak_live_"), done.stdout
    return key


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    servers: list[Server] = []

    def start(*args: str) -> Server:
        server = Server(list(args), server_env(tmp_path), tmp_path / f"server{len(servers)}.log")
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def parse_curl(text: str) -> tuple[str, str, dict[str, str], str | None]:
    """(method, url, headers, body) of one curl example."""
    words = shlex.split(text.replace("\\\n", " "))
    assert words[0] == "curl"
    method, url, headers, body = "GET", "", {}, None
    i = 1
    while i < len(words):
        word = words[i]
        if word == "-X":
            method, i = words[i + 1], i + 2
        elif word == "-H":
            name, _, value = words[i + 1].partition(":")
            headers[name.strip()] = value.strip()
            i += 2
        elif word == "-d":
            body, i = words[i + 1], i + 2
        else:
            url, i = word, i + 1
    return method, url, headers, body


def test_reference_curl_examples_against_serve(
    serve: Any, database_url: str, tmp_path: Path
) -> None:
    env = server_env(tmp_path)
    key = create_key(database_url, env)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve("serve", "--port", str(port), "--database-url", database_url)
    server.wait_healthy(base, time.monotonic() + STARTUP_DEADLINE_S)

    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30) as client:
        # The examples name ct_456 and co_789: give them real objects of this account.
        company = client.post("/api/v2/companies", json={"name": "Initech", "domain": "initech.io"})
        assert company.status_code == 201, company.text
        contact = client.post(
            "/api/v2/contacts",
            json={
                "name": "Jane Smith",
                "email": "jane@example.com",
                "company_id": company.json()["id"],
            },
        )
        assert contact.status_code == 201, contact.text
        ids = {"co_789": company.json()["id"], "ct_456": contact.json()["id"]}

        examples = [parse_curl(chunk) for chunk in REFERENCE_V2_CURLS.split("----")]
        assert len(examples) == 12
        # run the contact deletion last, after the examples that read that contact
        delete_contact = next(e for e in examples if e[0] == "DELETE" and "/contacts/" in e[1])
        examples.remove(delete_contact)
        examples.append(delete_contact)
        expected = {"GET": 200, "POST": 201, "PATCH": 200, "DELETE": 204}
        for method, url, headers, body in examples:
            assert headers.pop("X-API-Key") == "ak_live_xxxx"
            path = url.replace("https://apps.aurionai.net", "")
            for placeholder, real in ids.items():
                path = path.replace(placeholder, real)
            content = body
            if content is not None:
                for placeholder, real in ids.items():
                    content = content.replace(placeholder, real)
            response = client.request(
                method, path, headers={**headers, "X-API-Key": key}, content=content
            )
            status = 200 if path.endswith("/restore") else expected[method]
            assert response.status_code == status, (method, path, response.text)
            if status != 204:
                payload = response.json()
                if (method == "GET" and "?" in path) or path.endswith(
                    ("/activity", "/attachments")
                ):
                    assert set(payload) >= {"data", "total", "limit", "offset"}, payload
            if path.startswith("/api/v2/contacts?"):
                assert [c["name"] for c in payload["data"]] == ["Jane Smith"]
                assert payload["limit"] == 10
            if method == "POST" and path == "/api/v2/contacts":
                assert payload["company_id"] == ids["co_789"] and payload["phone"] == "+33698765432"
            if method == "PATCH" and "/contacts/" in path:
                assert payload["tags"] == ["vip", "engineering"]
        assert client.get(f"/api/v2/contacts/{ids['ct_456']}").status_code == 404
        assert client.get(f"/api/v2/companies/{ids['co_789']}").json()["tags"] == [
            "enterprise",
            "priority",
        ]
        # the same server speaks GraphQL, and refuses a missing key
        assert httpx.get(f"{base}/api/v2/contacts").status_code == 401
        gql = client.post(
            "/graphql",
            json={"query": "{ contacts { totalCount nodes { name company { name } } } }"},
        )
        assert gql.status_code == 200
        assert gql.json()["data"]["contacts"]["nodes"] == [
            {"name": "John Doe", "company": {"name": "Initech"}}
        ]
    server.stop()
    assert server.process.returncode is not None


def test_demo_prints_a_working_curl_line_and_graphiql(serve: Any, database_url: str) -> None:
    port = free_port()
    server = serve("serve", "--demo", "--port", str(port), "--database-url", database_url)
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    graphiql_line = server.wait_for_line("GraphiQL:", deadline)
    curl_line = server.wait_for_line("Try:", deadline)
    key_line = server.wait_for_line("API key:", deadline)
    base = f"http://127.0.0.1:{port}"
    assert graphiql_line.split()[1] == f"{base}/graphql"
    key = key_line.split()[-1]
    assert key.startswith("ak_live_")
    # No waiting for health: once the banner is out, the socket listens, so the curl line
    # copied from it at once is served, never refused.

    # the printed curl line, run as printed
    method, url, headers, body = parse_curl(curl_line.removeprefix("Try:").strip())
    assert headers == {"X-API-Key": key} and body is None and method == "GET"
    response = httpx.get(url, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    listed = response.json()
    assert listed["data"] and listed["total"] >= len(listed["data"])
    assert all("smith" in (c["name"] + (c["email"] or "")).lower() for c in listed["data"])

    # GraphiQL: the page, then a query as the IDE sends it
    page = httpx.get(f"{base}/graphql", headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    assert key in page.text  # pre-filled in the headers pane, as the banner says
    query = "query Contacts($first: Int = 10) { contacts(first: $first) { totalCount nodes { id name company { name } } } }"
    result = httpx.post(
        f"{base}/graphql",
        content=json.dumps({"query": query, "variables": {}, "operationName": "Contacts"}),
        headers={
            "Content-Type": "application/json",
            "Accept": "application/graphql-response+json, application/json",
            "X-API-Key": key,
        },
        timeout=30,
    )
    assert result.status_code == 200, result.text
    contacts = result.json()["data"]["contacts"]
    assert contacts["totalCount"] >= 400
    assert len(contacts["nodes"]) == 10 and all(n["name"] for n in contacts["nodes"])
    companies = httpx.get(
        f"{base}/api/v2/companies", params={"limit": 100}, headers={"X-API-Key": key}, timeout=30
    ).json()
    assert companies["total"] >= 40
    # the newest contacts, i.e. the first page, carry a timeline
    first = httpx.get(
        f"{base}/api/v2/contacts", params={"limit": 5}, headers={"X-API-Key": key}, timeout=30
    ).json()["data"]
    assert first
    timeline = httpx.get(
        f"{base}/api/v2/contacts/{first[0]['id']}/activity",
        headers={"X-API-Key": key},
        timeout=30,
    ).json()
    assert timeline["total"] >= 1
