"""The retry loop of one model: download attempts, `retry_delay` apart, until one succeeds.

It stops early on a failure that says to stop (permanent, unreachable, disk), when the attempts
run out, or when the step's budget does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from loguru import logger

from launcher.models import download, hub
from launcher.models.budget import Budget
from launcher.models.download import Target
from launcher.models.failures import DISK, TRANSIENT, DownloadError
from launcher.models.floor import Floor, TooSlow
from launcher.models.layout import symlinks_supported
from launcher.models.options import PrefetchOptions
from launcher.models.outcome import Attempt, RunLog
from launcher.models.registry import DEFAULT_ENDPOINT, ModelSpec
from launcher.values import format_bytes


def make_target(options: PrefetchOptions, root: Path, spec: ModelSpec) -> Target:
    endpoint = (options.endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
    hub.check_endpoint(endpoint)
    token = options.token if options.token is not None else (os.environ.get("HF_TOKEN") or None)
    symlinks = options.symlinks if options.symlinks is not None else symlinks_supported(root)
    return Target(spec, root, endpoint, token, symlinks)


def _attempt(
    options: PrefetchOptions,
    target: Target,
    verified: dict[str, str],
    budget: Budget,
    sleep: Callable[[float], None],
) -> tuple[Path, int]:
    window = budget.cap(options.stall_timeout)
    floor = Floor(options.min_rate, window if options.stall_timeout > 0 else 0.0, target.spec.repo)
    with hub.open_client(target.token, window) as client:
        remote = hub.fetch_remote(client, target.spec, endpoint=target.endpoint, shown=target.shown)
        return download.download_model(client, target, remote, options, verified, floor, sleep)


class _Loop:
    """The state of one model's attempts: the numbers, the budget, the log."""

    def __init__(self, options: PrefetchOptions, log: RunLog, target: Target, budget: Budget):
        self.options, self.log, self.target, self.budget = options, log, target, budget
        self.retries = max(1, options.retries)
        self.label = target.spec.label
        self.reported = False  # the budget's end was said already

    def progressed(self, error: DownloadError, seconds: float) -> bool:
        """Did a failed attempt make progress (at least the floor's rate on average)? If not, its
        time and the delay after it are charged to the budget, so a trickle cannot outlast it."""
        if error.bytes_received == 0 or isinstance(error, TooSlow):
            return False
        return error.bytes_received >= self.options.min_rate * seconds

    def failed(self, error: DownloadError, number: int, seconds: float) -> bool:
        """Record a failed attempt; True when another one should follow (after a delay)."""
        progressed = self.progressed(error, seconds)
        if not progressed:
            self.budget.charge(seconds)
        self.log.record(
            Attempt(
                self.target.spec.name, number, False, error.message, seconds, error.bytes_received
            ),
            hint=error.hint or None,
        )
        if error.kind == DISK:
            self.log.result.advice = error.hint  # free space, not waiting for the hub, helps
        if error.kind != TRANSIENT:
            logger.error(f"{self.label}: not retried: {error.message}")
            if error.hint:
                logger.info(f"hint: {error.hint}")
            return False
        if number == self.retries:
            logger.error(f"{self.label}: {error.message}; giving up after {self.retries} attempts")
            return False
        delay = max(self.options.retry_delay, error.retry_after or 0.0)
        if not progressed and self.budget.remaining() <= delay:
            self.out_of_budget(f"{self.label}: {error.message}")
            return False
        logger.warning(f"{self.label}: {error.message}; retrying in {delay:g} s")
        self.log.sleep(delay)
        if not progressed:
            self.budget.charge(delay)
        return True

    def out_of_budget(self, last: str) -> None:
        """Say that the budget ran out (and how to change it); it stays spent for the chain."""
        spent = self.budget.spent
        self.budget.exhaust()
        self.reported = True
        reason = self.budget.reason(self.target.shown, spent)
        self.log.budget_ran_out(reason)
        logger.error(f"{last}; {reason}")


def download_with_retries(
    options: PrefetchOptions, log: RunLog, target: Target, budget: Budget
) -> Path | None:
    """Up to `options.retries` attempts at `target` within `budget`; the snapshot, or None."""
    loop = _Loop(options, log, target, budget)
    spec = target.spec
    verified: dict[str, str] = {}
    for number in range(1, loop.retries + 1):
        logger.info(f"Downloading {spec.label}... (Attempt {number}/{loop.retries})")
        started = time.perf_counter()
        try:
            snapshot, received = _attempt(options, target, verified, budget, log.sleep)
        except DownloadError as error:
            if loop.failed(error, number, time.perf_counter() - started):
                continue
            if budget.exhausted() and not loop.reported:
                loop.out_of_budget(f"{spec.label}: {error.message}")
            return None
        seconds = time.perf_counter() - started
        log.record(Attempt(spec.name, number, True, None, seconds, received))
        log.result.source = "download"
        logger.info(
            f"{spec.label} downloaded and verified ({format_bytes(received)} in {seconds:.1f} s)"
        )
        return snapshot
    return None
