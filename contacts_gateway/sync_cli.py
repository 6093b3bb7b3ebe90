"""CLI commands of the sync: ``contacts-gateway sync`` and ``contacts-gateway fake-provider``."""

from __future__ import annotations

import asyncio
import json
import os
import time
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_gateway.settings import Settings
from db.queries.sync import SyncRunRecord
from db.uow import UnitOfWork
from resolvers.context import Principal, RequestContext
from resolvers.errors import DomainError
from resolvers.scopes import CONFIG_READ, CONFIG_WRITE
from resolvers.sync import SyncOptions, SyncProgress

err = Console(stderr=True)
out = Console()


class Mode(StrEnum):
    manual = "manual"
    full = "full"


class Kind(StrEnum):
    freshdesk = "freshdesk"
    zendesk = "zendesk"


def sync_command(
    account: Annotated[str, typer.Option(help="Account (tenant) name.")],
    mode: Annotated[
        Mode, typer.Option(help="manual (differential) or full (with reconciliation).")
    ] = Mode.manual,
    provider: Annotated[
        str | None,
        typer.Option(
            help="Save these provider settings first (JSON, as PUT /api/v1/contacts/settings"
            ' takes them: {"type": "freshdesk", "domain", "api_key", "base_url"}).'
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="SQLAlchemy URL (env CONTACTS_GATEWAY_DATABASE_URL)."),
    ] = None,
) -> None:
    """Sync an account's contacts from its provider now, with a progress bar and a summary."""
    if database_url:
        os.environ["CONTACTS_GATEWAY_DATABASE_URL"] = database_url
    settings = Settings()
    config = None
    if provider is not None:
        try:
            config = json.loads(provider)
        except ValueError as exc:
            err.print(f"[red]error:[/red] --provider is not valid JSON ({exc})")
            raise typer.Exit(2) from exc
    try:
        run = asyncio.run(_sync(settings, account, mode.value, config))
    except DomainError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from exc
    _summary(run)
    if run.status != "completed":
        raise typer.Exit(1)


async def _sync(
    settings: Settings, account: str, mode: str, provider: dict[str, Any] | None
) -> SyncRunRecord:
    from contacts_gateway.app import engine_for
    from contacts_gateway.scheduler import sync_options_from
    from db.migrate import upgrade
    from resolvers import sync

    engine = engine_for(settings)
    started = time.monotonic()
    try:
        await upgrade(engine)
        account_id = await sync.account_id_named(engine, account)
        options = sync_options_from(settings)
        if provider is not None:
            await _save_provider(engine, account_id, provider, options)
        with Progress(
            TextColumn("[bold]{task.fields[stage]:<10}"),
            BarColumn(),
            TextColumn("{task.fields[pages]} pages"),
            TextColumn("{task.fields[records]} records"),
            TextColumn("{task.fields[rate]} rec/s"),
            TextColumn("+{task.fields[created]} ~{task.fields[updated]} -{task.fields[deleted]}"),
            TimeElapsedColumn(),
            console=err,
        ) as progress:
            task = progress.add_task(
                "sync",
                total=None,
                stage="starting",
                pages=0,
                records=0,
                rate=0,
                created=0,
                updated=0,
                deleted=0,
            )

            def report(p: SyncProgress) -> None:
                elapsed = max(time.monotonic() - started, 1e-6)
                progress.update(
                    task,
                    stage=p.stage,
                    pages=p.pages,
                    records=p.records,
                    rate=f"{p.records / elapsed:,.0f}",
                    created=p.created,
                    updated=p.updated,
                    deleted=p.deleted,
                )

            return await sync.run_sync(
                engine,
                account_id=account_id,
                mode=mode,
                trigger="manual",
                options=options,
                progress=report,
            )
    finally:
        await engine.dispose()


async def _save_provider(
    engine: AsyncEngine, account_id: str, provider: dict[str, Any], options: SyncOptions
) -> None:
    """Save provider settings as the account's operator (the CLI runs on the server)."""
    from resolvers import sync_settings

    uow = UnitOfWork(engine)
    operator = Principal(account_id, "cli", "cli", frozenset({CONFIG_READ, CONFIG_WRITE}))
    try:
        await sync_settings.update_sync_settings(
            RequestContext(uow=uow, principal=operator, request_id="cli"),
            data={"provider": provider},
            secret_key=options.secret_key,
            allow_private_urls=options.allow_private_urls,
        )
        await uow.commit()
    finally:
        await uow.close()


def _summary(run: SyncRunRecord) -> None:
    table = Table(title=f"sync {run.id} ({run.provider}, {run.mode})", show_header=False)
    color = "green" if run.status == "completed" else "red"
    table.add_row("status", f"[{color}]{run.status}[/{color}]")
    for name in ("created", "updated", "skipped", "deleted", "failed"):
        table.add_row(name, str(getattr(run, name)))
    if run.finished_at is not None:
        seconds = (run.finished_at - run.started_at).total_seconds()
        records = int(run.details.get("stats", {}).get("records", 0))
        table.add_row("duration", f"{seconds:.1f} s ({records / max(seconds, 1e-6):,.0f} rec/s)")
    for reason, count in run.details.get("skipped_reasons", {}).items():
        table.add_row(f"  skipped: {reason}", str(count))
    companies = run.details.get("companies", {})
    if companies:
        table.add_row("companies", ", ".join(f"{k} {v}" for k, v in companies.items()))
    if run.error:
        table.add_row("error", f"[red]{run.error}[/red]")
    out.print(table)


def fake_provider_command(
    kind: Annotated[Kind, typer.Argument(help="freshdesk or zendesk")],
    port: Annotated[int, typer.Option(help="TCP port.")] = 8081,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    contacts: Annotated[int, typer.Option(help="How many generated contacts.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = 1,
    rate_limit: Annotated[
        int | None, typer.Option(help="Requests per minute before 429 (default: none).")
    ] = None,
) -> None:
    """Serve a fake Freshdesk or Zendesk with realistic data and injectable faults."""
    from providers.fake_server import run_fake_provider

    run_fake_provider(kind.value, host, port, contacts, seed, rate_limit_per_minute=rate_limit)


def register(app: typer.Typer) -> None:
    """Add the sync commands to the ``contacts-gateway`` app."""
    app.command("sync")(sync_command)
    app.command("fake-provider")(fake_provider_command)
