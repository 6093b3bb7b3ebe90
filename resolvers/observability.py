"""Hooks the process wiring connects to its metrics; the domain layer reports through them.

The domain layer must not import ``contacts_gateway`` (layering), so it calls these, and
``contacts_gateway.metrics.install`` registers the receivers. Nothing is registered in
plain library use: reporting is then free.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

log = logging.getLogger("resolvers.observability")

SyncRunFinished = Callable[[str, str, Mapping[str, int]], None]

_sync_run_finished: list[SyncRunFinished] = []


def on_sync_run_finished(receiver: SyncRunFinished) -> None:
    """Call ``receiver(provider, status, counts)`` after every sync run (registered once)."""
    if receiver not in _sync_run_finished:
        _sync_run_finished.append(receiver)


def sync_run_finished(provider: str, status: str, counts: Mapping[str, int]) -> None:
    """Report a finished sync run: its provider, final status, and records per outcome."""
    for receiver in _sync_run_finished:
        try:
            receiver(provider, status, counts)
        except Exception:  # reporting never fails the work it reports on
            log.exception("a sync_run_finished receiver failed")
