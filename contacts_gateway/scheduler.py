"""Auto-sync inside ``serve``: a background task that runs every due account's sync.

Several processes or replicas may run a scheduler on one database: an account's due slot is
claimed with one atomic UPDATE (only one claimer wins) and the run itself holds the
account's sync lease, so an account is never synced twice at once.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_gateway.settings import Settings
from db.queries.sync import SyncRunRecord
from providers.http import RetryPolicy
from resolvers import sync
from resolvers.errors import Conflict, DomainError
from resolvers.sync import SyncOptions
from resolvers.sync_settings import resolve_secret_key

log = logging.getLogger("contacts_gateway.scheduler")


def sync_options_from(settings: Settings) -> SyncOptions:
    """The engine's options from the process settings (the server key is loaded or made here)."""
    return SyncOptions(
        secret_key=resolve_secret_key(settings.secret_key, settings.data_dir),
        allow_private_urls=settings.allow_private_urls,
        overlap=timedelta(minutes=settings.sync_overlap_minutes),
        batch_size=settings.sync_batch_size,
        max_delete_share=settings.sync_max_delete_share,
        retry_policy=RetryPolicy(
            max_attempts=settings.sync_max_attempts,
            max_total_wait=settings.sync_max_total_wait_seconds,
        ),
        wait_scale=settings.sync_retry_wait_scale,
        lease_seconds=settings.sync_lease_seconds,
        # Answer before the request timeout cancels the wait; the run itself goes on.
        wait_seconds=max(1.0, settings.request_timeout_seconds - 2.0),
    )


class SyncScheduler:
    """Looks for due auto-syncs every ``poll_seconds`` and runs them one after another."""

    def __init__(self, engine: AsyncEngine, options: SyncOptions, *, poll_seconds: float) -> None:
        self.engine = engine
        self.options = options
        self.poll_seconds = poll_seconds
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run_due_once(self) -> list[SyncRunRecord]:
        """Run every due account this scheduler manages to claim; returns the runs it did."""
        runs: list[SyncRunRecord] = []
        for account_id in await sync.due_account_ids(self.engine):
            if self._stop.is_set():
                break
            if not await sync.claim_due_sync(self.engine, account_id=account_id):
                continue  # another scheduler claimed it first
            try:
                run = await sync.run_sync(
                    self.engine,
                    account_id=account_id,
                    mode="manual",
                    trigger="auto",
                    options=self.options,
                )
            except Conflict as exc:
                log.info("auto-sync of %s skipped: %s", account_id, exc.message)
                continue
            except DomainError as exc:
                log.warning("auto-sync of %s could not start: %s", account_id, exc.message)
                continue
            log.info(
                "auto-sync %s of %s %s (created %d, updated %d, skipped %d, deleted %d)",
                run.id,
                account_id,
                run.status,
                run.created,
                run.updated,
                run.skipped,
                run.deleted,
            )
            runs.append(run)
        return runs

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                await self.run_due_once()
            except Exception:
                log.exception("the auto-sync scheduler failed a round; it will try again")
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.poll_seconds)

    def start(self) -> None:
        """Start the background task."""
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._loop(), name="auto-sync-scheduler")

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Ask the task to stop; a run still going after ``grace_seconds`` is cancelled (and failed)."""
        self._stop.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=grace_seconds)
        except TimeoutError:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
