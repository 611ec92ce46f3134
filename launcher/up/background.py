"""The model download that overlaps the install, settled by the model step once fastembed is known.

Started after the pre-flight with the built-in table's repo spelling; the model step waits for
it and lays the content out under the spelling the backend's fastembed uses (hard links, never
a second download), using the cache only when it ended `fallback` or `degraded`. When it is not
started, and what a cancel leaves, is in docs/models.md.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from loguru import logger

if TYPE_CHECKING:
    from launcher.models.location import CacheLocation
    from launcher.models.options import PrefetchOptions
    from launcher.models.outcome import PrefetchResult
    from launcher.models.reporting import Progress, ProgressFactory
    from launcher.models.switch import ModelSwitch
    from launcher.up.recovery import Recovery

JOIN_WAIT = 3.0  # seconds a cancelled download gets to unwind (a stalled read ends later)
POLL = 0.1  # how often a waiting main thread looks up (so Ctrl-C is taken at once)
THREAD_NAME = "model-download"


class Cancelled(BaseException):
    """Raised inside a background download that was cancelled. A BaseException, so that no
    `except Exception` of the download engine takes it for a failed download."""


class Canceller:
    """The stop switch of one background job: its sleeps and its byte reports raise Cancelled
    once it is set, and its progress display is closed at once (not at the next byte)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._displays: list[Any] = []
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        return self.event.is_set()

    def check(self) -> None:
        if self.event.is_set():
            raise Cancelled

    def sleep(self, seconds: float) -> None:
        """The download engine's sleep (retry delays, part back-off), cut short by a cancel."""
        if self.event.wait(max(seconds, 0.0)):
            raise Cancelled

    def progress(self, inner: ProgressFactory | None) -> ProgressFactory:
        """`inner` (None: no display) wrapped so that every byte report checks the switch."""

        @contextlib.contextmanager
        def factory(label: str, total: int, completed: int) -> Iterator[Progress | None]:
            self.check()
            if inner is None:
                yield _Checked(None, self)
                return
            with inner(label, total, completed) as display:
                with self._lock:
                    self._displays.append(display)
                try:
                    yield _Checked(display, self)
                finally:
                    with self._lock:
                        self._displays.remove(display)

        return factory

    def cancel(self) -> None:
        self.event.set()
        with self._lock:
            displays = list(self._displays)
        for display in displays:  # a Rich bar stops now, not when the thread next wakes up
            with contextlib.suppress(Exception):
                display.close()


class _Checked:
    """A progress display whose reports raise Cancelled once the job was cancelled."""

    def __init__(self, inner: Progress | None, canceller: Canceller) -> None:
        self.inner = inner
        self.canceller = canceller

    def advance(self, nbytes: int) -> None:
        self.canceller.check()
        if self.inner is not None:
            self.inner.advance(nbytes)

    def set_completed(self, nbytes: int) -> None:
        self.canceller.check()
        if self.inner is not None:
            self.inner.set_completed(nbytes)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


class EarlyDownload:
    """The model download running in a thread while the venv and dependencies are set up."""

    def __init__(self, options: PrefetchOptions) -> None:
        self.canceller = Canceller()
        self.options = replace(options, progress=self.canceller.progress(options.progress))
        self.result: PrefetchResult | None = None
        self.error: BaseException | None = None
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)

    def start(self) -> EarlyDownload:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        from launcher.models.fetch import prefetch

        try:
            self.result = prefetch(self.options, sleep=self.canceller.sleep)
        except Cancelled:
            logger.debug("model download cancelled; its partial files stay for the next run")
        except BaseException as exc:  # noqa: BLE001 - the model step raises it in the main thread
            self.error = exc

    def wait(self) -> PrefetchResult | None:
        """Its result once it has ended (None when it was cancelled); an error it raised is
        raised here, in the model step, as the same download in the foreground would."""
        while self._thread.is_alive():
            self._thread.join(POLL)
        if self.error is not None:
            raise self.error
        return self.result

    def cancel(self) -> None:
        """Stop it (Ctrl-C, a failed step): partial files stay, the next run resumes them."""
        if not self._thread.is_alive():
            return
        self.canceller.cancel()
        self._thread.join(JOIN_WAIT)
        if self._thread.is_alive():
            logger.debug("the model download is still in a network read; leaving it behind")


def start_download(
    settings: Any, env: Mapping[str, str], cache: CacheLocation
) -> EarlyDownload | None:
    """Start the model download in the background, or None when there is nothing to start
    (offline, `--no-prefetch`, `background_model = false`, a read-only cache, a verified model)."""
    from launcher.model_step import prefetch_options
    from launcher.models.condition import inspect_model

    if not settings.background_model or not settings.prefetch or not cache.writable:
        return None
    download = EarlyDownload(prefetch_options(settings, env, cache, {}))  # the built-in spelling
    if download.options.offline:
        return None
    try:
        if inspect_model(cache.path, settings.model).ok:
            return None  # the model step finds it with a stat per file
    except Exception as exc:  # noqa: BLE001 - an unknown name: the model step says so
        logger.debug(f"no background download: {exc}")
        return None
    logger.debug(f"downloading {settings.model} in the background while the venv is set up")
    return download.start()


@dataclass
class BackgroundModel:
    """The model work of one `up` that goes on beside its steps: the download overlapping the
    install (this module), then, while the backend serves without the main model, its
    recovery (`recovery.py`)."""

    download: EarlyDownload | None = None
    recovery: Recovery | None = None

    def start_download(self, settings: Any, env: Mapping[str, str], cache: CacheLocation) -> None:
        self.download = start_download(settings, env, cache)

    def settle(
        self, settings: Any, options: PrefetchOptions, environment: dict[str, Any] | None
    ) -> tuple[PrefetchResult, ModelSwitch | None]:
        """The model step after (or without) the background download: `prefetch_and_settle`'s
        contract (a refused switch raises, a failed prefetch is returned), without a second
        download and without repeating the network attempts the background already made.
        Then, when the backend will serve without the main model, its recovery is prepared."""
        from launcher.model_step import prefetch_and_settle
        from launcher.up.recovery import recovery_for

        first = self.download.wait() if self.download is not None else None
        if first is None:
            result, switch = prefetch_and_settle(settings, options, environment)
        else:
            result, switch = _settle_after(settings, options, environment, first)
        self.recovery = recovery_for(settings, options, result)
        return result, switch

    @property
    def detail(self) -> str:
        """The model step's detail while a recovery is prepared ("" otherwise)."""
        return self.recovery.detail if self.recovery is not None else ""

    def serve(
        self,
        serve: Callable[..., int],
        *,
        env: Mapping[str, str],
        guard: Any,
        started: Any,
        env_for: Callable[[PrefetchResult], Mapping[str, str]],
    ) -> int:
        """serve(env=, guard=, started=) until the backend ends; with a recovery, once more
        (`env_for(model)`: the backend's environment with that model) after serve() stopped
        it for a restart onto the model that arrived in the background."""
        from launcher.server.supervise import RESTART

        recovery = self.recovery
        if recovery is None:
            return serve(env=env, guard=guard, started=started)
        recovery.start()
        try:
            code = serve(env=env, guard=guard, started=started, restart=recovery.restart)
            arrived = recovery.taken() if code == RESTART else None
            if arrived is None:
                return code
            return serve(env=env_for(arrived), guard=None, started=None)
        finally:
            recovery.stop()

    def stop(self) -> None:
        """The launcher is stopping (Ctrl-C, a failed step, the end): stop what still runs."""
        if self.download is not None:
            self.download.cancel()
        if self.recovery is not None:
            self.recovery.stop()


def _settle_after(
    settings: Any,
    options: PrefetchOptions,
    environment: dict[str, Any] | None,
    first: PrefetchResult,
) -> tuple[PrefetchResult, ModelSwitch | None]:
    from launcher.models.fetch import prefetch
    from launcher.models.location import CacheLocation
    from launcher.models.outcome import FALLBACK, READY, ST_PREFIX
    from launcher.models.statusfile import write_status
    from launcher.models.switch import last_used_model, settle_model

    status_file = settings.status_file
    before = last_used_model(status_file)
    if isinstance(options.cache, CacheLocation) and first.location == options.cache:
        options = replace(options, cache=replace(options.cache, warnings=[]))  # said already
    laid: PrefetchResult | None = None
    if first.state == READY:  # found in the cache now, under the backend's spelling
        laid = prefetch(options, status_file=status_file, environment=environment)
    elif first.state == FALLBACK and first.resolved and not first.resolved.startswith(ST_PREFIX):
        only = replace(
            options,
            model=first.resolved,
            fallback_model=None,
            offline=True,
            sentence_transformers=False,
        )
        laid = prefetch(only, status_file=status_file, environment=environment)
    result = merged(first, laid, require_model=bool(settings.require_model))
    write_status(status_file, model=result.to_json(), environment=environment)
    if result.error() is not None:
        return result, None
    switch = settle_model(
        status_file, result.to_json(), before, allow_switch=settings.allow_model_switch
    )
    return result, switch


def merged(
    first: PrefetchResult, laid: PrefetchResult | None, *, require_model: bool
) -> PrefetchResult:
    """One outcome for the status file from the background download (`first`) and the model
    step's layout of it (`laid`): the background's attempts, the layout's folder."""
    from launcher.models.outcome import DEGRADED, FAILED, READY

    if laid is None:
        return first
    if first.state == READY:
        if laid.source in ("cache", None) and laid.state == READY:
            return replace(laid, attempts=list(first.attempts), source=first.source)
        return replace(laid, attempts=[*first.attempts, *laid.attempts])
    if laid.state == READY:  # the fallback, laid out for the backend's fastembed
        return replace(first, path=laid.path, cache_dir=laid.cache_dir, location=laid.location)
    return replace(
        first,
        state=FAILED if require_model else DEGRADED,
        resolved=None,
        path=None,
        last_error=laid.last_error or first.last_error,
        attempts=[*first.attempts, *laid.attempts],
    )
