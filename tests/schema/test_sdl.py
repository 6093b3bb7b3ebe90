"""The committed SDL (schema/schema.graphql) is exactly what the code builds."""

from __future__ import annotations

import difflib
import re
from importlib import resources

from graphql import build_schema as parse_sdl

from schema import schema

REGENERATE = "regenerate it with `scripts/export-schema` and commit schema/schema.graphql"


def _committed() -> str:
    return resources.files("schema").joinpath("schema.graphql").read_text()


def test_committed_sdl_matches_code() -> None:
    code = schema.as_str().rstrip("\n") + "\n"
    committed = _committed()
    if code != committed:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                code.splitlines(keepends=True),
                "schema/schema.graphql (committed)",
                "schema (code)",
                n=1,
            )
        )
        raise AssertionError(f"the GraphQL schema changed; {REGENERATE}.\n{diff}")


def _signature(sdl: str, type_name: str, field: str) -> str:
    """``field(args): Type`` of one field, whitespace-normalised, ``= null`` defaults dropped."""
    built = parse_sdl(sdl)
    gql_type = built.get_type(type_name)
    assert gql_type is not None, f"type {type_name} missing"
    gql_field = gql_type.fields[field]  # type: ignore[union-attr]
    args = []
    for name, arg in gql_field.args.items():
        default = arg.ast_node.default_value if arg.ast_node else None
        text = f"{name}: {arg.type}"
        if default is not None and default.to_dict().get("kind") != "null_value":
            from graphql import print_ast

            text += f" = {print_ast(default)}"
        args.append(text)
    return f"{field}({', '.join(args)}): {gql_field.type}" if args else f"{field}: {gql_field.type}"


# The contract's core SDL (docs/API-CONTRACT.md, "GraphQL core"): names, types and defaults
# that clients rely on. Extra optional arguments and fields are allowed.
CONTRACT_CORE = {
    ("Query", "contact"): "contact(id: ID!): Contact",
    (
        "Query",
        "contacts",
    ): "search: String|companyId: ID|tags: [String!]|first: Int = 25|after: String|ContactConnection!",
    ("Query", "company"): "company(id: ID!): Company",
    (
        "Query",
        "companies",
    ): "search: String|tags: [String!]|includeDeleted: Boolean = false|first: Int = 25|after: String|CompanyConnection!",
    ("Mutation", "createContact"): "input: CreateContactInput!|Contact!",
    ("Mutation", "updateContact"): "id: ID!|input: UpdateContactInput!|Contact!",
    ("Mutation", "deleteContact"): "id: ID!|ID!",
    ("Mutation", "createCompany"): "input: CreateCompanyInput!|Company!",
    ("Mutation", "updateCompany"): "id: ID!|input: UpdateCompanyInput!|Company!",
    ("Mutation", "deleteCompany"): "id: ID!|Company!",
    ("Mutation", "restoreCompany"): "id: ID!|Company!",
    ("Company", "contacts"): "first: Int = 25|after: String|ContactConnection!",
}

CONTRACT_FIELDS = {
    "Contact": "id: ID! name: String! email: String phone: String companyId: ID companyName: String company: Company tags: [String!]! createdAt: DateTime! updatedAt: DateTime!",
    "Company": "id: ID! name: String! domain: String tags: [String!]! createdAt: DateTime! updatedAt: DateTime! deletedAt: DateTime contactCount: Int!",
    "ContactConnection": "edges: [ContactEdge!]! nodes: [Contact!]! pageInfo: PageInfo! totalCount: Int!",
    "CompanyConnection": "edges: [CompanyEdge!]! nodes: [Company!]! pageInfo: PageInfo! totalCount: Int!",
    "PageInfo": "hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String",
}


def test_committed_sdl_keeps_the_contract_core() -> None:
    sdl = _committed()
    for (type_name, field), expected in CONTRACT_CORE.items():
        actual = _signature(sdl, type_name, field)
        if "|" in expected:
            *args, result = expected.split("|")
            for arg in args:
                assert arg in actual, f"{type_name}.{field}: {arg!r} missing in {actual!r}"
            assert actual.endswith(f": {result}"), actual
        else:
            assert actual == expected, f"{type_name}.{field}: {actual!r} != {expected!r}"
    built = parse_sdl(sdl)
    for type_name, fields in CONTRACT_FIELDS.items():
        gql_type = built.get_type(type_name)
        assert gql_type is not None, type_name
        for name, type_text in re.findall(r"(\w+): ([\w\[\]!]+)", fields):
            assert name in gql_type.fields, f"{type_name}.{name} missing"  # type: ignore[union-attr]
            assert str(gql_type.fields[name].type) == type_text, (  # type: ignore[union-attr]
                f"{type_name}.{name}: {gql_type.fields[name].type} != {type_text}"  # type: ignore[union-attr]
            )
