"""Stateful fuzzing: create, update, delete and restore through REST and GraphQL against a model.

After every step the API must agree with the model: totals, every record, uniqueness of
emails and domains, each company's contact_count, and tenancy (another account sees none
of it). Each example runs in a fresh account of one database.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from starlette.testclient import TestClient

from db.engine import make_engine
from db.uow import UnitOfWork
from resolvers import keys as key_use_cases
from resolvers.scopes import ALL_SCOPES

pytestmark = pytest.mark.filterwarnings("ignore")

EXAMPLES = int(os.environ.get("CONTACTS_GATEWAY_STATEFUL_EXAMPLES", "5"))
STEPS = int(os.environ.get("CONTACTS_GATEWAY_STATEFUL_STEPS", "12"))

names = st.text(alphabet="abcdefghij XYZ", min_size=1, max_size=12).filter(lambda s: s.strip())
emails = st.none() | st.sampled_from(["a@example.com", "B@example.com", "b@example.com", "c@x.io"])
domains = st.none() | st.sampled_from(["acme.com", "globex.com", "ACME.com"])
tag_lists = st.lists(st.sampled_from(["vip", "new", "churn"]), max_size=3)
via_graphql = st.booleans()


@dataclass
class ModelContact:
    name: str
    email: str | None
    company_id: str | None
    tags: list[str]


@dataclass
class ModelCompany:
    name: str
    domain: str | None
    deleted: bool = False
    contacts: set[str] = field(default_factory=set)


def _new_key(database_url: str, account: str) -> str:
    async def make() -> str:
        engine = make_engine(database_url)
        uow = UnitOfWork(engine)
        try:
            raw, _ = await key_use_cases.create_key(
                uow, account_name=account, scopes=list(ALL_SCOPES)
            )
            await uow.commit()
            return raw
        finally:
            await uow.close()
            await engine.dispose()

    return asyncio.run(make())


def _dedupe(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


def test_contacts_and_companies_state_machine(fuzz_app: Any, database_url: str) -> None:
    counter = iter(range(10_000))
    other_key = _new_key(database_url, "stateful-other")

    with TestClient(fuzz_app, raise_server_exceptions=False) as client:
        other = {"X-API-Key": other_key}
        assert (
            client.post("/api/v2/contacts", json={"name": "Theirs"}, headers=other).status_code
            == 201
        )

        class Machine(RuleBasedStateMachine):
            contacts = Bundle("contacts")
            companies = Bundle("companies")

            @initialize()
            def fresh_account(self) -> None:
                self.headers = {"X-API-Key": _new_key(database_url, f"stateful-{next(counter)}")}
                self.model_contacts: dict[str, ModelContact] = {}
                self.model_companies: dict[str, ModelCompany] = {}

            # ------------------------------------------------------------ helpers
            def gql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
                r = client.post(
                    "/graphql", json={"query": query, "variables": variables}, headers=self.headers
                )
                assert r.status_code == 200, r.text
                return r.json()

            def email_taken(self, email: str | None, exclude: str | None = None) -> bool:
                if email is None:
                    return False
                return any(
                    c.email is not None
                    and c.email.casefold() == email.casefold()
                    and cid != exclude
                    for cid, c in self.model_contacts.items()
                )

            def domain_taken(self, domain: str | None, exclude: str | None = None) -> bool:
                if domain is None:
                    return False
                return any(
                    not c.deleted and c.domain == domain.lower() and cid != exclude
                    for cid, c in self.model_companies.items()
                )

            def expect(self, status: int, code: str | None, rest: Any, gql_errors: Any) -> None:
                """One assertion for both transports: REST status, or GraphQL error code."""
                if rest is not None:
                    assert rest.status_code == status, rest.text
                else:
                    if code is None:
                        assert not gql_errors, gql_errors
                    else:
                        assert gql_errors and gql_errors[0]["extensions"]["code"] == code, (
                            gql_errors
                        )

            # ------------------------------------------------------------ rules
            @rule(target=companies, name=names, domain=domains, graphql=via_graphql)
            def create_company(self, name: str, domain: str | None, graphql: bool) -> str:
                clash = self.domain_taken(domain)
                body = {"name": name, "domain": domain}
                if graphql:
                    out = self.gql(
                        "mutation($i: CreateCompanyInput!) { createCompany(input: $i) { id } }",
                        {"i": body},
                    )
                    self.expect(0, "conflict" if clash else None, None, out.get("errors"))
                    new_id = None if clash else out["data"]["createCompany"]["id"]
                else:
                    r = client.post("/api/v2/companies", json=body, headers=self.headers)
                    self.expect(409 if clash else 201, None, r, None)
                    new_id = None if clash else r.json()["id"]
                if new_id is None:
                    return "co_none"
                self.model_companies[new_id] = ModelCompany(
                    name, domain.lower() if domain else None
                )
                return new_id

            @rule(
                target=contacts,
                name=names,
                email=emails,
                company=st.none() | companies,
                tags=tag_lists,
                graphql=via_graphql,
            )
            def create_contact(
                self,
                name: str,
                email: str | None,
                company: str | None,
                tags: list[str],
                graphql: bool,
            ) -> str:
                company_ok = company is None or (
                    company in self.model_companies and not self.model_companies[company].deleted
                )
                clash = self.email_taken(email)
                body = {"name": name, "email": email, "company_id": company, "tags": tags}
                status, code = (
                    (422, "validation_failed")
                    if not company_ok
                    else (409, "conflict")
                    if clash
                    else (201, None)
                )
                if graphql:
                    gbody = {"name": name, "email": email, "companyId": company, "tags": tags}
                    out = self.gql(
                        "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }",
                        {"i": gbody},
                    )
                    self.expect(0, code, None, out.get("errors"))
                    new_id = out["data"]["createContact"]["id"] if code is None else None
                else:
                    r = client.post("/api/v2/contacts", json=body, headers=self.headers)
                    self.expect(status, None, r, None)
                    new_id = r.json()["id"] if status == 201 else None
                if new_id is None:
                    return "ct_none"
                self.model_contacts[new_id] = ModelContact(name, email, company, _dedupe(tags))
                if company:
                    self.model_companies[company].contacts.add(new_id)
                return new_id

            @rule(contact=contacts, email=emails, tags=tag_lists, graphql=via_graphql)
            def update_contact(
                self, contact: str, email: str | None, tags: list[str], graphql: bool
            ) -> None:
                exists = contact in self.model_contacts
                clash = exists and self.email_taken(email, exclude=contact)
                status, code = (
                    (404, "not_found")
                    if not exists
                    else (409, "conflict")
                    if clash
                    else (200, None)
                )
                if graphql:
                    out = self.gql(
                        "mutation($id: ID!, $i: UpdateContactInput!) { updateContact(id: $id, input: $i) { id } }",
                        {"id": contact, "i": {"email": email, "tags": tags}},
                    )
                    self.expect(0, code, None, out.get("errors"))
                else:
                    r = client.patch(
                        f"/api/v2/contacts/{contact}",
                        json={"email": email, "tags": tags},
                        headers=self.headers,
                    )
                    self.expect(status, None, r, None)
                if code is None:
                    self.model_contacts[contact].email = email
                    self.model_contacts[contact].tags = _dedupe(tags)

            @rule(contact=consumes(contacts), graphql=via_graphql)
            def delete_contact(self, contact: str, graphql: bool) -> None:
                exists = contact in self.model_contacts
                if graphql:
                    out = self.gql("mutation($id: ID!) { deleteContact(id: $id) }", {"id": contact})
                    self.expect(0, None if exists else "not_found", None, out.get("errors"))
                else:
                    r = client.delete(f"/api/v2/contacts/{contact}", headers=self.headers)
                    self.expect(204 if exists else 404, None, r, None)
                if exists:
                    linked = self.model_contacts.pop(contact).company_id
                    if linked:
                        self.model_companies[linked].contacts.discard(contact)

            @rule(company=companies, domain=domains, graphql=via_graphql)
            def update_company(self, company: str, domain: str | None, graphql: bool) -> None:
                model = self.model_companies.get(company)
                if model is None:
                    status, code = 404, "not_found"
                elif model.deleted or self.domain_taken(domain, exclude=company):
                    status, code = 409, "conflict"
                else:
                    status, code = 200, None
                if graphql:
                    out = self.gql(
                        "mutation($id: ID!, $i: UpdateCompanyInput!) { updateCompany(id: $id, input: $i) { id } }",
                        {"id": company, "i": {"domain": domain}},
                    )
                    self.expect(0, code, None, out.get("errors"))
                else:
                    r = client.patch(
                        f"/api/v2/companies/{company}",
                        json={"domain": domain},
                        headers=self.headers,
                    )
                    self.expect(status, None, r, None)
                if code is None and model is not None:
                    model.domain = domain.lower() if domain else None

            @rule(company=companies, graphql=via_graphql)
            def delete_company(self, company: str, graphql: bool) -> None:
                model = self.model_companies.get(company)
                if graphql:
                    out = self.gql(
                        "mutation($id: ID!) { deleteCompany(id: $id) { id } }", {"id": company}
                    )
                    self.expect(0, None if model else "not_found", None, out.get("errors"))
                else:
                    r = client.delete(f"/api/v2/companies/{company}", headers=self.headers)
                    self.expect(204 if model else 404, None, r, None)
                if model is not None:
                    model.deleted = True

            @rule(company=companies, graphql=via_graphql)
            def restore_company(self, company: str, graphql: bool) -> None:
                model = self.model_companies.get(company)
                if model is None:
                    status, code = 404, "not_found"
                elif model.deleted and self.domain_taken(model.domain, exclude=company):
                    status, code = 409, "conflict"
                else:
                    status, code = 200, None
                if graphql:
                    out = self.gql(
                        "mutation($id: ID!) { restoreCompany(id: $id) { id } }", {"id": company}
                    )
                    self.expect(0, code, None, out.get("errors"))
                else:
                    r = client.post(f"/api/v2/companies/{company}/restore", headers=self.headers)
                    self.expect(status, None, r, None)
                if code is None and model is not None:
                    model.deleted = False

            # ------------------------------------------------------------ invariants
            @invariant()
            def api_agrees_with_the_model(self) -> None:
                if not hasattr(self, "headers"):
                    return
                listed = client.get("/api/v2/contacts?limit=100", headers=self.headers).json()
                assert listed["total"] == len(self.model_contacts)
                by_id = {c["id"]: c for c in listed["data"]}
                assert set(by_id) == set(self.model_contacts)
                emails_seen = [c["email"].casefold() for c in listed["data"] if c["email"]]
                assert len(emails_seen) == len(set(emails_seen)), "duplicate email"
                for cid, model in self.model_contacts.items():
                    got = by_id[cid]
                    assert (got["name"], got["email"], got["company_id"], got["tags"]) == (
                        model.name.strip(),
                        model.email,
                        model.company_id,
                        model.tags,
                    )
                companies = client.get(
                    "/api/v2/companies?limit=100&include_deleted=true", headers=self.headers
                ).json()
                assert companies["total"] == len(self.model_companies)
                active_domains = [
                    c["domain"] for c in companies["data"] if c["domain"] and not c["deleted_at"]
                ]
                assert len(active_domains) == len(set(active_domains)), "duplicate active domain"
                for company in companies["data"]:
                    model = self.model_companies[company["id"]]
                    assert (company["domain"], company["deleted_at"] is not None) == (
                        model.domain,
                        model.deleted,
                    )
                    assert company["contact_count"] == len(model.contacts)
                active = client.get("/api/v2/companies?limit=100", headers=self.headers).json()
                assert active["total"] == sum(not m.deleted for m in self.model_companies.values())
                # Tenancy: the other account sees only its own contact, and none of ours.
                assert client.get("/api/v2/contacts", headers=other).json()["total"] == 1
                for cid in list(self.model_contacts)[:3]:
                    assert client.get(f"/api/v2/contacts/{cid}", headers=other).status_code == 404

        run_state_machine_as_test(
            Machine,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=STEPS,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
                derandomize=True,
            ),
        )
