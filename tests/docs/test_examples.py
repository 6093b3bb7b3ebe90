"""Every marked example in README.md and docs/*.md runs (see tests/docs/examples.py)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.browser.live import live_server, server_env
from tests.conftest import Api
from tests.docs.examples import Example, commands, examples

ALL = examples()
GRAPHQL = [e for e in ALL if e.kind == "graphql"]
CURL = [e for e in ALL if e.kind == "curl"]
CLI = [e for e in ALL if e.kind == "cli"]
DOC_HOST = "http://127.0.0.1:8000"


def test_the_convention_is_in_use_and_every_kind_is_known() -> None:
    assert {e.kind for e in ALL} <= {"graphql", "curl", "cli"}, {e.kind for e in ALL}
    # The guides carry examples of each kind; losing them all means the marks broke.
    assert len(GRAPHQL) >= 5 and len(CURL) >= 3 and len(CLI) >= 1, (len(GRAPHQL), len(CURL))


async def seed(api: Api) -> None:
    """A small account the examples read: two companies, three contacts."""
    acme = await api.post("/api/v2/companies", json={"name": "Acme Corp", "domain": "acme.com"})
    assert acme.status_code == 201, acme.text
    globex = await api.post("/api/v2/companies", json={"name": "Smith Industries"})
    assert globex.status_code == 201, globex.text
    for name, email, company, tags in [
        ("Jane Smith", "jane@example.com", acme, ["vip"]),
        ("John Smithson", "john@acme.com", acme, ["engineering"]),
        ("Ana Lopez", "ana@example.org", globex, []),
    ]:
        body = {"name": name, "email": email, "company_id": company.json()["id"], "tags": tags}
        assert (await api.post("/api/v2/contacts", json=body)).status_code == 201


@pytest.mark.parametrize("example", GRAPHQL, ids=[e.where for e in GRAPHQL])
async def test_graphql_example(example: Example, api: Api) -> None:
    await seed(api)
    variables = json.loads(example.options.get("variables", "{}"))
    result = await api.gql(example.code, variables)
    code = example.options.get("code")
    if code:
        assert result.get("errors"), f"{example.where}: expected an error {code}"
        assert result["errors"][0]["extensions"]["code"] == code, (example.where, result)
    else:
        assert not result.get("errors"), (example.where, result)
        assert result["data"], example.where


def curl_request(argv: list[str], base: str, key: str) -> httpx.Request:
    """The request a ``curl`` command line makes (the options the docs use)."""
    method, url, body = None, None, None
    headers: dict[str, str] = {}
    args = iter(argv[1:])
    for arg in args:
        if arg in ("-X", "--request"):
            method = next(args)
        elif arg in ("-H", "--header"):
            name, _, value = next(args).partition(":")
            headers[name.strip()] = value.strip()
        elif arg in ("-d", "--data", "--data-raw"):
            body = next(args)
        elif arg in ("-s", "-S", "-sS", "-i", "--silent", "--fail", "-f", "--show-error"):
            continue
        elif arg.startswith("-"):
            raise AssertionError(f"the doc runner does not know curl's {arg}")
        else:
            url = arg
    assert url, argv
    url = url.replace(DOC_HOST, base)
    headers = {k: v.replace("${KEY}", key).replace("$KEY", key) for k, v in headers.items()}
    method = method or ("POST" if body is not None else "GET")
    return httpx.Request(method, url, headers=headers, content=body)


@pytest.mark.e2e
async def test_curl_examples_against_a_real_server(
    api: Api, key: str, database_url: str, tmp_path: Path
) -> None:
    await seed(api)
    failures: list[str] = []
    ran = 0
    with live_server(database_url, tmp_path) as server:
        async with httpx.AsyncClient(timeout=30) as http:
            for example in CURL:
                expected = int(example.options.get("status", 0))
                for argv in commands(example.code, "curl"):
                    response = await http.send(curl_request(argv, server.url, key))
                    ran += 1
                    ok = response.status_code == expected if expected else response.is_success
                    if not ok:
                        failures.append(
                            f"{example.where}: {' '.join(argv)} -> {response.status_code} {response.text[:300]}"
                        )
    assert ran >= len(CURL)
    assert not failures, "\n".join(failures)


def test_cli_examples(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process through Typer's runner (tests/packaging runs the installed command itself)."""
    from typer.testing import CliRunner

    from contacts_gateway.cli import app

    monkeypatch.chdir(tmp_path)
    env = server_env(database_url, tmp_path / "data")
    failures: list[str] = []
    ran = 0
    for example in CLI:
        for argv in commands(example.code, "contacts-gateway"):
            result = CliRunner().invoke(app, argv[1:], env=env)
            ran += 1
            if result.exit_code != 0:
                failures.append(
                    f"{example.where}: {' '.join(argv)} -> {result.exit_code}\n{result.output[-500:]}"
                )
    assert ran >= len(CLI)
    assert not failures, "\n".join(failures)
