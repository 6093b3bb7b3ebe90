"""The ``contacts-gateway`` command: serve, keys, db."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_gateway import __version__
from contacts_gateway.app import engine_for
from contacts_gateway.settings import Settings, get_settings
from db.migrate import upgrade
from db.uow import UnitOfWork
from resolvers import keys as key_use_cases
from resolvers.errors import DomainError

T = TypeVar("T")

app = typer.Typer(
    help="contacts-gateway: contacts and companies for a helpdesk, over GraphQL and REST.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")

err = Console(stderr=True)
out = Console()

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL, e.g. postgresql+asyncpg://user@host/db (env"
        " CONTACTS_GATEWAY_DATABASE_URL; default: the SQLite file ./contacts.db).",
        show_default=False,
    ),
]


def _settings(database_url: str | None) -> Settings:
    if database_url:
        os.environ["CONTACTS_GATEWAY_DATABASE_URL"] = database_url
    return Settings()


def _run(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Migrate the database, then run ``work`` on it; domain errors exit with code 2."""

    async def main() -> T:
        engine = engine_for(settings)
        try:
            await upgrade(engine)
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except DomainError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from exc


def _version(value: bool) -> None:
    if value:
        out.print(f"contacts-gateway {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """contacts-gateway: contacts and companies for a helpdesk, over GraphQL and REST."""


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    database_url: DatabaseUrl = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="Seed a demo account (50 companies, 500 contacts) and print a key."
        ),
    ] = False,
) -> None:
    """Migrate the database and serve the API (REST, GraphQL and GraphiQL)."""
    from contacts_gateway.logs import configure_logging

    settings = _settings(database_url)
    configure_logging(settings.log_level, settings.log_json)
    banner: Callable[[], None] | None = None
    if demo:
        key = _run(settings, lambda engine: _prepare_demo(engine, settings))
        os.environ["CONTACTS_GATEWAY_DEMO_KEY"] = key  # for the app (and its worker processes)
        get_settings.cache_clear()
        base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"

        def banner() -> None:
            out.print()
            out.print("[bold green]Demo ready.[/bold green]")
            out.print(
                f"  GraphiQL:  {base}/graphql   (the key is pre-filled in the headers pane)",
                soft_wrap=True,
            )
            out.print(f"  REST docs: {base}/docs", soft_wrap=True)
            out.print(
                f"  Try:       curl '{base}/api/v2/contacts?limit=10&search=smith'"
                f" -H 'X-API-Key: {key}'",
                soft_wrap=True,  # never break the line: it is copied and pasted (and parsed by tests)
            )
            out.print(f"  API key:   {key}", soft_wrap=True)
            out.print()

    else:
        _run(settings, lambda engine: asyncio.sleep(0))
    _serve(host, port, workers, on_listening=banner)


def _serve(host: str, port: int, workers: int, on_listening: Callable[[], None] | None) -> None:
    """Run uvicorn; with ``on_listening``, on a socket that listens before it is called.

    Whatever connects after that waits in the backlog until the app has started: a client
    that follows the printed banner at once is served, never refused.
    """
    import sys

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        "contacts_gateway.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # Workers import the whole app before they answer the supervisor's ping; on a busy
        # host that takes longer than uvicorn's 5 s default, which kills them in a loop.
        timeout_worker_healthcheck=60,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        # A slow or idle client must not hold resources forever: idle keep-alive connections
        # close after 5 s, request heads are capped at 16 KiB (h11), more than 2,048
        # concurrent connections get 503, and the request timeout middleware bounds the rest.
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=16 * 1024,
        limit_concurrency=2048,
        backlog=2048,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    # Only a banner needs the socket up front (uvicorn binds one itself for several
    # workers); otherwise uvicorn binds as it always does (every address of a host name).
    sockets = None
    if on_listening is not None or workers > 1:
        sock = config.bind_socket()
        sock.listen(config.backlog)
        sockets = [sock]
    if on_listening is not None:
        on_listening()
    try:
        if workers > 1:
            assert sockets is not None
            Multiprocess(config, sockets=sockets).run()
        else:
            config.load_app()
            server.run(sockets=sockets)
    except KeyboardInterrupt:
        pass
    if workers == 1 and not server.started:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE


@app.command()
def worker(database_url: DatabaseUrl = None) -> None:
    """Deliver webhooks (alone; `serve` also runs a worker unless WEBHOOK_WORKER_ENABLED=0).

    Any number of workers may run against one database: deliveries are leased, never sent
    twice. Stops on Ctrl-C / SIGTERM after the attempts in flight.
    """
    import signal

    from contacts_gateway.logs import configure_logging
    from contacts_gateway.worker import run_worker

    settings = _settings(database_url)
    configure_logging(settings.log_level, settings.log_json)

    async def work(engine: AsyncEngine) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        err.print("Delivering webhooks; Ctrl-C stops.")
        await run_worker(settings, engine, stop)

    _run(settings, work)


async def _prepare_demo(engine: AsyncEngine, settings: Settings) -> str:
    from contacts_gateway.demo import demo_key, seed_demo

    key = await demo_key(engine)
    with Progress(
        TextColumn("Seeding demo data"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("seed", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        seeded = await seed_demo(
            engine, blob_dir=settings.blob_dir or settings.data_dir / "blobs", progress=report
        )
    err.print(
        "Seeded the demo account." if seeded else "The demo account already has data; kept it."
    )
    return key


@keys_app.command("create")
def keys_create(
    account: Annotated[str, typer.Option(help="Account (tenant) name; created if new.")],
    scopes: Annotated[
        str,
        typer.Option(
            help="Comma-separated: contacts:read,contacts:write,config:read,config:write."
        ),
    ],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key; the key is printed alone on the last line (it is never shown again)."""
    scope_list = _parse_scopes(scopes)

    async def work(engine: AsyncEngine) -> str:
        uow = UnitOfWork(engine)
        try:
            raw, record = await key_use_cases.create_key(
                uow, account_name=account, scopes=scope_list, name=name
            )
            await uow.commit()
            err.print(f"Created key {record.prefix}… for account {record.account_name} ({scopes}).")
            return raw
        finally:
            await uow.close()

    typer.echo(_run(_settings(database_url), work))


def _parse_scopes(scopes: str) -> list[str]:
    try:
        return key_use_cases.parse_scopes(scopes)
    except DomainError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from exc


@keys_app.command("list")
def keys_list(
    account: Annotated[str | None, typer.Option(help="Only this account's keys.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List keys (prefix, account, scopes, use); never the secret."""

    async def work(engine: AsyncEngine) -> None:
        uow = UnitOfWork(engine)
        try:
            records = await key_use_cases.list_keys(uow, account_name=account)
        finally:
            await uow.close()
        header = ("prefix", "account", "name", "scopes", "created", "last used", "revoked")
        rows = [
            (
                r.prefix,
                r.account_name,
                r.name,
                ",".join(r.scopes),
                f"{r.created_at:%Y-%m-%d %H:%M}",
                f"{r.last_used_at:%Y-%m-%d %H:%M}" if r.last_used_at else "-",
                f"{r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else "-",
            )
            for r in records
        ]
        if not out.is_terminal:  # piped: one tab-separated line a key, nothing cut
            for row in (header, *rows):
                print("\t".join(row))
            return
        table = Table()
        # The prefix is what `keys revoke` takes: never cut; the rest folds when narrow.
        prefix_width = max((len(row[0]) for row in rows), default=len(header[0]))
        table.add_column(header[0], no_wrap=True, min_width=prefix_width)
        for title in header[1:]:
            table.add_column(title, overflow="fold", min_width=min(len(title), 12))
        for row in rows:
            table.add_row(*row[:3], row[3].replace(",", ", "), *row[4:])  # scopes wrap at ", "
        out.print(table)

    _run(_settings(database_url), work)


@keys_app.command("revoke")
def keys_revoke(
    prefix: Annotated[str, typer.Argument(help="The key's visible prefix (as `keys list` shows).")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke the key(s) with this prefix; requests with them get 401 from now on."""

    async def work(engine: AsyncEngine) -> int:
        uow = UnitOfWork(engine)
        try:
            count = await key_use_cases.revoke_keys(uow, prefix=prefix)
            await uow.commit()
            return count
        finally:
            await uow.close()

    count = _run(_settings(database_url), work)
    out.print(f"Revoked {count} key(s).")


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Create or migrate the database schema to the latest revision."""
    from db.migrate import current_revision

    async def work(engine: AsyncEngine) -> str | None:
        return await current_revision(engine)

    revision = _run(_settings(database_url), work)
    out.print(f"Database is at revision {revision}.")


from contacts_gateway import sync_cli  # noqa: E402  (the sync and fake-provider commands)

sync_cli.register(app)


@app.command()
def bench(
    contacts: Annotated[int, typer.Option(min=1000, help="Contacts to generate.")] = 1_000_000,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="A PostgreSQL URL to benchmark beside SQLite (an empty or bench-only database).",
        ),
    ] = None,
    with_postgres: Annotated[
        bool, typer.Option("--with-postgres", help="Also the local PostgreSQL (127.0.0.1:5432).")
    ] = False,
    json_out: Annotated[str | None, typer.Option("--json", help="Write the results here.")] = None,
    regenerate: Annotated[bool, typer.Option(help="Reload the data even if present.")] = False,
    http_seconds: Annotated[float, typer.Option(help="Length of each throughput phase.")] = 4.0,
    peer: Annotated[bool, typer.Option(help="Run PostGraphile beside PostgreSQL.")] = True,
) -> None:
    """Generate bench data and measure every case as a ratio to the raw-driver floor."""
    from bench.runner import run as run_bench

    run_bench(
        contacts=contacts,
        database_url=database_url,
        with_postgres=with_postgres,
        json_out=json_out,
        regenerate=regenerate,
        http_seconds=http_seconds,
        peer=peer,
    )


def main() -> None:
    """Entry point of the console script."""
    app()
