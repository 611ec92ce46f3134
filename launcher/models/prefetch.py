"""Make an embedding model ready: inspect, repair, download with retries, fall back, report.

The chain: the primary model (`BAAI/bge-small-en-v1.5`) → the fallback model through fastembed's
ONNX build (`sentence-transformers/all-MiniLM-L6-v2`, no torch) → the sentence-transformers
package, only when it is installed → degraded (the backend starts without embeddings, loudly).

Each model is handled under its per-model lock: a valid cache answers with zero requests; a
model found in fastembed's old temp cache is copied, not downloaded; a partial or corrupt folder
is repaired (its verified blobs and resumable partials are kept); then up to `retries` attempts,
`retry_delay` apart (longer when the hub sends Retry-After). Permanent errors (404, gated,
disk space) stop that model at once; an unreachable endpoint does too, without any sleep.
The status file is rewritten after every attempt.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from launcher.errors import ModelError
from launcher.models import cache as cache_mod
from launcher.models.cache import (
    DEFAULT_FILE_OPS,
    DEFAULT_LOCK_WAIT,
    MISSING,
    CacheLocation,
    FileOps,
    inspect_model,
    model_lock,
    repair_model,
    resolve_cache_dir,
)
from launcher.models.registry import ModelSpec, lookup
from launcher.settings import DEFAULT_FALLBACK_MODEL, DEFAULT_MODEL

DEFAULT_ENDPOINT = "https://huggingface.co"
READY, FALLBACK, DEGRADED, FAILED = "ready", "fallback", "degraded", "failed"
ST_PREFIX = "sentence-transformers:"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class PrefetchOptions:
    """Everything one prefetch needs; `from_settings` fills it from resolved settings + env.

    `endpoint`/`token` None mean "read HF_ENDPOINT/HF_TOKEN now" (never at import time).
    `cache` None means the default cache location, resolved when prefetch starts.
    `legacy_dir` None means fastembed's old default, `<temp>/fastembed_cache`.
    `symlinks` None means "symlinks unless Windows, HF_HUB_DISABLE_SYMLINKS or unsupported".
    """

    model: str = DEFAULT_MODEL
    fallback_model: str | None = DEFAULT_FALLBACK_MODEL
    cache: CacheLocation | Path | str | None = None
    retries: int = 3
    retry_delay: float = 10.0
    stall_timeout: float = 30.0
    offline: bool = False
    require_model: bool = False
    endpoint: str | None = None
    token: str | None = None
    lock_timeout: float = DEFAULT_LOCK_WAIT
    symlinks: bool | None = None
    legacy_dir: Path | None = None
    sentence_transformers: bool = True
    file_ops: FileOps = field(default_factory=lambda: DEFAULT_FILE_OPS)

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        env: Mapping[str, str] | None = None,
        cache: CacheLocation | None = None,
    ) -> PrefetchOptions:
        """Options from `launcher.settings.Settings` and the environment (`HF_ENDPOINT`,
        `HF_TOKEN`, `HF_HUB_OFFLINE`, `HF_HUB_DISABLE_SYMLINKS`, `FASTEMBED_CACHE_PATH`).

        Pass `cache` when the caller already resolved the location (saves a second probe)."""
        environ = os.environ if env is None else env
        location = cache or cache_mod.settings_cache_dir(settings, environ)
        symlinks = False if _truthy(environ.get("HF_HUB_DISABLE_SYMLINKS")) else None
        return cls(
            model=settings.model,
            fallback_model=settings.fallback_model,
            cache=location,
            retries=settings.retries,
            retry_delay=settings.retry_delay,
            stall_timeout=settings.stall_timeout,
            offline=bool(settings.offline) or _truthy(environ.get("HF_HUB_OFFLINE")),
            require_model=bool(settings.require_model),
            endpoint=environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT,
            token=environ.get("HF_TOKEN") or None,
            symlinks=symlinks,
        )


@dataclass
class Attempt:
    """One try at making one model ready (a download attempt, or a cache/legacy hit)."""

    model: str
    attempt: int
    ok: bool
    error: str | None
    seconds: float
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "attempt": self.attempt,
            "ok": self.ok,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "bytes": self.bytes,
        }


@dataclass
class PrefetchResult:
    """The outcome; `to_json()` is exactly the status file's `model` object (schema 1)."""

    requested: str
    resolved: str | None = None
    state: str = FAILED
    attempts: list[Attempt] = field(default_factory=list)
    cache_dir: str = ""
    path: str | None = None
    location: CacheLocation | None = None
    source: str | None = None  # "cache", "download", "legacy-cache", "sentence-transformers"
    last_error: str | None = None
    last_hint: str | None = None

    @property
    def attempt_count(self) -> int:
        return len(self.attempts)

    def to_json(self) -> dict[str, Any]:
        return {
            "requested": self.requested,
            "resolved": self.resolved,
            "state": self.state,
            "attempt_count": self.attempt_count,
            "attempts": [a.to_json() for a in self.attempts],
            "cache_dir": self.cache_dir,
            "path": self.path,
        }

    def error(self) -> ModelError | None:
        """The ModelError to raise when the state is `failed` (--require-model), else None."""
        if self.state != FAILED:
            return None
        detail = f" (last error: {self.last_error})" if self.last_error else ""
        return ModelError(
            f"no embedding model could be made ready{detail}",
            self.last_hint
            or "Run `robo-backend prefetch` where the hub is reachable, or drop --require-model "
            "to start degraded.",
        )


class _Run:
    """The state of one prefetch call: options, the result so far, the status checkpoint."""

    def __init__(
        self,
        options: PrefetchOptions,
        result: PrefetchResult,
        root: Path,
        status_file: Path | None,
        environment: dict[str, Any] | None,
        sleep: Callable[[float], None],
    ) -> None:
        self.options = options
        self.result = result
        self.root = root
        self.status_file = status_file
        self.environment = environment
        self.sleep = sleep
        self._status_warned = False

    def checkpoint(self) -> None:
        """Rewrite the status file (atomically); a failure to write it only warns."""
        if self.status_file is None:
            return
        from launcher.models.status import write_status

        try:
            write_status(
                self.status_file,
                model=self.result.to_json(),
                environment=self.environment,
                ops=self.options.file_ops,
            )
        except OSError as exc:
            if not self._status_warned:
                self._status_warned = True
                logger.warning(f"could not write the status file {self.status_file}: {exc}")

    def record(self, attempt: Attempt, hint: str | None = None, *, skipped: bool = False) -> None:
        self.result.attempts.append(attempt)
        if not attempt.ok and not skipped:
            self.result.last_error = f"{attempt.model}: {attempt.error}"
            self.result.last_hint = hint or self.result.last_hint
        self.checkpoint()


def prefetch(
    options: PrefetchOptions,
    *,
    status_file: Path | None = None,
    environment: dict[str, Any] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PrefetchResult:
    """Make a model ready in the cache and say which one (see the module docstring).

    Returns a PrefetchResult whose state is `ready`, `fallback`, `degraded`, or `failed` (only
    with `require_model`; the caller raises `result.error()`). Unknown model names raise a
    UsageError before anything is touched. `status_file`, when given, is rewritten after every
    attempt with `environment` (None keeps the environment already in the file).
    """
    primary = lookup(options.model)
    fallback: ModelSpec | None = None
    if options.fallback_model and options.fallback_model.strip():
        fallback = lookup(options.fallback_model)
        if fallback.name == primary.name:
            fallback = None
    location = _location(options.cache)
    for warning in location.warnings:
        logger.warning(warning)
    root = location.path
    result = PrefetchResult(requested=options.model, cache_dir=str(root), location=location)
    run = _Run(options, result, root, status_file, environment, sleep)
    run.checkpoint()

    chain: list[tuple[ModelSpec, str]] = [(primary, READY)]
    if fallback is not None:
        chain.append((fallback, FALLBACK))
    for index, (spec, state) in enumerate(chain):
        if index:
            logger.warning(f"Falling back to {spec.name}")
        path = _prepare(run, spec)
        if path is not None:
            result.resolved, result.state, result.path = spec.name, state, str(path)
            run.checkpoint()
            return result

    st_name = (fallback or lookup(DEFAULT_FALLBACK_MODEL)).name
    st_path = _sentence_transformers(run, st_name)
    if st_path is not None:
        result.resolved, result.state, result.path = ST_PREFIX + st_name, FALLBACK, str(st_path)
        result.source = "sentence-transformers"
        run.checkpoint()
        return result

    result.state = FAILED if options.require_model else DEGRADED
    if not options.require_model:
        logger.warning(
            "NO EMBEDDING MODEL: the backend will start in DEGRADED mode, without embeddings. "
            + (f"Last error: {result.last_error}. " if result.last_error else "")
            + "Run `robo-backend prefetch` once the hub is reachable (or pass --require-model "
            "to make this fatal)."
        )
    run.checkpoint()
    return result


def _location(cache: CacheLocation | Path | str | None) -> CacheLocation:
    if isinstance(cache, CacheLocation):
        return cache
    if cache is None:
        return resolve_cache_dir(None, "default")
    return resolve_cache_dir(cache, "cache_dir")


def _on_wait(spec: ModelSpec, lock_file: Path) -> Callable[[int | None], None]:
    def say(pid: int | None) -> None:
        who = f"pid {pid}" if pid else "another process"
        logger.info(f"Waiting for {who} to finish downloading {spec.label} (lock {lock_file})…")

    return say


def _prepare(run: _Run, spec: ModelSpec) -> Path | None:
    """Make `spec` ready under its lock; the snapshot folder, or None when it cannot be."""
    if run.result.location is not None and not run.result.location.writable:
        return _prepare_read_only(run, spec)
    root = run.root
    lock_file = cache_mod.lock_path(root, spec.name)
    with model_lock(
        root, spec.name, timeout=run.options.lock_timeout, on_wait=_on_wait(spec, lock_file)
    ):
        started = time.perf_counter()
        state = inspect_model(root, spec.name)
        if state.ok:
            _refresh_stamp(state, spec, run.options.file_ops)
            run.record(Attempt(spec.name, 1, True, None, time.perf_counter() - started, 0))
            run.result.source = "cache"
            logger.debug(f"{spec.label} is ready in {state.path} ({state.verified} check)")
            return state.path
        if state.state == MISSING:
            adopted = _adopt_legacy(run, spec, started)
            if adopted is not None:
                return adopted
        if run.options.offline:
            return _unusable(
                run,
                spec,
                started,
                f"offline, and {spec.name} is {state.state} in the cache {root}",
                state.problems,
                "Run `robo-backend prefetch` once while online (without --offline).",
            )
        if state.state != MISSING:
            logger.warning(
                f"{spec.label} in {root} is {state.state} ({'; '.join(state.problems[:3])}); "
                "repairing"
            )
            repair_model(root, spec.name, keep_blobs=True, ops=run.options.file_ops)
        return _download(run, spec)


def _prepare_read_only(run: _Run, spec: ModelSpec) -> Path | None:
    """A read-only cache (a baked image layer): use a valid model as it is, or report it."""
    started = time.perf_counter()
    state = inspect_model(run.root, spec.name)
    if state.ok:
        run.record(Attempt(spec.name, 1, True, None, time.perf_counter() - started, 0))
        run.result.source = "cache"
        return state.path
    return _unusable(
        run,
        spec,
        started,
        f"the cache {run.root} is read-only and {spec.name} is {state.state} there",
        state.problems,
        "Prefetch into a writable --cache-dir (e.g. while building the image).",
    )


def _unusable(
    run: _Run, spec: ModelSpec, started: float, why: str, problems: list[str], hint: str
) -> None:
    """Record a failed attempt for a model the cache cannot give and we may not download."""
    if problems:
        why += f" ({problems[0]})"
    logger.error(why)
    run.record(Attempt(spec.name, 1, False, why, time.perf_counter() - started, 0), hint=hint)


def _refresh_stamp(state: Any, spec: ModelSpec, ops: FileOps) -> None:
    """Stamp a model that was verified by hashing (unstamped, or touched since), and drop
    stray partial downloads, so the next check is stat-only again."""
    for leftover in state.leftovers:
        ops.unlink(leftover)
    if state.verified != "stamp" and state.folder is not None and state.commit:
        with contextlib.suppress(OSError, KeyError):
            cache_mod.write_stamp(state.folder, spec, state.commit, state.files, ops)


def _adopt_legacy(run: _Run, spec: ModelSpec, started: float) -> Path | None:
    """Reuse a valid copy from fastembed's old temp cache instead of downloading it again."""
    legacy = run.options.legacy_dir or cache_mod.legacy_cache_dir()
    try:
        if not legacy.is_dir() or legacy.resolve() == run.root.resolve():
            return None
    except OSError:
        return None
    found = inspect_model(legacy, spec.name)
    if not found.ok:
        return None
    ops = run.options.file_ops
    try:
        cache_mod.adopt_model(legacy, run.root, spec.name, ops)
    except OSError as exc:
        logger.warning(f"could not copy {spec.label} from the old cache {legacy}: {exc}")
        return None
    state = inspect_model(run.root, spec.name)
    if not state.ok:
        repair_model(run.root, spec.name, ops=ops)
        return None
    _refresh_stamp(state, spec, ops)
    logger.info(
        f"Reused {spec.label} from fastembed's old temp cache {legacy} (copied to {run.root}); "
        "nothing downloaded. The temp cache can be deleted."
    )
    run.record(Attempt(spec.name, 1, True, None, time.perf_counter() - started, 0))
    run.result.source = "legacy-cache"
    return state.path


def _download(run: _Run, spec: ModelSpec) -> Path | None:
    from launcher.models import download
    from launcher.progress import human_bytes, model_progress

    options = run.options
    endpoint = (options.endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
    token = options.token if options.token is not None else (os.environ.get("HF_TOKEN") or None)
    folder = cache_mod.model_folder(run.root, spec.name)
    symlinks = (
        options.symlinks if options.symlinks is not None else cache_mod.symlinks_supported(run.root)
    )
    verified: dict[str, str] = {}

    @contextlib.contextmanager
    def progress(total: int, completed: int) -> Iterator[Any]:
        with model_progress(spec.label, total, completed) as bar:
            yield bar

    retries = max(1, options.retries)
    for number in range(1, retries + 1):
        logger.info(f"Downloading {spec.label}... (Attempt {number}/{retries})")
        started = time.perf_counter()
        try:
            with download.open_client(token, options.stall_timeout) as client:
                remote = download.fetch_remote(client, spec, endpoint=endpoint)
                stats = download.download_model(
                    client,
                    spec,
                    remote,
                    folder,
                    endpoint=endpoint,
                    progress=progress,
                    ops=options.file_ops,
                    symlinks=symlinks,
                    verified=verified,
                )
        except download.DownloadError as error:
            seconds = time.perf_counter() - started
            run.record(
                Attempt(spec.name, number, False, error.message, seconds, error.bytes_received),
                hint=error.hint or None,
            )
            if error.kind != download.TRANSIENT:
                logger.error(f"{spec.label}: {error.message}")
                if error.hint:
                    logger.info(f"hint: {error.hint}")
                return None
            if number == retries:
                logger.error(f"{spec.label}: {error.message}; giving up after {retries} attempts")
                return None
            delay = max(options.retry_delay, error.retry_after or 0.0)
            logger.warning(f"{spec.label}: {error.message}; retrying in {delay:g} s")
            run.sleep(delay)
            continue
        seconds = time.perf_counter() - started
        run.record(Attempt(spec.name, number, True, None, seconds, stats.bytes_received))
        run.result.source = "download"
        logger.info(
            f"{spec.label} downloaded and verified ({human_bytes(stats.bytes_received)} in "
            f"{seconds:.1f} s)"
        )
        return stats.snapshot
    return None


def _sentence_transformers(run: _Run, name: str) -> Path | None:
    """The last link: the sentence-transformers package, only if already installed."""
    label = ST_PREFIX + name
    if (
        not run.options.sentence_transformers
        or importlib.util.find_spec("sentence_transformers") is None
    ):
        run.record(
            Attempt(
                label,
                1,
                False,
                "skipped: the sentence-transformers package is not installed",
                0.0,
                0,
            ),
            skipped=True,
        )
        return None
    started = time.perf_counter()
    folder = run.root / "sentence-transformers"
    logger.info(f"Loading {name} through the sentence-transformers package…")
    try:
        from sentence_transformers import SentenceTransformer

        SentenceTransformer(name, cache_folder=str(folder), local_files_only=run.options.offline)
    except Exception as exc:  # any failure of the optional package means: not available
        run.record(Attempt(label, 1, False, str(exc), time.perf_counter() - started, 0))
        return None
    run.record(Attempt(label, 1, True, None, time.perf_counter() - started, 0))
    return folder
