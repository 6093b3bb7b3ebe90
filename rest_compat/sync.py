"""``/api/v1/contacts``: sync settings, running a sync, and the sync history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from resolvers import sync, sync_settings
from resolvers.sync import SyncOptions, run_json
from resolvers.sync_settings import SyncSettingsInput, SyncSettingsView
from resolvers.timestamps import iso_z
from rest_compat.deps import Ctx
from rest_compat.models import COMMON_ERRORS, problems
from rest_compat.responses import JSONBytes

router = APIRouter(prefix="/api/v1/contacts", tags=["sync"])


class SyncProviderOut(BaseModel):
    type: str = Field(examples=["freshdesk"])
    domain: str | None = None
    subdomain: str | None = None
    email: str | None = None
    base_url: str | None = None
    configured: bool = Field(description="whether credentials are stored (never shown)")


class SyncSettingsOut(BaseModel):
    auto_sync_enabled: bool
    sync_interval_hours: int
    last_synced_at: datetime | None
    next_due_at: datetime | None
    provider: SyncProviderOut | None


class SyncRunOut(BaseModel):
    id: str = Field(examples=["sr_01jh8x2k3m4n5p6q7r8s9t0v1w"])
    status: str = Field(examples=["completed"], description="running, completed or failed")
    mode: str = Field(examples=["manual"])
    trigger: str = Field(examples=["manual"], description="manual or auto")
    provider: str
    created: int
    updated: int
    skipped: int
    deleted: int
    failed: int
    started_at: datetime
    finished_at: datetime | None
    error: str | None = Field(None, description="why the run failed (only when it failed)")
    skipped_reasons: dict[str, int]
    companies: dict[str, int]
    stats: dict[str, Any]


class SyncRunList(BaseModel):
    data: list[SyncRunOut]
    total: int
    limit: int
    offset: int


def settings_json(view: SyncSettingsView) -> dict[str, Any]:
    """The settings as the API shows them (never a secret)."""
    return {
        "auto_sync_enabled": view.auto_sync_enabled,
        "sync_interval_hours": view.sync_interval_hours,
        "last_synced_at": iso_z(view.last_synced_at),
        "next_due_at": iso_z(view.next_due_at),
        "provider": view.provider,
    }


def _options(request: Request) -> SyncOptions:
    options: SyncOptions = request.app.state.sync_options
    return options


@router.get(
    "/settings",
    response_model=SyncSettingsOut,
    responses=problems(*COMMON_ERRORS),
    summary="Get the sync settings (secrets are never returned)",
)
async def get_settings(ctx: Ctx) -> Response:
    return JSONBytes(settings_json(await sync_settings.get_sync_settings(ctx)))


@router.put(
    "/settings",
    response_model=SyncSettingsOut,
    responses=problems(*COMMON_ERRORS, 409),
    summary="Update the sync settings (partial: fields left out keep their value)",
)
async def put_settings(ctx: Ctx, request: Request, body: SyncSettingsInput) -> Response:
    """`provider` is `{"type": "freshdesk", "domain", "api_key"}` or `{"type": "zendesk",
    "subdomain", "email", "api_token"}`, each with an optional https `base_url`; a secret left
    out keeps the stored one; `"provider": null` disconnects the provider."""
    options = _options(request)
    view = await sync_settings.update_sync_settings(
        ctx,
        data=body,
        secret_key=options.secret_key,
        allow_private_urls=options.allow_private_urls,
    )
    return JSONBytes(settings_json(view))


@router.post(
    "/sync",
    response_model=SyncRunOut,
    responses=problems(*COMMON_ERRORS, 409),
    summary="Run a sync now and wait for it (a failed run is returned with status failed)",
)
async def post_sync(
    ctx: Ctx,
    request: Request,
    mode: Annotated[
        str, Query(description="manual (differential, default) or full (with reconciliation)")
    ] = "manual",
) -> Response:
    """`200` with the finished run (status `completed` or `failed` with `error`); a run longer
    than the request timeout answers `202` with status `running` and goes on in the background."""
    run, finished = await sync.sync_contacts(ctx, mode=mode, options=_options(request))
    return JSONBytes(run_json(run), status_code=200 if finished else 202)


@router.get(
    "/sync-history",
    response_model=SyncRunList,
    responses=problems(*COMMON_ERRORS),
    summary="Recent sync runs, newest first",
)
async def sync_history(
    ctx: Ctx,
    limit: Annotated[int, Query(description="1-100")] = 10,
    offset: Annotated[int, Query(description="0 or more")] = 0,
) -> Response:
    page = await sync.list_sync_runs(ctx, limit=limit, offset=offset)
    return JSONBytes(
        {
            "data": [run_json(r) for r in page.items],
            "total": page.total,
            "limit": page.limit,
            "offset": page.offset,
        }
    )
