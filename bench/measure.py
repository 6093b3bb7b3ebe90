"""Timing helpers: medians and p90s of at least 50 runs, with a bounded time budget."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

MIN_RUNS = 50


@dataclass
class Sample:
    """Wall-clock durations of one case, in milliseconds."""

    times_ms: list[float] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.times_ms)

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p90(self) -> float:
        ordered = sorted(self.times_ms)
        return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def _done(sample: Sample, started: float, min_runs: int, budget_s: float, max_runs: int) -> bool:
    if sample.n < min_runs:
        return False
    return sample.n >= max_runs or time.perf_counter() - started >= budget_s


async def measure_async(
    fn: Callable[[], Awaitable[Any]],
    *,
    min_runs: int = MIN_RUNS,
    budget_s: float = 1.0,
    max_runs: int = 500,
    warmup: int = 3,
) -> Sample:
    """Run ``fn`` until at least ``min_runs`` runs and ``budget_s`` seconds (or ``max_runs``)."""
    for _ in range(warmup):
        await fn()
    sample = Sample()
    started = time.perf_counter()
    while not _done(sample, started, min_runs, budget_s, max_runs):
        t0 = time.perf_counter()
        await fn()
        sample.times_ms.append((time.perf_counter() - t0) * 1000)
    return sample


def measure_sync(
    fn: Callable[[], Any],
    *,
    min_runs: int = MIN_RUNS,
    budget_s: float = 1.0,
    max_runs: int = 500,
    warmup: int = 3,
) -> Sample:
    """The synchronous twin of :func:`measure_async`."""
    for _ in range(warmup):
        fn()
    sample = Sample()
    started = time.perf_counter()
    while not _done(sample, started, min_runs, budget_s, max_runs):
        t0 = time.perf_counter()
        fn()
        sample.times_ms.append((time.perf_counter() - t0) * 1000)
    return sample
