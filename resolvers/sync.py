"""The sync engine: bring an account's contacts and companies in from Freshdesk or Zendesk.

A run is single-flight per account through a lease row in the database (so several
processes or replicas never sync one account twice at once), streams the provider's pages,
and writes them in batches of ``batch_size`` records per short transaction. Rules:

* match by (provider, external id); else by normalised email, only against live local
  contacts that are not linked yet; else create. An email that already belongs to another
  linked contact is skipped with a reason (it is likely a merge upstream).
* ``manual`` (differential): records changed since the last successful cursor minus an
  overlap window; records whose provider ``updated_at`` and mapped fields did not change are
  counted ``skipped``. The cursor is the provider's clock (its ``Date`` header) at run start
  and advances only after a fully successful run.
* ``full``: everything, then reconciliation: linked contacts that are no longer upstream (or
  deleted/blocked there) become tombstones (``deleted_at`` + ``deleted_reason``) that the API
  hides and a reappearance revives. Deletions wait for a complete, error-free listing and
  are refused above ``max_delete_share`` of the linked contacts. Local contacts are never
  touched.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db.ids import new_id
from db.queries import companies as company_q
from db.queries import contacts as contact_q
from db.queries import sync as q
from db.queries.sync import LinkedContact, SyncRunRecord, SyncSettingsRecord
from db.types import utcnow
from db.uow import UnitOfWork
from providers.base import Provider, make_provider
from providers.http import RetryPolicy, Sleep
from providers.records import ContactItem, ProviderCompany, ProviderContact, SkippedRecord
from resolvers import events, observability
from resolvers.context import RequestContext
from resolvers.errors import Conflict, DomainError, ProviderError, ValidationFailed
from resolvers.scopes import CONFIG_READ, CONFIG_WRITE
from resolvers.sync_settings import decrypt_config
from resolvers.timestamps import iso_z
from resolvers.validation import email_key, normalize_domain

log = logging.getLogger("contacts_gateway.sync")

MODES = ("manual", "full")
TRIGGERS = ("manual", "auto")
PROVIDER_NAMES = {"freshdesk": "Freshdesk", "zendesk": "Zendesk"}
#: Zendesk never returns the last minute of its exports: the next run must look back past it.
ZENDESK_EXPORT_LAG = timedelta(seconds=61)
MAX_HISTORY = 100
MAX_TAGS = 50
MAX_TAG_LENGTH = 64
RECONCILE_PAGE = 1000


@dataclass(frozen=True, slots=True)
class SyncOptions:
    """How the engine runs (from the process settings); ``sleep`` is injectable for tests."""

    secret_key: bytes
    allow_private_urls: bool = False
    overlap: timedelta = timedelta(minutes=10)
    batch_size: int = 500
    max_delete_share: float = 0.5
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    wait_scale: float = 1.0
    lease_seconds: float = 120.0
    #: How long ``POST /sync`` waits before answering ``running`` (None: until the end).
    wait_seconds: float | None = None
    sleep: Sleep | None = None

    def provider_sleep(self) -> Sleep:
        """The sleep the provider clients wait with (scaled, or the injected one)."""
        if self.sleep is not None:
            return self.sleep
        scale = self.wait_scale

        async def scaled(seconds: float) -> None:
            await asyncio.sleep(max(0.0, seconds * scale))

        return scaled


@dataclass(slots=True)
class SyncProgress:
    """Where a run is: reported after every page (the CLI draws its progress bar from it)."""

    stage: str
    pages: int = 0
    records: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    deleted: int = 0
    failed: int = 0


ProgressCallback = Callable[[SyncProgress], None]


@dataclass(frozen=True, slots=True)
class SyncRunPage:
    """A page of sync history, newest first."""

    items: list[SyncRunRecord]
    total: int
    limit: int
    offset: int


# ---------------------------------------------------------------- use cases


def check_mode(mode: str | None) -> str:
    """``manual`` (default) or ``full``; anything else is a 422 naming ``mode``."""
    value = (mode or "manual").strip().lower()
    if value not in MODES:
        raise ValidationFailed("mode must be manual or full", field="mode")
    return value


async def sync_contacts(
    ctx: RequestContext, *, mode: str | None, options: SyncOptions
) -> tuple[SyncRunRecord, bool]:
    """Run a sync now and wait for it; returns (run, finished).

    A failed run is returned with status ``failed``. A run longer than
    ``options.wait_seconds`` keeps going in the background and is returned ``running``
    (``finished`` False): the history shows how it ends.
    """
    account_id = ctx.require(CONFIG_WRITE)
    checked = check_mode(mode)
    run_id, task = await start_sync(
        ctx.uow.engine, account_id=account_id, mode=checked, trigger="manual", options=options
    )
    done, _ = await asyncio.wait({task}, timeout=options.wait_seconds)
    if done:
        return task.result(), True
    async with _reading(ctx.uow.engine) as session:
        record = await q.get_run(session, account_id=account_id, run_id=run_id)
    assert record is not None
    return record, False


async def list_sync_runs(ctx: RequestContext, *, limit: int, offset: int = 0) -> SyncRunPage:
    """The account's sync runs, newest first."""
    account_id = ctx.require(CONFIG_READ)
    if not 1 <= limit <= MAX_HISTORY:
        raise ValidationFailed(f"limit must be between 1 and {MAX_HISTORY}", field="limit")
    if offset < 0:
        raise ValidationFailed("offset must be 0 or more", field="offset")
    session = await ctx.uow.reader()
    items = await q.list_runs(session, account_id=account_id, limit=limit, offset=offset)
    total = await q.count_runs(session, account_id=account_id)
    return SyncRunPage(items, total, limit, offset)


async def account_id_named(engine: AsyncEngine, name: str) -> str:
    """The id of the account called ``name`` (the CLI names accounts)."""
    async with _reading(engine) as session:
        account_id = await q.account_id_by_name(session, name=name)
    if account_id is None:
        raise ValidationFailed(f"no account named {name!r}", field="account")
    return account_id


async def due_account_ids(engine: AsyncEngine, *, limit: int = 100) -> list[str]:
    """Accounts whose auto-sync is due now (the scheduler's work list)."""
    async with _reading(engine) as session:
        return await q.due_account_ids(session, now=utcnow(), limit=limit)


async def claim_due_sync(engine: AsyncEngine, *, account_id: str) -> bool:
    """Move a due account's ``next_due_at`` one interval forward; True for the one claimer."""
    async with _writing(engine) as session:
        settings = await q.get_settings(session, account_id=account_id)
        if settings is None:
            return False
        now = utcnow()
        return await q.claim_due(
            session,
            account_id=account_id,
            now=now,
            next_due_at=now + timedelta(hours=settings.sync_interval_hours),
        )


# ---------------------------------------------------------------- the engine


async def run_sync(
    engine: AsyncEngine,
    *,
    account_id: str,
    mode: str,
    trigger: str,
    options: SyncOptions,
    progress: ProgressCallback | None = None,
) -> SyncRunRecord:
    """Run one sync of ``account_id`` under the account's lease and return its record.

    Raises Conflict (409) when no provider is configured or another run holds the lease.
    """
    _, task = await start_sync(
        engine,
        account_id=account_id,
        mode=mode,
        trigger=trigger,
        options=options,
        progress=progress,
    )
    return await task


#: Runs in flight in this process (a task must be referenced until it ends).
_RUNNING: set[asyncio.Task[SyncRunRecord]] = set()


async def start_sync(
    engine: AsyncEngine,
    *,
    account_id: str,
    mode: str,
    trigger: str,
    options: SyncOptions,
    progress: ProgressCallback | None = None,
) -> tuple[str, asyncio.Task[SyncRunRecord]]:
    """Take the lease, write the ``running`` run record, and start the run as its own task.

    The task is not tied to the caller: a request that stops waiting does not stop the run.
    """
    mode = check_mode(mode)
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {TRIGGERS}")
    async with _reading(engine) as session:
        settings = await q.get_settings(session, account_id=account_id)
    if settings is None or settings.provider_type is None or settings.provider_secret is None:
        raise Conflict(
            "no provider is configured for this account; set one with"
            " PUT /api/v1/contacts/settings",
            field="provider",
        )
    config = decrypt_config(options.secret_key, settings.provider_secret)
    lease = _Lease(engine, account_id, options.lease_seconds)
    if not await lease.acquire():
        raise Conflict("a sync is already running for this account; try again when it ends")
    try:
        run = _Run(engine, lease, settings, config, mode, trigger, options, progress)
        await run.begin()
    except BaseException:
        await lease.release()
        raise

    async def execute() -> SyncRunRecord:
        try:
            return await run.execute()
        finally:
            await lease.release()

    task = asyncio.create_task(execute(), name=f"sync-{run.id}")
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    return run.id, task


class _LeaseLost(Exception):
    """Another holder took the lease (ours expired): stop writing at once."""


class _ReconcileAborted(Exception):
    """Reconciliation would delete too much; nothing was deleted."""


class _Lease:
    """The account's sync lease: acquired, renewed in the background, checked on every write."""

    def __init__(self, engine: AsyncEngine, account_id: str, seconds: float) -> None:
        self.engine = engine
        self.account_id = account_id
        self.seconds = seconds
        self.holder = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.run_id: str | None = None
        self.lost = False
        self._task: asyncio.Task[None] | None = None

    def _expiry(self) -> datetime:
        return utcnow() + timedelta(seconds=self.seconds)

    async def acquire(self) -> bool:
        async with _writing(self.engine) as session:
            now = utcnow()
            ours = await q.acquire_lease(
                session,
                account_id=self.account_id,
                holder=self.holder,
                now=now,
                expires_at=self._expiry(),
            )
            if ours:
                # Runs left "running" by a process that died while holding an older lease.
                await q.fail_running_runs(
                    session,
                    account_id=self.account_id,
                    now=now,
                    error="interrupted: the process running this sync stopped",
                )
        if ours:
            self._task = asyncio.create_task(self._keep_alive(), name="sync-lease")
        return ours

    async def fence(self, session: AsyncSession) -> None:
        """Inside a write transaction: renew the lease, or abort if it is no longer ours."""
        if self.lost or not await q.renew_lease(
            session,
            account_id=self.account_id,
            holder=self.holder,
            expires_at=self._expiry(),
            run_id=self.run_id,
        ):
            self.lost = True
            raise _LeaseLost()

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(max(self.seconds / 3, 0.05))
            try:
                async with _writing(self.engine) as session:
                    await self.fence(session)
            except _LeaseLost:
                log.warning("sync lease of %s was lost", self.account_id)
                return
            except Exception:  # a busy database: the next beat (or the next write) retries
                log.warning("could not renew the sync lease of %s", self.account_id, exc_info=True)

    async def release(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        with suppress(Exception):
            async with _writing(self.engine) as session:
                await q.release_lease(session, account_id=self.account_id, holder=self.holder)


@dataclass(slots=True)
class _Tally:
    """What one batch did; merged into the run only once the batch committed."""

    created: int = 0
    updated: int = 0
    revived: int = 0
    skipped: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    deletes: dict[str, str] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


@dataclass(slots=True)
class _CompanyTally:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    deleted: int = 0
    unlinked_contacts: int = 0


class _Run:
    """One sync run's state: counters, the contacts seen (full mode), pending deletions."""

    def __init__(
        self,
        engine: AsyncEngine,
        lease: _Lease,
        settings: SyncSettingsRecord,
        config: Mapping[str, Any],
        mode: str,
        trigger: str,
        options: SyncOptions,
        progress: ProgressCallback | None,
    ) -> None:
        self.engine = engine
        self.lease = lease
        self.account_id = settings.account_id
        self.settings = settings
        self.config = config
        self.kind = str(config.get("type"))
        self.mode = mode
        self.trigger = trigger
        self.options = options
        self.progress_cb = progress
        self.id = new_id("sr")
        self.started_at = utcnow()
        self.created = self.updated = self.skipped = self.deleted = self.failed = 0
        self.reasons: dict[str, int] = {}
        self.companies = _CompanyTally()
        self.pending_deletes: dict[str, str] = {}
        self.pending_company_deletes: set[str] = set()
        self.seen: set[str] = set()
        self.seen_companies: set[str] = set()
        self.pages = 0
        self.records = 0
        self.repassing = False
        self.provider: Provider | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def begin(self) -> None:
        """Write the run record with status ``running``."""
        async with _writing(self.engine) as session:
            await q.insert_run(
                session,
                account_id=self.account_id,
                values={
                    "id": self.id,
                    "provider": self.kind,
                    "mode": self.mode,
                    "trigger": self.trigger,
                    "status": "running",
                    "started_at": self.started_at,
                    "details": {},
                },
            )
        self.lease.run_id = self.id

    async def execute(self) -> SyncRunRecord:
        """Do the run and finish its record (completed, or failed with the reason)."""
        error: str | None = None
        cursors: dict[str, str] | None = None
        try:
            cursors = await self._sync()
        except ProviderError as exc:
            error = self._provider_message(exc.message)
        except _ReconcileAborted as exc:
            error = str(exc)
        except _LeaseLost:
            error = "aborted: the sync lease was lost (another process took over this account)"
        except DomainError as exc:
            error = exc.message
        except asyncio.CancelledError:
            await asyncio.shield(self._finish("failed", "cancelled: the server is shutting down"))
            raise
        except Exception as exc:
            log.exception("sync run %s of account %s crashed", self.id, self.account_id)
            error = f"internal error during the sync ({type(exc).__name__}); see the server log"
        finally:
            if self.provider is not None:
                with suppress(Exception):
                    await self.provider.aclose()
        if error is not None:
            log.warning("sync run %s failed: %s", self.id, error)
            return await self._finish("failed", error)
        return await self._finish("completed", None, cursors)

    def _provider_message(self, message: str) -> str:
        name = PROVIDER_NAMES.get(self.kind, self.kind)
        if message.lower().startswith(self.kind):
            return name + message[len(self.kind) :]
        return f"{name}: {message}"

    def _details(self) -> dict[str, Any]:
        stats: dict[str, Any] = {"pages": self.pages, "records": self.records}
        contact_stats = getattr(self.provider, "contact_stats", None)
        if contact_stats is not None:
            stats["repasses"] = getattr(contact_stats, "repasses", 0)
        fetcher = getattr(self.provider, "fetcher", None)
        if fetcher is not None:
            stats.update(
                requests=fetcher.requests,
                retries=fetcher.retries,
                waited_seconds=round(fetcher.total_waited, 3),
            )
        return {
            "skipped_reasons": dict(sorted(self.reasons.items())),
            "companies": {
                "created": self.companies.created,
                "updated": self.companies.updated,
                "skipped": self.companies.skipped,
                "deleted": self.companies.deleted,
                "unlinked_contacts": self.companies.unlinked_contacts,
            },
            "stats": stats,
        }

    async def _finish(
        self, status: str, error: str | None, cursors: dict[str, str] | None = None
    ) -> SyncRunRecord:
        now = utcnow()
        async with _writing(self.engine) as session:
            await q.finish_run(
                session,
                account_id=self.account_id,
                run_id=self.id,
                values={
                    "status": status,
                    "created": self.created,
                    "updated": self.updated,
                    "skipped": self.skipped,
                    "deleted": self.deleted,
                    "failed": self.failed,
                    "finished_at": now,
                    "error": error,
                    "details": self._details(),
                },
            )
            if status == "completed":
                await q.record_success(
                    session,
                    account_id=self.account_id,
                    provider=self.kind,
                    cursors=cursors,
                    now=now,
                )
            record = await q.get_run(session, account_id=self.account_id, run_id=self.id)
            assert record is not None
            await _record_event(session, self.account_id, record)
        observability.sync_run_finished(
            self.kind,
            status,
            {
                "created": self.created,
                "updated": self.updated,
                "skipped": self.skipped,
                "deleted": self.deleted,
                "failed": self.failed,
            },
        )
        return record

    # -- the run ---------------------------------------------------------------------------

    def _since(self, stream: str) -> datetime | None:
        if self.mode == "full":
            return None
        raw = self.settings.cursors.get(self.kind, {}).get(stream)
        if not isinstance(raw, str):
            return None
        try:
            cursor = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None
        return cursor - self.options.overlap

    async def _sync(self) -> dict[str, str] | None:
        self.provider = make_provider(
            self.config,
            policy=self.options.retry_policy,
            sleep=self.options.provider_sleep(),
            allow_private=self.options.allow_private_urls,
        )
        provider = self.provider
        self._report("companies")
        async for company_page in provider.iter_company_records(self._since("companies")):
            await self._company_page(company_page)
            self._report("companies")
        buffer: list[ProviderContact] = []
        pages = _prefetched(provider, provider.iter_contact_records(self._since("contacts")))
        async for page, repassing in pages:
            self.pages += 1
            # A Freshdesk re-check pass lists rows again: their skips were counted already.
            if repassing != self.repassing and buffer:
                await self._contact_batch(buffer)
                buffer = []
            self.repassing = repassing
            # Only a full run needs the ids it saw (for reconciliation); a manual run keeps
            # nothing per record, so its memory stays flat however many records stream by.
            full = self.mode == "full"
            for item in page:
                self.records += 1
                if isinstance(item, SkippedRecord):
                    if not self.repassing:
                        role = item.reason.startswith("role ")  # Zendesk agents and admins
                        self._skip(item.reason if role else f"malformed: {item.reason}")
                    if full and item.external_id is not None:
                        self.seen.add(item.external_id)
                    continue
                if full and not (item.deleted or item.blocked):
                    self.seen.add(item.external_id)
                buffer.append(item)
            while len(buffer) >= self.options.batch_size:
                batch, buffer = (
                    buffer[: self.options.batch_size],
                    buffer[self.options.batch_size :],
                )
                await self._contact_batch(batch)
            self._report("contacts")
        if buffer:
            await self._contact_batch(buffer)
        self._report("reconcile")
        await self._reconcile()
        self._report("done")
        started = provider.server_time_at_start
        if started is None or self.failed:
            # No provider clock, or records to retry: keep the old cursor (re-read next time).
            return None
        if self.kind == "zendesk":
            started -= ZENDESK_EXPORT_LAG
        return {"contacts": iso_z(started) or "", "companies": iso_z(started) or ""}

    def _skip(self, reason: str, count: int = 1) -> None:
        self.skipped += count
        self.reasons[reason] = self.reasons.get(reason, 0) + count

    def _report(self, stage: str) -> None:
        if self.progress_cb is not None:
            self.progress_cb(
                SyncProgress(
                    stage=stage,
                    pages=self.pages,
                    records=self.records,
                    created=self.created,
                    updated=self.updated,
                    skipped=self.skipped,
                    deleted=self.deleted,
                    failed=self.failed,
                )
            )

    @asynccontextmanager
    async def _batch(self) -> AsyncIterator[AsyncSession]:
        """One short write transaction, fenced by the lease."""
        async with _writing(self.engine) as session:
            await self.lease.fence(session)
            yield session

    # -- contacts --------------------------------------------------------------------------

    async def _contact_batch(self, items: list[ProviderContact]) -> None:
        try:
            async with self._batch() as session:
                tally = await self._apply_contacts(session, items)
        except IntegrityError:
            # A concurrent API write took an email or id between our read and our write:
            # redo the batch one record at a time so only the clashing record fails.
            if len(items) == 1:
                self.failed += 1
                log.info("sync %s: record %s failed to write", self.id, items[0].external_id)
                return
            for item in items:
                await self._contact_batch([item])
            return
        self.created += tally.created
        self.updated += tally.updated
        if not self.repassing:
            for reason, count in tally.reasons.items():
                self._skip(reason, count)
        self.pending_deletes.update(tally.deletes)

    async def _apply_contacts(self, session: AsyncSession, items: list[ProviderContact]) -> _Tally:
        tally = _Tally()
        now = utcnow()
        latest: dict[str, ProviderContact] = {}
        for item in items:
            latest.pop(item.external_id, None)
            latest[item.external_id] = item
        linked = await q.contacts_by_external_id(
            session, account_id=self.account_id, provider=self.kind, external_ids=list(latest)
        )
        live = [c for c in latest.values() if not (c.deleted or c.blocked)]
        by_email = await q.live_contacts_by_email(
            session,
            account_id=self.account_id,
            email_norms=[email_key(c.email) for c in live if c.email],
        )
        company_ids = await q.active_company_ids_by_external(
            session,
            account_id=self.account_id,
            provider=self.kind,
            external_ids=[c.company_external_id for c in live if c.company_external_id],
        )
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        tags: dict[str, list[str]] = {}
        claimed: dict[str, str] = {}
        touched: set[str] = set()
        for item in latest.values():
            row = linked.get(item.external_id)
            if item.deleted or item.blocked:
                reason = "deleted_upstream" if item.deleted else "blocked_upstream"
                if row is not None and row.deleted_at is None:
                    tally.deletes[row.id] = reason
                else:
                    tally.skip("deleted upstream" if item.deleted else "blocked upstream")
                continue
            values = self._contact_values(item, company_ids)
            key = values["email_norm"]
            if row is None:
                owner = by_email.get(key) if key else None
                if owner is not None or (key is not None and key in claimed):
                    if owner is not None and owner.external_id is None and owner.id not in touched:
                        # An unlinked local contact with this email: link it, don't duplicate.
                        updates.append({"id": owner.id, **values, "updated_at": now})
                        tags[owner.id] = values["tags"]
                        touched.add(owner.id)
                        claimed[key] = owner.id
                        tally.updated += 1
                    else:
                        tally.skip("email already linked to another external id")
                    continue
                contact_id = new_id("ct")
                inserts.append(
                    {
                        "id": contact_id,
                        **values,
                        "custom_fields": {},
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                tags[contact_id] = values["tags"]
                if key:
                    claimed[key] = contact_id
                tally.created += 1
                continue
            if key is not None and (key != row.email_norm or row.deleted_at is not None):
                owner = by_email.get(key)
                holder = claimed.get(key)
                if (owner is not None and owner.id != row.id) or (
                    holder is not None and holder != row.id
                ):
                    tally.skip("email already used by another contact")
                    continue
            if row.deleted_at is None and _unchanged(row, item, values):
                tally.skip("unchanged")
                continue
            updates.append({"id": row.id, **values, "updated_at": now})
            if row.tags != values["tags"]:
                tags[row.id] = values["tags"]
            if key:
                claimed[key] = row.id
            if row.deleted_at is not None:
                tally.revived += 1
            tally.updated += 1
        before = await contact_q.get_contacts_by_ids(
            session, account_id=self.account_id, ids=[u["id"] for u in updates]
        )
        await q.insert_contacts(session, account_id=self.account_id, rows=inserts)
        await q.update_contacts(session, account_id=self.account_id, rows=updates)
        await q.set_contact_tags(session, account_id=self.account_id, tags=tags)
        # Same transaction: contact.created / contact.updated for every row written.
        await events.record_contact_writes(
            session,
            account_id=self.account_id,
            before=before,
            ids=[r["id"] for r in inserts] + [u["id"] for u in updates],
        )
        delta = tally.created + tally.revived
        if delta:
            await contact_q.bump_contact_count(session, account_id=self.account_id, delta=delta)
        return tally

    def _contact_values(
        self, item: ProviderContact, company_ids: Mapping[str, str]
    ) -> dict[str, Any]:
        email = item.email if item.email and len(item.email) <= 320 else None
        phone = item.phone if item.phone and len(item.phone) <= 32 else None
        name = (item.name or email or item.external_id)[:255]
        return {
            "name": name,
            "email": email,
            "email_norm": email_key(email) if email else None,
            "phone": phone,
            "company_id": company_ids.get(item.company_external_id or ""),
            "tags": _clean_tags(item.tags),
            "external_provider": self.kind,
            "external_id": item.external_id,
            "external_updated_at": item.updated_at,
            "deleted_at": None,
            "deleted_reason": None,
        }

    # -- companies -------------------------------------------------------------------------

    async def _company_page(self, page: list[ProviderCompany | SkippedRecord]) -> None:
        items: dict[str, ProviderCompany] = {}
        for item in page:
            if isinstance(item, SkippedRecord):
                self.companies.skipped += 1
                if item.external_id is not None:
                    self.seen_companies.add(item.external_id)
                continue
            items.pop(item.external_id, None)
            items[item.external_id] = item
        if not items:
            return
        tally = _CompanyTally()
        deletes: set[str] = set()
        async with self._batch() as session:
            linked = await q.companies_by_external_id(
                session, account_id=self.account_id, provider=self.kind, external_ids=list(items)
            )
            domains = {d for d in (_domain(c.domain) for c in items.values()) if d}
            by_domain = await q.active_companies_by_domain(
                session, account_id=self.account_id, domains=domains
            )
            now = utcnow()
            for item in items.values():
                row = linked.get(item.external_id)
                if item.deleted:
                    if row is not None and row.deleted_at is None:
                        deletes.add(row.id)
                    continue
                self.seen_companies.add(item.external_id)
                name = item.name[:255]
                domain = _domain(item.domain)
                tags = _clean_tags(item.tags)
                owner = by_domain.get(domain) if domain else None
                if row is None and owner is not None and owner.external_id is None:
                    # An unlinked local company with this domain: link it.
                    values = {
                        "name": name,
                        "external_provider": self.kind,
                        "external_id": item.external_id,
                    }
                    await company_q.update_company(
                        session,
                        account_id=self.account_id,
                        company_id=owner.id,
                        values=values,
                        tags=tags,
                        updated_at=now,
                    )
                    owner.external_id = item.external_id
                    tally.updated += 1
                    continue
                if owner is not None and (row is None or owner.id != row.id):
                    domain = None  # the domain belongs to another active company
                if row is None:
                    company_id = new_id("co")
                    await company_q.insert_company(
                        session,
                        account_id=self.account_id,
                        values={
                            "id": company_id,
                            "name": name,
                            "domain": domain,
                            "custom_fields": {},
                            "external_provider": self.kind,
                            "external_id": item.external_id,
                            "version": 1,
                            "created_at": now,
                            "updated_at": now,
                        },
                        tags=tags,
                    )
                    if domain:
                        by_domain[domain] = q.LinkedCompany(
                            company_id, item.external_id, name, domain, tags, None
                        )
                    tally.created += 1
                    continue
                if (
                    row.deleted_at is None
                    and row.name == name
                    and row.domain == domain
                    and row.tags == tags
                ):
                    tally.skipped += 1
                    continue
                await company_q.update_company(
                    session,
                    account_id=self.account_id,
                    company_id=row.id,
                    values={"name": name, "domain": domain, "deleted_at": None},
                    tags=tags if tags != row.tags else None,
                    updated_at=now,
                )
                if domain:
                    by_domain[domain] = replace(row, domain=domain)
                tally.updated += 1
        self.companies.created += tally.created
        self.companies.updated += tally.updated
        self.companies.skipped += tally.skipped
        self.pending_company_deletes |= deletes

    # -- deletions -------------------------------------------------------------------------

    async def _reconcile(self) -> None:
        """Apply deletions, only now that the listing completed without an error."""
        deletes = dict(self.pending_deletes)
        company_deletes = set(self.pending_company_deletes)
        async with _reading(self.engine) as session:
            linked_total = await q.count_live_linked_contacts(
                session, account_id=self.account_id, provider=self.kind
            )
            if self.mode == "full":
                after = ""
                while True:
                    rows = await q.live_linked_contacts(
                        session,
                        account_id=self.account_id,
                        provider=self.kind,
                        after_id=after,
                        limit=RECONCILE_PAGE,
                    )
                    for contact_id, external_id in rows:
                        if external_id not in self.seen and contact_id not in deletes:
                            deletes[contact_id] = "missing_upstream"
                    if len(rows) < RECONCILE_PAGE:
                        break
                    after = rows[-1][0]
                after = ""
                while True:
                    company_rows = await q.live_linked_companies(
                        session,
                        account_id=self.account_id,
                        provider=self.kind,
                        after_id=after,
                        limit=RECONCILE_PAGE,
                    )
                    for company_id, external_id in company_rows:
                        if external_id not in self.seen_companies:
                            company_deletes.add(company_id)
                    if len(company_rows) < RECONCILE_PAGE:
                        break
                    after = company_rows[-1][0]
        if deletes and len(deletes) > self.options.max_delete_share * linked_total:
            share = round(100 * self.options.max_delete_share)
            raise _ReconcileAborted(
                f"reconciliation aborted: it would delete {len(deletes)} of the"
                f" {linked_total} contacts linked to {PROVIDER_NAMES.get(self.kind, self.kind)}"
                f" (more than {share} %); nothing was deleted"
            )
        ids = list(deletes)
        for start in range(0, len(ids), self.options.batch_size):
            chunk = {cid: deletes[cid] for cid in ids[start : start + self.options.batch_size]}
            async with self._batch() as session:
                live = await contact_q.get_contacts_by_ids(
                    session, account_id=self.account_id, ids=list(chunk)
                )
                count = await q.tombstone_contacts(
                    session, account_id=self.account_id, reasons=chunk, now=utcnow()
                )
                await events.record_contact_removals(
                    session, account_id=self.account_id, removed=live
                )
                if count:
                    await contact_q.bump_contact_count(
                        session, account_id=self.account_id, delta=-count
                    )
            self.deleted += count
            self._report("reconcile")
        if company_deletes:
            company_ids = sorted(company_deletes)
            async with self._batch() as session:
                now = utcnow()
                self.companies.deleted += await q.soft_delete_companies(
                    session, account_id=self.account_id, company_ids=company_ids, now=now
                )
                self.companies.unlinked_contacts += await q.clear_company_links(
                    session, account_id=self.account_id, company_ids=company_ids, now=now
                )


#: Pages fetched ahead while the previous ones are written (bounded: memory stays flat).
PREFETCH_PAGES = 2


async def _prefetched(
    provider: Provider, pages: AsyncIterator[list[ContactItem]]
) -> AsyncIterator[tuple[list[ContactItem], bool]]:
    """Read the provider's pages in a task of their own, a few ahead of the writer.

    Each page comes with whether the client was already re-listing (Freshdesk's re-check
    pass) when it produced it. An error of the listing is raised here, in order.
    """
    queue: asyncio.Queue[tuple[list[ContactItem], bool] | BaseException | None] = asyncio.Queue(
        PREFETCH_PAGES
    )

    async def produce() -> None:
        try:
            async for page in pages:
                repassing = getattr(provider.contact_stats, "repasses", 0) > 0
                await queue.put((page, repassing))
        except Exception as exc:
            await queue.put(exc)
        else:
            await queue.put(None)

    producer = asyncio.create_task(produce(), name="sync-prefetch")
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        producer.cancel()
        with suppress(asyncio.CancelledError):
            await producer
        with suppress(Exception):
            await pages.aclose()  # type: ignore[attr-defined]


def _unchanged(row: LinkedContact, item: ProviderContact, values: Mapping[str, Any]) -> bool:
    """Same provider ``updated_at`` and the same mapped fields: nothing to write."""
    return (
        row.external_updated_at == item.updated_at
        and row.name == values["name"]
        and row.email == values["email"]
        and row.phone == values["phone"]
        and row.company_id == values["company_id"]
        and row.tags == values["tags"]
    )


def _clean_tags(tags: list[str]) -> list[str]:
    cleaned: dict[str, None] = {}
    for tag in tags:
        value = tag.strip()[:MAX_TAG_LENGTH].strip()
        if value:
            cleaned.setdefault(value, None)
    return list(cleaned)[:MAX_TAGS]


def _domain(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return normalize_domain(raw)
    except ValueError:
        return None


async def _record_event(session: AsyncSession, account_id: str, run: SyncRunRecord) -> None:
    """``sync.completed`` / ``sync.failed`` into the events outbox, with the run's record."""
    await events.record_event(
        session,
        account_id=account_id,
        type="sync.completed" if run.status == "completed" else "sync.failed",
        obj_id=run.id,
        version=1,
        data=run_json(run),
    )


def run_json(run: SyncRunRecord) -> dict[str, Any]:
    """A run as the REST API (and the event payloads) show it."""
    body: dict[str, Any] = {
        "id": run.id,
        "status": run.status,
        "mode": run.mode,
        "trigger": run.trigger,
        "provider": run.provider,
        "created": run.created,
        "updated": run.updated,
        "skipped": run.skipped,
        "deleted": run.deleted,
        "failed": run.failed,
        "started_at": iso_z(run.started_at),
        "finished_at": iso_z(run.finished_at),
        "skipped_reasons": run.details.get("skipped_reasons", {}),
        "companies": run.details.get("companies", {}),
        "stats": run.details.get("stats", {}),
    }
    if run.status == "failed" or run.error:
        body["error"] = run.error
    return body


# ---------------------------------------------------------------- sessions


@asynccontextmanager
async def _reading(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    uow = UnitOfWork(engine)
    try:
        yield await uow.reader()
    finally:
        await uow.rollback()
        await uow.close()


@asynccontextmanager
async def _writing(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A short write transaction of its own (BEGIN IMMEDIATE on SQLite), committed on exit."""
    uow = UnitOfWork(engine)
    try:
        session = await uow.writer()
        yield session
        await uow.commit()
    except BaseException:
        await uow.rollback()
        raise
    finally:
        await uow.close()
