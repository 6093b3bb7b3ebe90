"""GraphiQL in a real headless Chromium against a real server: key in the headers pane, a
contacts query, the result read from the page, and the README screenshot.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and Playwright's Python package; it
never downloads a browser. Without them the tests skip and say why.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.live import LiveServer, live_server
from tests.conftest import Api

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
#: The README's picture is rewritten only on request (CONTACTS_GATEWAY_UPDATE_SCREENSHOT=1);
#: otherwise the screenshot goes to the test's temporary directory, leaving the tree clean.
README_SCREENSHOT = REPO / "docs" / "graphiql.png"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: The visible editor of the tools pane (variables or headers, whichever tab is open).
TOOL_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden)"
QUERY = """{
  contacts(first: 5, search: "smith") {
    totalCount
    nodes { name email company { name } }
  }
}"""


def chromium_path() -> str | None:
    """The system Chromium (Debian's package), if installed."""
    configured = os.environ.get("CONTACTS_GATEWAY_CHROMIUM")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    executable = chromium_path()
    if executable is None:
        pytest.skip(
            "SKIPPING the GraphiQL browser test: no Chromium installed"
            " (apt-get install chromium, or set CONTACTS_GATEWAY_CHROMIUM)"
        )
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip(
            "SKIPPING the GraphiQL browser test: `pip install playwright` (no browser download needed)"
        )
    async with async_playwright() as pw:
        instance = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            await instance.close()


async def seed(api: Api) -> None:
    company = await api.post(
        "/api/v2/companies", json={"name": "Smith & Sons", "domain": "smith.example"}
    )
    assert company.status_code == 201, company.text
    for name, email in [
        ("Ada Smith", "ada@smith.example"),
        ("Bob Smithers", "bob@smith.example"),
        ("Carol Jones", "carol@jones.example"),
    ]:
        body = {"name": name, "email": email, "company_id": company.json()["id"]}
        created = await api.post("/api/v2/contacts", json=body)
        assert created.status_code == 201, created.text


async def open_graphiql(browser: Any, server: LiveServer) -> tuple[Any, list[str]]:
    """A page on GraphiQL; requests that would leave the machine are recorded and refused."""
    page = await browser.new_page(viewport={"width": 1400, "height": 820})
    external: list[str] = []

    async def guard(route: Any) -> None:
        if urlsplit(route.request.url).hostname not in ("127.0.0.1", "localhost"):
            external.append(route.request.url)
            await route.abort()
        else:
            await route.continue_()

    await page.route("**/*", guard)
    await page.goto(f"{server.url}/graphql")
    # The editors exist once React, GraphiQL and its CSS have loaded from /static/graphiql.
    await page.wait_for_selector(".graphiql-query-editor .CodeMirror", timeout=20_000)
    await page.get_by_role("button", name="Headers", exact=True).click()
    await page.wait_for_selector(f"{TOOL_EDITOR} .CodeMirror")
    return page, external


async def editor_value(page: Any, selector: str) -> str:
    value: str = await page.evaluate(
        "(sel) => document.querySelector(sel + ' .CodeMirror').CodeMirror.getValue()", selector
    )
    return value


async def set_editor(page: Any, selector: str, text: str) -> None:
    """Type into a CodeMirror editor the way a paste does (all selected, then replaced)."""
    await page.evaluate(
        "([sel, text]) => { const cm = document.querySelector(sel + ' .CodeMirror').CodeMirror;"
        " cm.focus(); cm.execCommand('selectAll'); cm.replaceSelection(text); }",
        [selector, text],
    )


STALE = "Unknown op"  # "Unknown operation named …" (also as a non-JSON body)


async def run(page: Any) -> None:
    """Press the run button once GraphiQL has parsed the editor's text.

    GraphiQL re-parses the query editor shortly after a change; a click before that sends the
    previous operation name with the new text, which the server answers "Unknown operation
    named …". Such an answer means: not parsed yet, press again.
    """
    await page.click(".graphiql-execute-button")


async def run_and_read(page: Any) -> dict[str, Any]:
    """Press the run button and return the JSON the response pane shows next."""
    before = await editor_value(page, ".graphiql-response")
    await run(page)
    deadline = time.monotonic() + 20
    while True:
        shown = await editor_value(page, ".graphiql-response")
        if STALE in shown and shown != before:
            before = shown
            await run(page)
        elif shown != before and shown.strip().startswith("{"):
            result: dict[str, Any] = json.loads(shown)
            return result
        assert time.monotonic() < deadline, f"no result in the response pane: {shown!r}"
        await page.wait_for_timeout(50)


async def test_graphiql_runs_a_contacts_query_with_the_key_from_the_headers_pane(
    browser: Any, api: Api, key: str, database_url: str, tmp_path: Path
) -> None:
    await seed(api)
    with live_server(database_url, tmp_path) as server:
        page, external = await open_graphiql(browser, server)
        # Not in demo mode: the page holds no key, only a placeholder showing where it goes.
        assert json.loads(await editor_value(page, TOOL_EDITOR)) == {"X-API-Key": "<your API key>"}
        assert key not in await page.content()
        # A wrong key: the server answers unauthenticated, shown in the page.
        await set_editor(page, ".graphiql-query-editor", QUERY)
        await set_editor(page, TOOL_EDITOR, json.dumps({"X-API-Key": "ak_wrong"}))
        refused = await run_and_read(page)
        # A GraphQL error, or the 401 problem+json of a middleware that refused the key first.
        code = refused.get("code") or refused["errors"][0].get("extensions", {}).get("code")
        assert code == "unauthenticated", refused

        await set_editor(page, TOOL_EDITOR, json.dumps({"X-API-Key": key}, indent=2))
        result = await run_and_read(page)
        assert "errors" not in result, result
        contacts = result["data"]["contacts"]
        assert contacts["totalCount"] == 2
        assert {n["name"] for n in contacts["nodes"]} == {"Ada Smith", "Bob Smithers"}
        assert {n["company"]["name"] for n in contacts["nodes"]} == {"Smith & Sons"}
        assert external == [], f"GraphiQL tried to load assets from outside: {external}"
        screenshot = (
            README_SCREENSHOT
            if os.environ.get("CONTACTS_GATEWAY_UPDATE_SCREENSHOT") == "1"
            else tmp_path / "graphiql.png"
        )
        await page.screenshot(path=str(screenshot))
        await page.close()
    assert screenshot.stat().st_size > 10_000
    assert key not in server.log()


async def test_demo_mode_prefills_the_key_and_an_example_query(
    browser: Any, api: Api, key: str, database_url: str, tmp_path: Path
) -> None:
    await seed(api)
    with live_server(database_url, tmp_path, demo_key=key) as server:
        page, external = await open_graphiql(browser, server)
        headers = json.loads(await editor_value(page, TOOL_EDITOR))
        assert headers == {"X-API-Key": key}
        assert "contacts(first: $first" in await editor_value(page, ".graphiql-query-editor")
        result = await run_and_read(page)  # the example query as it comes, unchanged
        assert "errors" not in result, result
        assert result["data"]["contacts"]["totalCount"] == 3
        assert external == []
        await page.close()


async def test_a_subscription_in_graphiql_receives_a_live_event(
    browser: Any, api: Api, key: str, database_url: str, tmp_path: Path
) -> None:
    with live_server(database_url, tmp_path, demo_key=key, events_poll_seconds="0.05") as server:
        page, external = await open_graphiql(browser, server)
        await set_editor(
            page,
            ".graphiql-query-editor",
            "subscription { contactEvents { type contactId } }",
        )
        await run(page)
        # The socket authenticated with the key from the Headers tab (connection_init): once
        # subscribed, contacts created over REST show up in the response pane.
        deadline = time.monotonic() + 30
        created: list[str] = []
        while True:
            shown = await editor_value(page, ".graphiql-response")
            if STALE in shown:
                await run(page)
            elif any(c in shown for c in created):
                break
            response = await api.post("/api/v2/contacts", json={"name": f"Live {len(created)}"})
            assert response.status_code == 201
            created.append(response.json()["id"])
            if time.monotonic() > deadline:
                raise AssertionError(f"no event in the response pane: {shown!r}")
            await page.wait_for_timeout(200)  # polling the pane; each round creates one contact
        assert "contact.created" in shown and external == []
        await page.close()
