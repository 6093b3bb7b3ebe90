"""Packaging: the short top-level names are ours, and /openapi.json documents every v2 route."""

from __future__ import annotations

import importlib
import importlib.metadata
import tomllib
from pathlib import Path

import httpx
import pytest

from tests.conftest import Api

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "name", ["schema", "db", "resolvers", "rest_compat", "contacts_gateway", "providers"]
)
def test_top_level_packages_are_this_projects(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None, f"{name} is a namespace package, not ours"
    assert Path(module.__file__).resolve().is_relative_to(ROOT), (
        f"`import {name}` found {module.__file__}, not this project's package"
    )


def test_pypis_schema_package_is_not_installed() -> None:
    """PyPI's unrelated `schema` distribution would shadow (or be shadowed by) our package."""
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("schema")
    # and our own package is what provides `schema` (it has the GraphQL schema object)
    from schema import build_schema, schema

    assert callable(build_schema) and schema is not None


def test_pyproject_lists_the_packages_and_the_sdl() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = config["tool"]["setuptools"]["packages"]
    for name in ("schema", "db", "resolvers", "rest_compat", "contacts_gateway"):
        assert name in packages
    assert "schema.graphql" in config["tool"]["setuptools"]["package-data"]["schema"]
    assert (ROOT / "schema" / "schema.graphql").is_file()
    assert config["project"]["scripts"]["contacts-gateway"] == "contacts_gateway.cli:main"
    deps = " ".join(config["project"]["dependencies"])
    assert "strawberry-graphql>=0.315.7" in deps
    assert not any(
        d.split("[")[0].split(">")[0].split("=")[0].strip() == "schema"
        for d in config["project"]["dependencies"]
    )


V2_ROUTES = {
    ("get", "/api/v2/contacts"): ("200", "ContactList", {"401", "403", "422"}),
    ("post", "/api/v2/contacts"): ("201", "Contact", {"401", "403", "409", "413", "422"}),
    ("get", "/api/v2/contacts/{contact_id}"): ("200", "Contact", {"401", "403", "404"}),
    ("patch", "/api/v2/contacts/{contact_id}"): (
        "200",
        "Contact",
        {"401", "403", "404", "409", "413", "422"},
    ),
    ("delete", "/api/v2/contacts/{contact_id}"): ("204", None, {"401", "403", "404"}),
    ("get", "/api/v2/companies"): ("200", "CompanyList", {"401", "403", "422"}),
    ("post", "/api/v2/companies"): ("201", "Company", {"401", "403", "409", "413", "422"}),
    ("get", "/api/v2/companies/{company_id}"): ("200", "Company", {"401", "403", "404"}),
    ("patch", "/api/v2/companies/{company_id}"): (
        "200",
        "Company",
        {"401", "403", "404", "409", "413", "422"},
    ),
    ("delete", "/api/v2/companies/{company_id}"): ("204", None, {"401", "403", "404"}),
    ("post", "/api/v2/companies/{company_id}/restore"): (
        "200",
        "Company",
        {"401", "403", "404", "409"},
    ),
}


async def test_openapi_documents_every_v2_route(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")  # no key needed
    assert response.status_code == 200
    spec = response.json()
    paths = spec["paths"]
    schemas = spec["components"]["schemas"]
    for (method, path), (ok, model, errors) in V2_ROUTES.items():
        assert path in paths and method in paths[path], f"{method.upper()} {path} undocumented"
        op = paths[path][method]
        assert op.get("summary"), (method, path)
        responses = op["responses"]
        assert ok in responses, (method, path, sorted(responses))
        if model:
            ref = responses[ok]["content"]["application/json"]["schema"]["$ref"]
            assert ref == f"#/components/schemas/{model}", (method, path, ref)
        missing = errors - set(responses)
        assert not missing, f"{method.upper()} {path} lacks problem responses {missing}"
        for status in errors:
            content = responses[status]["content"]
            assert (
                content["application/problem+json"]["schema"]["$ref"]
                == "#/components/schemas/Problem"
            ), (method, path, status)
            assert responses[status]["description"]
        params = {p["name"] for p in op.get("parameters", [])}
        assert "X-API-Key" in params, (method, path)
    list_params = {p["name"]: p for p in paths["/api/v2/contacts"]["get"]["parameters"]}
    assert {"search", "company_id", "tags", "limit", "offset"} <= set(list_params)
    assert (
        list_params["limit"]["schema"]["maximum"] == 100
        and list_params["limit"]["schema"]["minimum"] == 1
    )
    assert list_params["limit"]["schema"]["default"] == 25
    assert "include_deleted" in {p["name"] for p in paths["/api/v2/companies"]["get"]["parameters"]}
    contact = schemas["Contact"]["properties"]
    assert {
        "id",
        "name",
        "email",
        "phone",
        "company_id",
        "company_name",
        "tags",
        "created_at",
        "updated_at",
    } <= set(contact)
    assert {"id", "name", "domain", "tags", "contact_count", "deleted_at"} <= set(
        schemas["Company"]["properties"]
    )
    assert {"type", "title", "status", "detail", "code", "errors"} <= set(
        schemas["Problem"]["properties"]
    )
    # request bodies are documented with their models, unknown fields forbidden
    body = paths["/api/v2/contacts"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    create = schemas[body["$ref"].rsplit("/", 1)[1]]
    assert create.get("additionalProperties") is False and "name" in create["required"]


async def test_docs_page_is_served(api: Api) -> None:
    response = await api.get("/docs")
    assert response.status_code == 200 and "swagger" in response.text.lower()
