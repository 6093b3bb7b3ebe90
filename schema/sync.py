"""GraphQL twins of the v1 sync routes: ``syncSettings``, ``syncRuns``, ``syncContacts``,
``updateSyncSettings`` (mixed into the root Query and Mutation)."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry import UNSET
from strawberry.types import Info

from db.queries.sync import SyncRunRecord
from resolvers import sync, sync_settings
from resolvers.sync import SyncOptions
from resolvers.sync_settings import SyncSettingsView
from schema.context import context_of
from schema.inputs import to_domain
from schema.scalars import JSON, DateTime


@strawberry.enum(
    description="manual: differential since the last cursor; full: with reconciliation"
)
class SyncMode(Enum):
    MANUAL = "manual"
    FULL = "full"


@strawberry.type(description="One sync run (`sr_…`), as `GET /api/v1/contacts/sync-history`.")
class SyncRun:
    id: strawberry.ID
    status: str = strawberry.field(description="running, completed or failed")
    mode: str
    trigger: str = strawberry.field(description="manual or auto")
    provider: str
    created: int
    updated: int
    skipped: int
    deleted: int
    failed: int
    started_at: DateTime
    finished_at: DateTime | None
    error: str | None = strawberry.field(description="why the run failed")
    skipped_reasons: JSON
    companies: JSON
    stats: JSON


@strawberry.type(description="The provider settings, without any secret.")
class SyncProvider:
    type: str
    domain: str | None
    subdomain: str | None
    email: str | None
    base_url: str | None
    configured: bool = strawberry.field(description="whether credentials are stored")


@strawberry.type(description="Auto-sync schedule and provider, as `GET /api/v1/contacts/settings`.")
class SyncSettings:
    auto_sync_enabled: bool
    sync_interval_hours: int
    last_synced_at: DateTime | None
    next_due_at: DateTime | None
    provider: SyncProvider | None


@strawberry.input(
    description="Freshdesk: type, domain, apiKey; Zendesk: type, subdomain, email, apiToken."
)
class SyncProviderInput:
    type: str
    domain: str | None = UNSET
    api_key: str | None = UNSET
    subdomain: str | None = UNSET
    email: str | None = UNSET
    api_token: str | None = UNSET
    base_url: str | None = UNSET


@strawberry.input(
    description="Only the fields given change; a secret left out keeps the stored one."
)
class SyncSettingsInput:
    auto_sync_enabled: bool | None = UNSET
    sync_interval_hours: int | None = UNSET
    provider: SyncProviderInput | None = UNSET


def run_of(record: SyncRunRecord) -> SyncRun:
    """The GraphQL view of a run record."""
    return SyncRun(
        id=strawberry.ID(record.id),
        status=record.status,
        mode=record.mode,
        trigger=record.trigger,
        provider=record.provider,
        created=record.created,
        updated=record.updated,
        skipped=record.skipped,
        deleted=record.deleted,
        failed=record.failed,
        started_at=record.started_at,  # type: ignore[arg-type]
        finished_at=record.finished_at,  # type: ignore[arg-type]
        error=record.error,
        skipped_reasons=record.details.get("skipped_reasons", {}),
        companies=record.details.get("companies", {}),
        stats=record.details.get("stats", {}),
    )


def settings_of(view: SyncSettingsView) -> SyncSettings:
    """The GraphQL view of the settings."""
    provider = None
    if view.provider is not None:
        p = view.provider
        provider = SyncProvider(
            type=p["type"],
            domain=p.get("domain"),
            subdomain=p.get("subdomain"),
            email=p.get("email"),
            base_url=p.get("base_url"),
            configured=bool(p.get("configured")),
        )
    return SyncSettings(
        auto_sync_enabled=view.auto_sync_enabled,
        sync_interval_hours=view.sync_interval_hours,
        last_synced_at=view.last_synced_at,  # type: ignore[arg-type]
        next_due_at=view.next_due_at,  # type: ignore[arg-type]
        provider=provider,
    )


def _options(info: Info) -> SyncOptions:
    request = context_of(info).request
    assert request is not None
    options: SyncOptions = request.app.state.sync_options
    return options


def _settings_input(data: SyncSettingsInput) -> dict[str, Any]:
    values = to_domain(data)
    provider = values.get("provider")
    if provider is not None:
        values["provider"] = to_domain(provider)
    return values


@strawberry.type
class SyncQuery:
    @strawberry.field(description="The account's sync settings (config:read).")
    async def sync_settings(self, info: Info) -> SyncSettings:
        return settings_of(await sync_settings.get_sync_settings(context_of(info).ctx))

    @strawberry.field(description="Recent sync runs, newest first (config:read).")
    async def sync_runs(self, info: Info, limit: int | None = 10) -> list[SyncRun]:
        page = await sync.list_sync_runs(context_of(info).ctx, limit=10 if limit is None else limit)
        return [run_of(r) for r in page.items]


@strawberry.type
class SyncMutation:
    @strawberry.mutation(
        description="Run a sync and wait for it (config:write); a failed run has status failed."
    )
    async def sync_contacts(self, info: Info, mode: SyncMode | None = SyncMode.MANUAL) -> SyncRun:
        # Not in a savepoint: the run writes in its own short transactions. What earlier
        # mutations of this document wrote is committed first, so the run sees it and the
        # request holds no write lock (SQLite) while the run needs it.
        ctx = context_of(info).ctx
        if ctx.uow.started:
            await ctx.uow.commit()
            await ctx.uow.close()
        run, _ = await sync.sync_contacts(
            ctx,
            mode=(mode or SyncMode.MANUAL).value,
            options=_options(info),
        )
        return run_of(run)

    @strawberry.mutation(description="Change the sync schedule and/or provider (config:write).")
    async def update_sync_settings(self, info: Info, input: SyncSettingsInput) -> SyncSettings:
        ctx = context_of(info).ctx
        options = _options(info)
        async with ctx.uow.savepoint():  # like every mutation: a failure undoes only itself
            view = await sync_settings.update_sync_settings(
                ctx,
                data=_settings_input(input),
                secret_key=options.secret_key,
                allow_private_urls=options.allow_private_urls,
            )
        return settings_of(view)
