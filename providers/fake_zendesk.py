"""A runnable fake Zendesk Support (incremental user and organization exports) with quirks."""

from __future__ import annotations

import base64
import bisect
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

from providers.fake_common import FakeClock, basic_credentials, iso_z, json_body, json_response
from providers.fake_data import generate_companies, iter_people
from providers.fake_faults import FakeProviderMiddleware, FaultInjector, admin_routes

MAX_PER_PAGE = 1000
MIN_AGE = 60
ROLES = ("end-user", "agent", "admin")


class ZdError(Exception):
    """An API error the fake answers with Zendesk's error JSON."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def response(self) -> Response:
        """Render as `{"error": ..., "description": ...}`."""
        return json_response({"error": self.error, "description": self.description}, self.status)


@dataclass(slots=True)
class ZdUser:
    """One stored user; `raw` replaces the rendered JSON (for malformed-record tests)."""

    id: int
    name: str
    email: str | None
    phone: str | None
    organization_id: int | None
    role: str
    tags: tuple[str, ...]
    created_at: int
    updated_at: int
    active: bool = True
    suspended: bool = False
    raw: dict[str, Any] | None = None

    def export_key(self) -> tuple[int, int]:
        """Exports are chronological: by `updated_at`, then id."""
        return (self.updated_at, self.id)


@dataclass(slots=True)
class ZdOrganization:
    """One stored organization."""

    id: int
    name: str
    domain_names: list[str]
    tags: tuple[str, ...]
    created_at: int
    updated_at: int
    deleted_at: int | None = None
    raw: dict[str, Any] | None = None

    def export_key(self) -> tuple[int, int]:
        """Exports are chronological: by `updated_at`, then id."""
        return (self.updated_at, self.id)


def _encode_cursor(position: tuple[int, int], serial: int) -> str:
    raw = orjson.dumps({"t": position[0], "i": position[1], "n": serial})
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str) -> tuple[tuple[int, int], int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded))
        return (int(data["t"]), int(data["i"])), int(data["n"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise ZdError(400, "InvalidCursor", "The cursor is invalid") from None


@dataclass
class ZendeskStore:
    """In-memory Zendesk account; thread-safe so tests can mutate it while it serves."""

    clock: FakeClock = field(default_factory=FakeClock)
    users: dict[int, ZdUser] = field(default_factory=dict)
    organizations: dict[int, ZdOrganization] = field(default_factory=dict)
    empty_page_every: int = 4
    next_user_id: int = 1
    next_org_id: int = 1
    lock: threading.RLock = field(default_factory=threading.RLock)
    _user_order: list[ZdUser] | None = None
    _user_keys: list[tuple[int, int]] = field(default_factory=list)

    def _touch(self) -> None:
        self._user_order = None

    def generate(self, users: int, seed: int = 1, organizations: int | None = None) -> None:
        """Fill the store: end-users mixed with agents/admins, deleted and suspended users."""
        n_orgs = organizations if organizations is not None else max(1, min(2000, users // 20))
        base = self.clock.now() - 3600
        with self.lock:
            seeds = generate_companies(n_orgs, seed)
            org_ids: list[int] = []
            for cseed in seeds:
                org = ZdOrganization(
                    id=self.next_org_id,
                    name=cseed.name,
                    domain_names=[cseed.domain],
                    tags=cseed.tags,
                    created_at=base - cseed.updated_offset - 86400,
                    updated_at=base - cseed.updated_offset,
                )
                self.organizations[org.id] = org
                org_ids.append(org.id)
                self.next_org_id += 1
            for index, person in enumerate(iter_people(users, seed, seeds)):
                uid = self.next_user_id
                self.next_user_id += 1
                role = "end-user"
                if index % 29 == 5:
                    role = "agent"
                elif index % 113 == 9:
                    role = "admin"
                user = ZdUser(
                    id=uid,
                    name=person.name,
                    email=person.email,
                    phone=person.phone,
                    organization_id=(
                        None if person.company_index is None else org_ids[person.company_index]
                    ),
                    role=role,
                    tags=person.tags,
                    created_at=base - person.created_offset,
                    updated_at=base - person.updated_offset,
                    suspended=index % 89 == 3,
                )
                if index % 97 == 13:
                    user.active = False
                if index % 211 == 17:
                    user.active = False
                    user.name = "Permanently Deleted User"
                    user.email = None
                    user.phone = None
                self.users[uid] = user
            self._touch()

    def _sorted_users(self) -> tuple[list[ZdUser], list[tuple[int, int]]]:
        with self.lock:
            if self._user_order is None:
                order = sorted(self.users.values(), key=ZdUser.export_key)
                self._user_order = order
                self._user_keys = [u.export_key() for u in order]
            return self._user_order, self._user_keys

    def create_user(self, data: dict[str, Any]) -> ZdUser:
        """Create a user; any field may be set (`updated_at`, `role`, `active`, `raw`)."""
        with self.lock:
            now = self.clock.now()
            uid = int(data.get("id", self.next_user_id))
            self.next_user_id = max(self.next_user_id, uid + 1)
            raw = data.get("raw")
            user = ZdUser(
                id=uid,
                name=str(data.get("name") or ""),
                email=data.get("email"),
                phone=data.get("phone"),
                organization_id=data.get("organization_id"),
                role=str(data.get("role", "end-user")),
                tags=tuple(data.get("tags") or ()),
                created_at=int(data.get("created_at", now)),
                updated_at=int(data.get("updated_at", now)),
                active=bool(data.get("active", True)),
                suspended=bool(data.get("suspended", False)),
                raw=raw if isinstance(raw, dict) else None,
            )
            if user.raw is not None and "updated_at" not in data:
                user.updated_at = now
            self.users[uid] = user
            self._touch()
            return user

    def update_user(self, user_id: int, data: dict[str, Any]) -> ZdUser:
        """Update a user; `updated_at` becomes the fake clock's now unless given."""
        with self.lock:
            user = self.users.get(user_id)
            if user is None:
                raise ZdError(404, "RecordNotFound", "Not found")
            for key in ("name", "email", "phone", "organization_id", "role", "active", "suspended"):
                if key in data:
                    setattr(user, key, data[key])
            if "tags" in data:
                user.tags = tuple(data["tags"] or ())
            user.updated_at = int(data.get("updated_at", self.clock.now()))
            self._touch()
            return user

    def delete_user(self, user_id: int, permanent: bool = False) -> ZdUser:
        """Soft-delete (`active: false`) or permanently delete (email/phone nulled) a user."""
        data: dict[str, Any] = {"active": False}
        if permanent:
            data.update(name="Permanently Deleted User", email=None, phone=None)
        return self.update_user(user_id, data)

    def create_organization(self, data: dict[str, Any]) -> ZdOrganization:
        """Create an organization; any field may be set (`updated_at`, `raw`)."""
        with self.lock:
            now = self.clock.now()
            oid = int(data.get("id", self.next_org_id))
            self.next_org_id = max(self.next_org_id, oid + 1)
            raw = data.get("raw")
            org = ZdOrganization(
                id=oid,
                name=str(data.get("name") or ""),
                domain_names=list(data.get("domain_names") or []),
                tags=tuple(data.get("tags") or ()),
                created_at=int(data.get("created_at", now)),
                updated_at=int(data.get("updated_at", now)),
                raw=raw if isinstance(raw, dict) else None,
            )
            self.organizations[oid] = org
            return org

    def delete_organization(self, org_id: int) -> None:
        """Delete an organization: it stays in the export with `deleted_at` set."""
        with self.lock:
            org = self.organizations.get(org_id)
            if org is None:
                raise ZdError(404, "RecordNotFound", "Not found")
            now = self.clock.now()
            org.deleted_at = now
            org.updated_at = now

    def render_user(self, u: ZdUser) -> dict[str, Any]:
        """Render a user as the incremental export does."""
        if u.raw is not None:
            return u.raw
        return {
            "id": u.id,
            "url": f"/api/v2/users/{u.id}.json",
            "name": u.name,
            "email": u.email,
            "phone": u.phone,
            "organization_id": u.organization_id,
            "role": u.role,
            "role_type": None if u.role == "end-user" else 0,
            "external_id": None,
            "tags": list(u.tags),
            "active": u.active,
            "verified": True,
            "suspended": u.suspended,
            "locale": "en-US",
            "time_zone": "Pacific Time (US & Canada)",
            "user_fields": {},
            "created_at": iso_z(u.created_at),
            "updated_at": iso_z(u.updated_at),
            "last_login_at": None,
            "notes": "",
            "details": "",
            "alias": None,
            "photo": None,
        }

    def render_organization(self, o: ZdOrganization) -> dict[str, Any]:
        """Render an organization as the incremental export does."""
        if o.raw is not None:
            return o.raw
        return {
            "id": o.id,
            "url": f"/api/v2/organizations/{o.id}.json",
            "name": o.name,
            "domain_names": list(o.domain_names),
            "external_id": None,
            "tags": list(o.tags),
            "details": "",
            "notes": "",
            "group_id": None,
            "shared_tickets": False,
            "shared_comments": False,
            "organization_fields": {},
            "created_at": iso_z(o.created_at),
            "updated_at": iso_z(o.updated_at),
            "deleted_at": None if o.deleted_at is None else iso_z(o.deleted_at),
        }

    def users_cursor_page(
        self, start_time: int | None, cursor: str | None, per_page: int, base_url: str
    ) -> dict[str, Any]:
        """One page of the cursor export (the last minute is never returned)."""
        now = self.clock.now()
        if cursor is not None:
            position, serial = _decode_cursor(cursor)
            order, keys = self._sorted_users()
            start_index = bisect.bisect_right(keys, position)
        else:
            if start_time is None:
                raise ZdError(400, "InvalidValue", "start_time or cursor is required")
            if start_time > now - MIN_AGE:
                raise ZdError(
                    422,
                    "InvalidValue",
                    "Too recent start_time. Use a start_time older than 5 minutes",
                )
            position, serial = (start_time, 0), 0
            order, keys = self._sorted_users()
            start_index = bisect.bisect_left(keys, (start_time, 0))
        serial += 1
        cutoff = now - MIN_AGE
        end_index = bisect.bisect_right(keys, (cutoff, 1 << 62))
        quirk = self.empty_page_every > 0 and serial % self.empty_page_every == 0
        chunk = [] if quirk else order[start_index : min(start_index + per_page, end_index)]
        if chunk:
            position = chunk[-1].export_key()
        end_of_stream = not quirk and start_index + len(chunk) >= end_index
        after = _encode_cursor(position, serial)
        before = _encode_cursor((position[0], 0), serial)
        return {
            "users": [self.render_user(u) for u in chunk],
            "after_cursor": after,
            "after_url": f"{base_url}?{urlencode({'cursor': after})}",
            "before_cursor": before,
            "before_url": f"{base_url}?{urlencode({'cursor': before})}",
            "end_of_stream": end_of_stream,
        }

    def organizations_page(self, start_time: int, per_page: int, base_url: str) -> dict[str, Any]:
        """One page of the time-based export; items sharing the last second all come along."""
        cutoff = self.clock.now() - MIN_AGE
        with self.lock:
            rows = sorted(
                (o for o in self.organizations.values() if start_time <= o.updated_at <= cutoff),
                key=ZdOrganization.export_key,
            )
        chunk = rows[:per_page]
        if len(chunk) == per_page:
            last = chunk[-1].updated_at
            chunk += [o for o in rows[per_page:] if o.updated_at == last]
        end_time = chunk[-1].updated_at if chunk else start_time
        end_of_stream = len(chunk) < per_page
        query = {"start_time": end_time, "per_page": per_page}
        return {
            "organizations": [self.render_organization(o) for o in chunk],
            "count": len(chunk),
            "end_time": end_time,
            "next_page": None if end_of_stream else f"{base_url}?{urlencode(query)}",
            "end_of_stream": end_of_stream,
        }

    def apply_action(self, action: dict[str, Any]) -> None:
        """Run an admin action `{"op": create|update|delete|permanent_delete, ...}`."""
        op = action.get("op")
        record = action.get("record") or {}
        if op == "create":
            self.create_user(record)
        elif op == "update":
            self.update_user(int(action["id"]), record)
        elif op in ("delete", "permanent_delete"):
            self.delete_user(int(action["id"]), permanent=op == "permanent_delete")
        else:
            raise ValueError(f"unknown op {op!r}")


def _int_param(request: Request, name: str, default: int | None, maximum: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.lstrip("-").isdigit():
        raise ZdError(400, "InvalidValue", f"{name} must be an integer")
    value = int(raw)
    if value < 0 or value > maximum:
        raise ZdError(400, "InvalidValue", f"{name} must be between 0 and {maximum}")
    return value


def create_zendesk_app(
    store: ZendeskStore | None = None,
    *,
    email: str = "admin@fake-zendesk.io",
    api_token: str = "fake-zendesk-token",
    faults: FaultInjector | None = None,
) -> Starlette:
    """Build the fake Zendesk ASGI app; `app.state` holds `store` and `faults`."""
    store = store or ZendeskStore()
    faults = faults or FaultInjector()
    faults.mutator = store.apply_action

    def guarded(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                result: Response = await handler(request)
            except ZdError as exc:
                return exc.response()
            except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
                return ZdError(400, "InvalidValue", str(exc)).response()
            return result

        return endpoint

    async def users_cursor(request: Request) -> Response:
        per_page = _int_param(request, "per_page", MAX_PER_PAGE, MAX_PER_PAGE) or MAX_PER_PAGE
        base = str(request.url.replace(query=""))
        page = store.users_cursor_page(
            _int_param(request, "start_time", None, 1 << 40),
            request.query_params.get("cursor"),
            per_page,
            base,
        )
        return json_response(page)

    async def organizations(request: Request) -> Response:
        start_time = _int_param(request, "start_time", None, 1 << 40)
        if start_time is None:
            raise ZdError(400, "InvalidValue", "start_time is required")
        if start_time > store.clock.now() - MIN_AGE:
            raise ZdError(
                422, "InvalidValue", "Too recent start_time. Use a start_time older than 5 minutes"
            )
        per_page = _int_param(request, "per_page", MAX_PER_PAGE, MAX_PER_PAGE) or MAX_PER_PAGE
        base = str(request.url.replace(query=""))
        return json_response(store.organizations_page(start_time, per_page, base))

    async def admin_create_user(request: Request) -> Response:
        user = store.create_user(await json_body(request))
        return json_response({"id": user.id}, 201)

    async def admin_update_user(request: Request) -> Response:
        user = store.update_user(int(request.path_params["id"]), await json_body(request))
        return json_response(store.render_user(user))

    async def admin_delete_user(request: Request) -> Response:
        permanent = request.query_params.get("permanent") in ("1", "true")
        store.delete_user(int(request.path_params["id"]), permanent=permanent)
        return Response(status_code=204)

    async def admin_create_org(request: Request) -> Response:
        org = store.create_organization(await json_body(request))
        return json_response({"id": org.id}, 201)

    async def admin_delete_org(request: Request) -> Response:
        store.delete_organization(int(request.path_params["id"]))
        return Response(status_code=204)

    def authorized(request: Request) -> bool:
        creds = basic_credentials(request)
        return creds is not None and creds == (f"{email}/token", api_token)

    def unauthorized() -> Response:
        return json_response({"error": "Couldn't authenticate you"}, 401)

    routes = [
        Route("/api/v2/incremental/users/cursor", guarded(users_cursor), methods=["GET"]),
        Route("/api/v2/incremental/organizations", guarded(organizations), methods=["GET"]),
        Route("/__users", guarded(admin_create_user), methods=["POST"]),
        Route("/__users/{id:int}", guarded(admin_update_user), methods=["PATCH"]),
        Route("/__users/{id:int}", guarded(admin_delete_user), methods=["DELETE"]),
        Route("/__organizations", guarded(admin_create_org), methods=["POST"]),
        Route("/__organizations/{id:int}", guarded(admin_delete_org), methods=["DELETE"]),
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
            "X-Rate-Limit": str(faults.rate_limit.per_minute or 700),
            "X-Rate-Limit-Remaining": str(faults.rate_limit.remaining()),
        },
    )
    app.state.store = store
    app.state.faults = faults
    return app
