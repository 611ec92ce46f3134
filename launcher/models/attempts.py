"""The retry loop of one model: download attempts, `retry_delay` apart, until one succeeds or a
failure says to stop (permanent, unreachable, disk) or the attempts run out."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from launcher.models import download, hub
from launcher.models.failures import TRANSIENT, DownloadError
from launcher.models.layout import model_folder, symlinks_supported
from launcher.models.options import PrefetchOptions
from launcher.models.outcome import Attempt, RunLog
from launcher.models.registry import DEFAULT_ENDPOINT, ModelSpec
from launcher.values import format_bytes


@dataclass
class Target:
    """Where one model's download goes and how it is reached."""

    spec: ModelSpec
    root: Path
    endpoint: str
    token: str | None
    symlinks: bool


def make_target(options: PrefetchOptions, root: Path, spec: ModelSpec) -> Target:
    endpoint = (options.endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
    token = options.token if options.token is not None else (os.environ.get("HF_TOKEN") or None)
    symlinks = options.symlinks if options.symlinks is not None else symlinks_supported(root)
    return Target(spec, root, endpoint, token, symlinks)


def _attempt(
    options: PrefetchOptions, target: Target, verified: dict[str, str]
) -> download.DownloadStats:
    spec = target.spec
    folder = model_folder(target.root, spec.name)
    with hub.open_client(target.token, options.stall_timeout) as client:
        remote = hub.fetch_remote(client, spec, endpoint=target.endpoint)
        return download.download_model(
            client,
            spec,
            remote,
            folder,
            endpoint=target.endpoint,
            progress=options.progress,
            ops=options.file_ops,
            symlinks=target.symlinks,
            verified=verified,
        )


def _give_up(log: RunLog, spec: ModelSpec, error: DownloadError, number: int, retries: int) -> bool:
    """Log why this model stops here; False when another attempt should follow."""
    if error.kind != TRANSIENT:
        logger.error(f"{spec.label}: {error.message}")
        if error.hint:
            logger.info(f"hint: {error.hint}")
        return True
    if number == retries:
        logger.error(f"{spec.label}: {error.message}; giving up after {retries} attempts")
        return True
    return False


def download_with_retries(options: PrefetchOptions, log: RunLog, target: Target) -> Path | None:
    """Up to `options.retries` attempts at `target`; the snapshot folder, or None."""
    spec = target.spec
    verified: dict[str, str] = {}
    retries = max(1, options.retries)
    for number in range(1, retries + 1):
        logger.info(f"Downloading {spec.label}... (Attempt {number}/{retries})")
        started = time.perf_counter()
        try:
            stats = _attempt(options, target, verified)
        except DownloadError as error:
            seconds = time.perf_counter() - started
            log.record(
                Attempt(spec.name, number, False, error.message, seconds, error.bytes_received),
                hint=error.hint or None,
            )
            if _give_up(log, spec, error, number, retries):
                return None
            delay = max(options.retry_delay, error.retry_after or 0.0)
            logger.warning(f"{spec.label}: {error.message}; retrying in {delay:g} s")
            log.sleep(delay)
            continue
        seconds = time.perf_counter() - started
        log.record(Attempt(spec.name, number, True, None, seconds, stats.bytes_received))
        log.result.source = "download"
        logger.info(
            f"{spec.label} downloaded and verified ({format_bytes(stats.bytes_received)} in "
            f"{seconds:.1f} s)"
        )
        return stats.snapshot
    return None
