"""Make an embedding model ready: walk the chain (primary, fallback, sentence-transformers), report.

Each model is handled under its per-model lock: a valid cache costs zero requests, fastembed's
old temp cache is copied, a broken folder is repaired, then the download attempts run; the status
file is rewritten after every attempt. The chain ends degraded, never silently (docs/models.md).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from loguru import logger

from launcher.fileops import FileOps
from launcher.models.attempts import download_with_retries, make_target
from launcher.models.budget import Budget
from launcher.models.condition import MISSING, ModelCacheState, inspect_model
from launcher.models.layout import find_repo_folder, repo_folder_name
from launcher.models.location import CacheLocation, legacy_cache_dir, resolve_cache_dir
from launcher.models.lock import lock_path, model_lock
from launcher.models.options import PrefetchOptions
from launcher.models.outcome import (
    DEGRADED,
    FAILED,
    FALLBACK,
    READY,
    ST_PREFIX,
    Attempt,
    PrefetchResult,
    RunLog,
)
from launcher.models.provenance import ADOPTED, FOUND
from launcher.models.registry import DEFAULT_FALLBACK_MODEL, ModelSpec, described, lookup
from launcher.models.repair import adopt_model, repair_model
from launcher.models.verified import write_stamp

OFFLINE_HINT = "Run `robo-backend prefetch` once while online (without --offline)."
READ_ONLY_HINT = "Prefetch into a writable --cache-dir (e.g. while building the image)."


class _Run:
    """One prefetch call: its options, the cache root, and the log of its attempts."""

    def __init__(self, options: PrefetchOptions, log: RunLog, location: CacheLocation) -> None:
        self.options = options
        self.log = log
        self.location = location
        self.root = location.path
        self.budget = Budget(options.budget)


def _chain(options: PrefetchOptions) -> list[tuple[ModelSpec, str]]:
    primary = lookup(options.model)
    chain = [(primary, READY)]
    if options.fallback_model and options.fallback_model.strip():
        fallback = lookup(options.fallback_model)
        if fallback.name != primary.name:
            chain.append((fallback, FALLBACK))
    return chain


def prefetch(
    options: PrefetchOptions,
    *,
    status_file: Path | None = None,
    environment: dict[str, Any] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PrefetchResult:
    """Make a model ready in the cache; a PrefetchResult: `ready`, `fallback`, `degraded`, or
    `failed` (only with `require_model`; the caller raises `result.error()`). An unknown model
    name raises UsageError before anything is touched."""
    with described(options.described):
        chain = _chain(options)
        location = _location(options.cache)
        for warning in location.warnings:
            logger.warning(warning)
        result = PrefetchResult(
            requested=options.model, cache_dir=str(location.path), location=location
        )
        log = RunLog(result, status_file, environment, options.file_ops, sleep)
        log.checkpoint()
        _walk(_Run(options, log, location), chain)
        log.checkpoint()
        return result


def _walk(run: _Run, chain: list[tuple[ModelSpec, str]]) -> None:
    """Each link of the chain in turn until one is ready; else degraded (or failed)."""
    result = run.log.result
    for index, (spec, state) in enumerate(chain):
        if index and not run.budget.exhausted():
            logger.warning(f"Falling back to {spec.name}")
        path = _prepare(run, spec)
        if path is not None:
            result.resolved, result.state, result.path = spec.name, state, str(path)
            return
    st_name = chain[1][0].name if len(chain) > 1 else lookup(DEFAULT_FALLBACK_MODEL).name
    st_path = _sentence_transformers(run, st_name)
    if st_path is not None:
        result.resolved, result.state, result.path = ST_PREFIX + st_name, FALLBACK, str(st_path)
        result.source = "sentence-transformers"
        return
    result.state = FAILED if run.options.require_model else DEGRADED
    if not run.options.require_model:
        _warn_degraded(result, run.options.starts_backend)


def _warn_degraded(result: PrefetchResult, starts_backend: bool = True) -> None:
    """The loud warning of a step that ends without a model (in `up`, or in `prefetch`)."""
    if result.advice is not None:
        advice = f"{result.advice.rstrip('.')} "
    elif starts_backend:
        advice = "Run `robo-backend prefetch` once the hub is reachable, then restart `up` "
    else:
        advice = "Run this command again once the hub is reachable "
    what = (
        "the backend will start in DEGRADED mode, without embeddings"
        if starts_backend
        else "nothing was cached; `up` would start the backend in DEGRADED mode, without embeddings"
    )
    logger.warning(
        f"NO EMBEDDING MODEL: {what}. "
        + (f"Last error: {result.last_error}. " if result.last_error else "")
        + advice
        + "(or pass --require-model to make this fatal)."
    )


def _location(cache: CacheLocation | Path | str | None) -> CacheLocation:
    if isinstance(cache, CacheLocation):
        return cache
    if cache is None:
        return resolve_cache_dir(None, "default")
    return resolve_cache_dir(cache, "cache_dir")


def _prepare(run: _Run, spec: ModelSpec) -> Path | None:
    """Make `spec` ready under its lock; the snapshot folder, or None when it cannot be."""
    if not run.location.writable:
        return _prepare_read_only(run, spec)
    root = run.root

    def wait(pid: int | None) -> None:
        who = f"pid {pid}" if pid else "another process"
        lock = lock_path(root, spec.name)
        logger.info(f"Waiting for {who} to finish downloading {spec.label} (lock {lock})…")

    with model_lock(root, spec.name, timeout=run.options.lock_timeout, on_wait=wait):
        started = time.perf_counter()
        state = inspect_model(root, spec.name)
        if state.ok:
            _refresh_stamp(state, spec, run.options.file_ops)
            return _use_cached(run, spec, state, started)
        if state.state == MISSING:
            adopted = _adopt_other_casing(run, spec, started) or _adopt_legacy(run, spec, started)
            if adopted is not None:
                return adopted
        if run.options.offline:
            why = f"offline, and {spec.name} is {state.state} in the cache {root}"
            _unusable(run, spec, started, state, why, OFFLINE_HINT)
            return None
        if state.state != MISSING:
            logger.warning(
                f"{spec.label} in {root} is {state.state} ({'; '.join(state.problems[:3])}); "
                "repairing"
            )
            repair_model(root, spec.name, keep_blobs=True, ops=run.options.file_ops)
        if run.budget.exhausted():
            logger.warning(f"{spec.label}: not downloaded, the model step's budget has run out")
            return None
        target = make_target(run.options, root, spec)
        return download_with_retries(run.options, run.log, target, run.budget)


def _use_cached(run: _Run, spec: ModelSpec, state: ModelCacheState, started: float) -> Path | None:
    run.log.record(Attempt(spec.name, 1, True, None, time.perf_counter() - started, 0))
    run.log.result.source = "cache"
    logger.debug(f"{spec.label} is ready in {state.path} ({state.verified} check)")
    return state.path


def _prepare_read_only(run: _Run, spec: ModelSpec) -> Path | None:
    """A read-only cache (a baked image layer): use a valid model as it is, or report it."""
    started = time.perf_counter()
    state = inspect_model(run.root, spec.name)
    if state.ok:
        return _use_cached(run, spec, state, started)
    why = f"the cache {run.root} is read-only and {spec.name} is {state.state} there"
    _unusable(run, spec, started, state, why, READ_ONLY_HINT)
    return None


def _unusable(
    run: _Run, spec: ModelSpec, started: float, state: ModelCacheState, why: str, hint: str
) -> None:
    """Record a failed attempt for a model the cache cannot give and we may not download."""
    if state.problems:
        why += f" ({state.problems[0]})"
    logger.error(why)
    run.log.record(Attempt(spec.name, 1, False, why, time.perf_counter() - started, 0), hint=hint)


def _refresh_stamp(state: ModelCacheState, spec: ModelSpec, ops: FileOps, how: str = FOUND) -> None:
    """Stamp a model that was verified by hashing (unstamped, or touched since), and drop
    stray partial downloads, so the next check is stat-only again."""
    for leftover in state.leftovers:
        ops.unlink(leftover)
    if state.verified != "stamp" and state.folder is not None and state.commit:
        with contextlib.suppress(OSError, KeyError):
            write_stamp(state.folder, spec, state.commit, state.files, ops, how=how)


def _adopt_other_casing(run: _Run, spec: ModelSpec, started: float) -> Path | None:
    """Lay out a valid copy spelled otherwise (fastembed 0.9 renamed `qdrant/...-onnx-q` to
    `Qdrant/...-onnx-Q`; two folders on a case-sensitive disk) under the backend's spelling,
    hard-linked where possible, instead of downloading."""
    other = find_repo_folder(run.root, spec.repo) if spec.exact_case else None
    if other is None or other.name == repo_folder_name(spec.repo):
        return None
    ops = run.options.file_ops
    with described({spec.name: replace(spec, exact_case=False)}):
        if not inspect_model(run.root, spec.name).ok:
            return None
        try:
            target = adopt_model(run.root, run.root, spec.name, ops, link=True)
        except OSError as exc:
            logger.warning(f"could not copy {other} under the name {spec.repo}: {exc}")
            return None
    how = "linked" if _shares_files(other, target) else "copied"
    message = (
        f"{spec.label}: {how} {other.name} to {repo_folder_name(spec.repo)}, the spelling the "
        "backend's fastembed opens; nothing downloaded"
    )
    return _settle_copy(run, spec, started, "cache", message)


def _shares_files(first: Path, second: Path) -> bool:
    """True when the two folders' blobs are the same files (hard links), not copies."""
    with contextlib.suppress(OSError):
        for blob in (first / "blobs").iterdir():
            twin = second / "blobs" / blob.name
            if blob.is_file() and twin.is_file():
                return os.path.samefile(blob, twin)
    return False


def _adopt_legacy(run: _Run, spec: ModelSpec, started: float) -> Path | None:
    """Reuse a valid copy from fastembed's old temp cache instead of downloading it again."""
    legacy = run.options.legacy_dir or legacy_cache_dir()
    try:
        if not legacy.is_dir() or legacy.resolve() == run.root.resolve():
            return None
    except OSError:
        return None
    if not inspect_model(legacy, spec.name).ok:
        return None
    ops = run.options.file_ops
    try:
        adopt_model(legacy, run.root, spec.name, ops)
    except OSError as exc:
        logger.warning(f"could not copy {spec.label} from the old cache {legacy}: {exc}")
        return None
    message = (
        f"Reused {spec.label} from fastembed's old temp cache {legacy} (copied to {run.root}); "
        "nothing downloaded. The temp cache can be deleted."
    )
    return _settle_copy(run, spec, started, "legacy-cache", message, ADOPTED)


def _settle_copy(
    run: _Run, spec: ModelSpec, started: float, source: str, message: str, how: str = FOUND
) -> Path | None:
    """After a copy into the cache: verify it (a bad copy is repaired away: None), stamp it,
    say so, and record it as this model's one successful attempt."""
    ops = run.options.file_ops
    state = inspect_model(run.root, spec.name)
    if not state.ok:
        repair_model(run.root, spec.name, ops=ops)
        return None
    _refresh_stamp(state, spec, ops, how)
    logger.info(message)
    run.log.record(Attempt(spec.name, 1, True, None, time.perf_counter() - started, 0))
    run.log.result.source = source
    return state.path


def _sentence_transformers(run: _Run, name: str) -> Path | None:
    """The last link: the sentence-transformers package, only if already installed."""
    label = ST_PREFIX + name
    if (
        not run.options.sentence_transformers
        or importlib.util.find_spec("sentence_transformers") is None
    ):
        logger.debug(f"{label}: skipped, the sentence-transformers package is not installed")
        return None
    started = time.perf_counter()
    folder = run.root / "sentence-transformers"
    logger.info(f"Loading {name} through the sentence-transformers package…")
    try:
        from sentence_transformers import (  # type: ignore[import-not-found,unused-ignore]
            SentenceTransformer,
        )

        local_only = run.options.offline or run.budget.exhausted()
        SentenceTransformer(name, cache_folder=str(folder), local_files_only=local_only)
    except Exception as exc:  # any failure of the optional package means: not available
        run.log.record(Attempt(label, 1, False, str(exc), time.perf_counter() - started, 0))
        return None
    run.log.record(Attempt(label, 1, True, None, time.perf_counter() - started, 0))
    return folder
