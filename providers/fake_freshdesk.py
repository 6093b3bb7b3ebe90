"""A runnable fake Freshdesk v2 (contacts, companies) reproducing the real API's quirks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from providers.fake_common import (
    FakeClock,
    basic_credentials,
    iso_offset,
    iso_z,
    json_body,
    json_response,
    parse_iso,
)
from providers.fake_data import generate_companies, iter_people
from providers.fake_faults import FakeProviderMiddleware, FaultInjector, admin_routes

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 30
COMPANY_OFFSET_MINUTES = 330
LIST_PARAMS = frozenset(
    {
        "page",
        "per_page",
        "updated_since",
        "_updated_since",
        "state",
        "email",
        "phone",
        "mobile",
        "company_id",
        "contact_type",
    }
)
STATES = ("blocked", "deleted", "unverified", "verified")


class FakeError(Exception):
    """An API error the fake answers with Freshdesk's error JSON."""

    def __init__(self, status: int, field: str | None, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = message
        self.code = code

    def response(self) -> Response:
        """Render as Freshdesk's `{"description": "Validation failed", "errors": [...]}`."""
        error: dict[str, str] = {"message": self.message, "code": self.code}
        if self.field is not None:
            error = {"field": self.field, **error}
        return json_response({"description": "Validation failed", "errors": [error]}, self.status)


@dataclass(slots=True)
class FdContact:
    """One stored contact; `raw` replaces the rendered JSON (for malformed-record tests)."""

    id: int
    name: str
    email: str | None
    phone: str | None
    mobile: str | None
    company_id: int | None
    tags: tuple[str, ...]
    created_at: int
    updated_at: int
    state: str = "live"
    verified: bool = True
    job_title: str | None = None
    raw: dict[str, Any] | None = None

    def sort_key(self) -> tuple[str, int]:
        """Freshdesk lists contacts alphabetically by name."""
        return (self.name.lower(), self.id)


@dataclass(slots=True)
class FdCompany:
    """One stored company."""

    id: int
    name: str
    domains: list[str]
    tags: tuple[str, ...]
    created_at: int
    updated_at: int
    raw: dict[str, Any] | None = None


@dataclass
class FreshdeskStore:
    """In-memory Freshdesk account; thread-safe so tests can mutate it while it serves."""

    clock: FakeClock = field(default_factory=FakeClock)
    contacts: dict[int, FdContact] = field(default_factory=dict)
    companies: dict[int, FdCompany] = field(default_factory=dict)
    next_contact_id: int = 1
    next_company_id: int = 1
    version: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
    _listing_cache: dict[tuple[Any, ...], list[FdContact]] = field(default_factory=dict)

    def _touch(self) -> None:
        self.version += 1
        self._listing_cache.clear()

    def generate(self, contacts: int, seed: int = 1, companies: int | None = None) -> None:
        """Fill the store with deterministic data: `contacts` people and their companies."""
        n_companies = companies if companies is not None else max(1, min(2000, contacts // 20))
        base = self.clock.now() - 3600
        with self.lock:
            seeds = generate_companies(n_companies, seed)
            company_ids: list[int] = []
            for cseed in seeds:
                company = FdCompany(
                    id=self.next_company_id,
                    name=cseed.name,
                    domains=[cseed.domain],
                    tags=cseed.tags,
                    created_at=base - cseed.updated_offset - 86400,
                    updated_at=base - cseed.updated_offset,
                )
                self.companies[company.id] = company
                company_ids.append(company.id)
                self.next_company_id += 1
            for index, person in enumerate(iter_people(contacts, seed, seeds)):
                state = "live"
                if index % 97 == 13:
                    state = "deleted"
                elif index % 101 == 7:
                    state = "blocked"
                cid = self.next_contact_id
                self.next_contact_id += 1
                self.contacts[cid] = FdContact(
                    id=cid,
                    name=person.name,
                    email=person.email,
                    phone=person.phone,
                    mobile=person.mobile,
                    company_id=(
                        None if person.company_index is None else company_ids[person.company_index]
                    ),
                    tags=person.tags,
                    created_at=base - person.created_offset,
                    updated_at=base - person.updated_offset,
                    state=state,
                    verified=index % 11 != 0,
                )
            self._touch()

    # -- contacts ---------------------------------------------------------------------------

    def _email_taken(self, email: str | None, except_id: int | None = None) -> bool:
        if not email:
            return False
        wanted = email.strip().lower()
        return any(
            c.email is not None and c.email.strip().lower() == wanted and c.id != except_id
            for c in self.contacts.values()
        )

    def create_contact(self, data: dict[str, Any], *, admin: bool = False) -> FdContact:
        """Create a contact (409 on a duplicate email); admin callers may set any field."""
        with self.lock:
            raw = data.get("raw") if admin else None
            name = data.get("name")
            if raw is None and not isinstance(name, str):
                raise FakeError(400, "name", "It should be a/an String", "missing_field")
            email = data.get("email")
            if raw is None and self._email_taken(email):
                raise FakeError(409, "email", "It should be a unique value", "duplicate_value")
            now = self.clock.now()
            cid = int(data["id"]) if admin and "id" in data else self.next_contact_id
            self.next_contact_id = max(self.next_contact_id, cid + 1)
            contact = FdContact(
                id=cid,
                name=str(name if isinstance(name, str) else (raw or {}).get("name") or ""),
                email=email,
                phone=data.get("phone"),
                mobile=data.get("mobile"),
                company_id=data.get("company_id"),
                tags=tuple(data.get("tags") or ()),
                created_at=int(data.get("created_at", now)) if admin else now,
                updated_at=self._admin_updated_at(data, raw, now) if admin else now,
                state=str(data.get("state", "live")) if admin else "live",
                job_title=data.get("job_title"),
                raw=raw if isinstance(raw, dict) else None,
            )
            self.contacts[cid] = contact
            self._touch()
            return contact

    @staticmethod
    def _admin_updated_at(data: dict[str, Any], raw: Any, now: int) -> int:
        if "updated_at" in data:
            return int(data["updated_at"])
        if isinstance(raw, dict) and isinstance(raw.get("updated_at"), str):
            parsed = parse_iso(raw["updated_at"])
            if parsed is not None:
                return parsed
        return now

    def get_contact(self, contact_id: int) -> FdContact:
        """Return a stored contact or raise a 404."""
        contact = self.contacts.get(contact_id)
        if contact is None:
            raise FakeError(404, None, "Record not found", "not_found")
        return contact

    def update_contact(
        self, contact_id: int, data: dict[str, Any], *, admin: bool = False
    ) -> FdContact:
        """Update fields; `updated_at` becomes the fake clock's now unless an admin sets it."""
        with self.lock:
            contact = self.get_contact(contact_id)
            if "email" in data and self._email_taken(data["email"], contact_id):
                raise FakeError(409, "email", "It should be a unique value", "duplicate_value")
            for key in ("name", "email", "phone", "mobile", "company_id", "job_title"):
                if key in data:
                    setattr(contact, key, data[key])
            if "tags" in data:
                contact.tags = tuple(data["tags"] or ())
            if admin and "state" in data:
                contact.state = str(data["state"])
            contact.updated_at = (
                int(data["updated_at"]) if admin and "updated_at" in data else self.clock.now()
            )
            self._touch()
            return contact

    def set_state(self, contact_id: int, state: str) -> FdContact:
        """Soft-delete (`deleted`), block (`blocked`) or restore (`live`) a contact."""
        with self.lock:
            contact = self.get_contact(contact_id)
            contact.state = state
            contact.updated_at = self.clock.now()
            self._touch()
            return contact

    def hard_delete(self, contact_id: int) -> None:
        """Erase a contact for good."""
        with self.lock:
            self.get_contact(contact_id)
            del self.contacts[contact_id]
            self._touch()

    def list_contacts(
        self, state: str | None, since: int | None, email: str | None, company_id: int | None
    ) -> list[FdContact]:
        """Filtered contacts in alphabetical order (cached until the next write)."""
        key = (state, since, email, company_id, self.version)
        with self.lock:
            cached = self._listing_cache.get(key)
            if cached is not None:
                return cached
            wanted = email.strip().lower() if email else None
            rows: list[FdContact] = []
            for c in self.contacts.values():
                if state in (None, "verified", "unverified") and c.state != "live":
                    continue
                if state in ("blocked", "deleted") and c.state != state:
                    continue
                if state == "verified" and not c.verified:
                    continue
                if state == "unverified" and c.verified:
                    continue
                if since is not None and c.updated_at < since:
                    continue
                if wanted is not None and (c.email or "").strip().lower() != wanted:
                    continue
                if company_id is not None and c.company_id != company_id:
                    continue
                rows.append(c)
            rows.sort(key=FdContact.sort_key)
            if len(self._listing_cache) > 32:
                self._listing_cache.clear()
            self._listing_cache[key] = rows
            return rows

    def render_contact(self, c: FdContact, *, view: bool = False) -> dict[str, Any]:
        """Render a contact the way `GET /contacts` (or the view endpoint) does."""
        if c.raw is not None:
            return c.raw
        data: dict[str, Any] = {
            "active": c.verified,
            "address": None,
            "company_id": c.company_id,
            "description": None,
            "email": c.email,
            "id": c.id,
            "job_title": c.job_title,
            "language": "en",
            "mobile": c.mobile,
            "name": c.name,
            "phone": c.phone,
            "time_zone": "Eastern Time (US & Canada)",
            "twitter_id": None,
            "other_companies": [],
            "custom_fields": {},
            "tags": list(c.tags),
            "created_at": iso_z(c.created_at),
            "updated_at": iso_z(c.updated_at),
        }
        if c.state == "deleted":
            data["deleted"] = True
        if view:
            data["other_emails"] = []
            data["unique_external_id"] = None
            data["view_all_tickets"] = False
            data["avatar"] = None
            if c.company_id is not None:
                data["other_companies"] = [{"company_id": c.company_id, "view_all_tickets": False}]
        return data

    # -- companies --------------------------------------------------------------------------

    def create_company(self, data: dict[str, Any], *, admin: bool = False) -> FdCompany:
        """Create a company (names are unique: 409 on a duplicate)."""
        with self.lock:
            raw = data.get("raw") if admin else None
            name = data.get("name")
            if raw is None and not isinstance(name, str):
                raise FakeError(400, "name", "It should be a/an String", "missing_field")
            if raw is None and any(co.name == name for co in self.companies.values()):
                raise FakeError(409, "name", "It should be a unique value", "duplicate_value")
            now = self.clock.now()
            cid = int(data["id"]) if admin and "id" in data else self.next_company_id
            self.next_company_id = max(self.next_company_id, cid + 1)
            company = FdCompany(
                id=cid,
                name=str(name or ""),
                domains=list(data.get("domains") or []),
                tags=tuple(data.get("tags") or ()),
                created_at=now,
                updated_at=int(data.get("updated_at", now)) if admin else now,
                raw=raw if isinstance(raw, dict) else None,
            )
            self.companies[cid] = company
            self._touch()
            return company

    def delete_company(self, company_id: int) -> None:
        """Hard-delete a company; its contacts lose the association."""
        with self.lock:
            if company_id not in self.companies:
                raise FakeError(404, None, "Record not found", "not_found")
            del self.companies[company_id]
            for c in self.contacts.values():
                if c.company_id == company_id:
                    c.company_id = None
            self._touch()

    def render_company(self, co: FdCompany) -> dict[str, Any]:
        """Render a company; timestamps carry the account's +05:30 offset like the samples."""
        if co.raw is not None:
            return co.raw
        return {
            "id": co.id,
            "name": co.name,
            "description": None,
            "domains": list(co.domains),
            "note": None,
            "custom_fields": {},
            "health_score": None,
            "account_tier": "Basic",
            "renewal_date": None,
            "industry": None,
            "tags": list(co.tags),
            "created_at": iso_offset(co.created_at, COMPANY_OFFSET_MINUTES),
            "updated_at": iso_offset(co.updated_at, COMPANY_OFFSET_MINUTES),
        }

    def apply_action(self, action: dict[str, Any]) -> None:
        """Run an admin action `{"op": create|update|delete|hard_delete|block|restore, ...}`."""
        op = action.get("op")
        record = action.get("record") or {}
        if op == "create":
            self.create_contact(record, admin=True)
        elif op == "update":
            self.update_contact(int(action["id"]), record, admin=True)
        elif op in ("delete", "block", "restore"):
            state = {"delete": "deleted", "block": "blocked", "restore": "live"}[op]
            self.set_state(int(action["id"]), state)
        elif op == "hard_delete":
            self.hard_delete(int(action["id"]))
        else:
            raise ValueError(f"unknown op {op!r}")


def _int_param(request: Request, name: str, default: int, maximum: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise FakeError(400, name, "It should be a/an Positive Integer", "datatype_mismatch")
    value = int(raw)
    if maximum is not None and value > maximum:
        raise FakeError(400, name, f"Has to be less than or equal to {maximum}", "invalid_value")
    return value


def _since_param(request: Request) -> int | None:
    raw = request.query_params.get("updated_since") or request.query_params.get("_updated_since")
    if raw is None:
        return None
    since = parse_iso(raw)
    if since is None:
        raise FakeError(
            400, "updated_since", "It should be in the 'valid date time' format", "invalid_value"
        )
    return since


def _page_response(
    request: Request, rows: list[Any], render: Callable[[Any], dict[str, Any]]
) -> Response:
    per_page = _int_param(request, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
    page = _int_param(request, "page", 1, None)
    start = (page - 1) * per_page
    chunk = rows[start : start + per_page]
    headers: dict[str, str] = {}
    if start + per_page < len(rows):
        params = dict(request.query_params)
        params["page"] = str(page + 1)
        params["per_page"] = str(per_page)
        base = str(request.url.replace(query=""))
        headers["link"] = f'<{base}?{urlencode(params)}>; rel="next"'
    body = orjson.dumps([render(row) for row in chunk])
    return Response(body, 200, headers=headers, media_type="application/json")


def create_freshdesk_app(
    store: FreshdeskStore | None = None,
    *,
    api_key: str = "fake-freshdesk-key",
    faults: FaultInjector | None = None,
) -> Starlette:
    """Build the fake Freshdesk ASGI app; `app.state` holds `store` and `faults`."""
    store = store or FreshdeskStore()
    faults = faults or FaultInjector()
    faults.mutator = store.apply_action

    def guarded(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                result: Response = await handler(request)
            except FakeError as exc:
                return exc.response()
            except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
                return FakeError(400, None, str(exc), "invalid_value").response()
            return result

        return endpoint

    async def list_contacts(request: Request) -> Response:
        unknown = set(request.query_params) - LIST_PARAMS
        if unknown:
            raise FakeError(
                400, sorted(unknown)[0], "Unexpected/invalid field in request", "invalid_field"
            )
        state = request.query_params.get("state")
        if state is not None and state not in STATES:
            raise FakeError(
                400,
                "state",
                f"It should be one of these values: {','.join(STATES)}",
                "invalid_value",
            )
        company = request.query_params.get("company_id")
        rows = store.list_contacts(
            state,
            _since_param(request),
            request.query_params.get("email"),
            int(company) if company else None,
        )
        return _page_response(request, rows, store.render_contact)

    async def view_contact(request: Request) -> Response:
        contact = store.get_contact(int(request.path_params["id"]))
        return json_response(store.render_contact(contact, view=True))

    async def create_contact(request: Request) -> Response:
        contact = store.create_contact(await json_body(request))
        return json_response(store.render_contact(contact, view=True), 201)

    async def update_contact(request: Request) -> Response:
        contact = store.update_contact(int(request.path_params["id"]), await json_body(request))
        return json_response(store.render_contact(contact, view=True))

    async def delete_contact(request: Request) -> Response:
        contact = store.get_contact(int(request.path_params["id"]))
        if contact.state == "deleted":
            raise FakeError(404, None, "Record not found", "not_found")
        store.set_state(contact.id, "deleted")
        return Response(status_code=204)

    async def restore_contact(request: Request) -> Response:
        store.set_state(int(request.path_params["id"]), "live")
        return Response(status_code=204)

    async def hard_delete_contact(request: Request) -> Response:
        contact = store.get_contact(int(request.path_params["id"]))
        if contact.state != "deleted" and request.query_params.get("force") != "true":
            raise FakeError(
                400, None, "Contact must be soft-deleted first (or use force=true)", "invalid_value"
            )
        store.hard_delete(contact.id)
        return Response(status_code=204)

    async def list_companies(request: Request) -> Response:
        since = _since_param(request)
        with store.lock:
            rows = sorted(
                (co for co in store.companies.values() if since is None or co.updated_at >= since),
                key=lambda co: co.id,
            )
        return _page_response(request, rows, store.render_company)

    async def delete_company(request: Request) -> Response:
        store.delete_company(int(request.path_params["id"]))
        return Response(status_code=204)

    async def admin_create_contact(request: Request) -> Response:
        contact = store.create_contact(await json_body(request), admin=True)
        return json_response({"id": contact.id}, 201)

    async def admin_update_contact(request: Request) -> Response:
        contact = store.update_contact(
            int(request.path_params["id"]), await json_body(request), admin=True
        )
        return json_response(store.render_contact(contact, view=True))

    async def admin_delete_contact(request: Request) -> Response:
        contact_id = int(request.path_params["id"])
        if request.query_params.get("hard") in ("1", "true"):
            store.hard_delete(contact_id)
        else:
            store.set_state(contact_id, "deleted")
        return Response(status_code=204)

    async def admin_contact_state(request: Request) -> Response:
        op = request.path_params["op"]
        state = {"block": "blocked", "restore": "live", "delete": "deleted"}.get(op)
        if state is None:
            raise FakeError(404, None, "unknown operation", "not_found")
        store.set_state(int(request.path_params["id"]), state)
        return Response(status_code=204)

    async def admin_create_company(request: Request) -> Response:
        company = store.create_company(await json_body(request), admin=True)
        return json_response({"id": company.id}, 201)

    async def admin_delete_company(request: Request) -> Response:
        store.delete_company(int(request.path_params["id"]))
        return Response(status_code=204)

    async def admin_counts(request: Request) -> Response:
        with store.lock:
            states: dict[str, int] = {}
            for c in store.contacts.values():
                states[c.state] = states.get(c.state, 0) + 1
            return json_response({"contacts": states, "companies": len(store.companies)})

    def authorized(request: Request) -> bool:
        creds = basic_credentials(request)
        return creds is not None and creds[0] == api_key

    def unauthorized() -> Response:
        return json_response(
            {
                "code": "invalid_credentials",
                "message": "You have to be logged in to perform this action.",
            },
            401,
        )

    routes = [
        Route("/api/v2/contacts", guarded(list_contacts), methods=["GET"]),
        Route("/api/v2/contacts", guarded(create_contact), methods=["POST"]),
        Route("/api/v2/contacts/{id:int}", guarded(view_contact), methods=["GET"]),
        Route("/api/v2/contacts/{id:int}", guarded(update_contact), methods=["PUT"]),
        Route("/api/v2/contacts/{id:int}", guarded(delete_contact), methods=["DELETE"]),
        Route("/api/v2/contacts/{id:int}/restore", guarded(restore_contact), methods=["PUT"]),
        Route(
            "/api/v2/contacts/{id:int}/hard_delete",
            guarded(hard_delete_contact),
            methods=["DELETE"],
        ),
        Route("/api/v2/companies", guarded(list_companies), methods=["GET"]),
        Route("/api/v2/companies/{id:int}", guarded(delete_company), methods=["DELETE"]),
        Route("/__contacts", guarded(admin_create_contact), methods=["POST"]),
        Route("/__contacts/{id:int}", guarded(admin_update_contact), methods=["PATCH"]),
        Route("/__contacts/{id:int}", guarded(admin_delete_contact), methods=["DELETE"]),
        Route("/__contacts/{id:int}/{op}", guarded(admin_contact_state), methods=["POST"]),
        Route("/__companies", guarded(admin_create_company), methods=["POST"]),
        Route("/__companies/{id:int}", guarded(admin_delete_company), methods=["DELETE"]),
        Route("/__counts", guarded(admin_counts), methods=["GET"]),
        *admin_routes(faults, store.clock),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(
        FakeProviderMiddleware,
        faults=faults,
        clock=store.clock,
        authorized=authorized,
        unauthorized=unauthorized,
        extra_headers=lambda: {
            "X-Ratelimit-Total": str(faults.rate_limit.per_minute or 700),
            "X-Ratelimit-Remaining": str(faults.rate_limit.remaining()),
        },
    )
    app.state.store = store
    app.state.faults = faults
    return app
