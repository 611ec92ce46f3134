"""Back to full strength by itself: fetch the missing model in the background, then restart onto it.

A degraded backend gets its model as soon as the hub answers again (retries with back-off); one
serving the fallback gets the main model under the model-switch rule. The status file's
`model.background` says what is happening; `background_model = false` turns it all off.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from loguru import logger

from launcher.up.background import JOIN_WAIT, Cancelled, Canceller

if TYPE_CHECKING:
    from launcher.models.options import PrefetchOptions
    from launcher.models.outcome import PrefetchResult

BACKOFF_FIRST = 2.0  # seconds before the first background try, doubled after each failed one
BACKOFF_MAX = 10.0  # ... up to this: a hub that answers again is used within ~10 s
STALL = 5.0  # seconds without a byte before a background try ends (the next one resumes it)
THREAD_NAME = "model-recovery"


def how_long(seconds: float) -> str:
    """`45 s`, `1 min 12 s`, `2 h 5 min`: a duration for people."""
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Recovery:
    """The background fetch of the main model for a backend serving degraded or the fallback."""

    def __init__(self, settings: Any, options: PrefetchOptions, serving: PrefetchResult) -> None:
        self.canceller = Canceller()
        self.wanted: str = settings.model
        self.serving = serving
        self.status_file = settings.status_file
        self.allow_switch = bool(settings.allow_model_switch)
        self.options = replace(
            options,
            model=settings.model,
            fallback_model=None,
            retries=1,
            stall_timeout=min(STALL, options.stall_timeout) if options.stall_timeout > 0 else STALL,
            budget=0.0,
            offline=False,
            require_model=False,
            sentence_transformers=False,
            progress=self.canceller.progress(None),
        )
        self.restart = threading.Event()  # serve() stops the backend for a restart when set
        self.arrived: PrefetchResult | None = None
        self.tries = 0
        self.since = time.monotonic()
        self.since_at = _now()
        self._thread = threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True)

    @property
    def degraded(self) -> bool:
        return self.serving.resolved is None

    @property
    def detail(self) -> str:
        """The model step's line while the background fetch is on."""
        if self.degraded:
            return (
                "no model: the backend runs DEGRADED, search answers 503; the download goes on "
                "in the background and the backend is restarted onto the model once it is there"
            )
        return (
            f"{self.serving.resolved} ({self.serving.state}); {self.wanted} is fetched in the "
            "background"
        )

    def start(self) -> Recovery:
        if self._thread.is_alive() or self.canceller.cancelled:
            return self
        quiet_background_logs()
        self._note({"state": "retrying", "tries": 0, "last_error": None})
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the background work (the launcher is stopping): partial files stay."""
        self.canceller.cancel()
        if self._thread.is_alive():
            self._thread.join(JOIN_WAIT)

    def taken(self) -> PrefetchResult | None:
        """The model to restart onto, once (the restart event cleared for the next serve())."""
        arrived, self.arrived = self.arrived, None
        self.restart.clear()
        return arrived

    # ------------------------------------------------------------------ the thread
    def _loop(self) -> None:
        delay = BACKOFF_FIRST
        try:
            while True:
                self.canceller.sleep(delay)
                result = self._try(delay)
                if result is not None:
                    self._arrive(result)
                    return
                delay = min(delay * 2, BACKOFF_MAX)
        except Cancelled:
            logger.debug("background model download stopped")
        except Exception as exc:  # noqa: BLE001 - the backend keeps serving; say why it stopped
            from launcher.ui import console

            logger.opt(exception=exc).debug("background model download failed")
            console.warn(
                f"the background download of {self.wanted} stopped: {exc}",
                "Run `robo-backend prefetch`, then restart `up`.",
            )

    def _try(self, delay: float) -> PrefetchResult | None:
        from launcher.models.fetch import prefetch
        from launcher.models.outcome import READY

        self.tries += 1
        result = prefetch(self.options, sleep=self.canceller.sleep)
        if result.state == READY:
            return result
        next_delay = min(delay * 2, BACKOFF_MAX)
        logger.debug(
            f"background download of {self.wanted}, try {self.tries}: {result.last_error}; "
            f"next try in {next_delay:g} s"
        )
        self._note({"state": "retrying", "tries": self.tries, "last_error": result.last_error})
        return None

    def _arrive(self, result: PrefetchResult) -> None:
        """The model is verified in the cache: restart onto it, or announce it (a refused
        switch)."""
        from launcher.models.switch import last_used_model, settle_model
        from launcher.ui import console

        waited = how_long(time.monotonic() - self.since)
        before = last_used_model(self.status_file)
        switching = bool(before) and str(before).lower() != self.wanted.lower()
        if switching and not self.allow_switch:
            self._note({"state": "refused", "tries": self.tries, "path": result.path})
            console.warn(
                f"model {self.wanted} downloaded in the background after {waited}; the backend "
                f"keeps serving {self.serving.resolved or 'without a model'}: "
                f"allow_model_switch = false refuses a switch from {before}",
                "Re-index your stored vectors and set allow_model_switch = true, then restart "
                "`up` to use it.",
            )
            return
        note = self._background({"state": "arrived", "tries": self.tries, "after": waited})
        switch = settle_model(
            self.status_file, dict(result.to_json(), background=note), before, allow_switch=True
        )
        how = "degraded" if self.degraded else f"on the fallback {self.serving.resolved}"
        console.line(
            "ok",
            f"model {self.wanted} downloaded after {waited} {how}: restarting the backend onto it",
        )
        if switch is not None:
            console.warn(switch.warning())
        self.arrived = result
        self.restart.set()

    def _background(self, fields: dict[str, Any]) -> dict[str, Any]:
        return {"model": self.wanted, "since": self.since_at, **fields, "updated_at": _now()}

    def _note(self, fields: dict[str, Any]) -> None:
        """Write `model.background` into the status file (the rest of it as it is)."""
        from launcher.models.statusfile import read_status, write_status

        try:
            document = read_status(self.status_file) or {}
            model = document.get("model")
            if not isinstance(model, dict):
                return
            write_status(self.status_file, model=dict(model, background=self._background(fields)))
        except OSError as exc:
            logger.debug(f"could not note the background download in the status file: {exc}")


def recovery_for(
    settings: Any, options: PrefetchOptions, result: PrefetchResult
) -> Recovery | None:
    """A Recovery when the backend will serve without the main model and may wait for it
    (not offline, not `--no-prefetch`, `background_model` on, a writable cache); else None."""
    from launcher.models.location import CacheLocation
    from launcher.models.outcome import DEGRADED, FALLBACK

    if result.state not in (DEGRADED, FALLBACK):
        return None
    if not settings.background_model or not settings.prefetch or options.offline:
        return None
    if isinstance(options.cache, CacheLocation) and not options.cache.writable:
        return None
    return Recovery(settings, options, result)


@functools.cache  # installed once
def quiet_background_logs() -> None:
    """The background tries' own messages (warnings of a hub that is still away) are debug
    messages: shown with `-v` and in the log file, not at normal verbosity."""
    debug = logger.level("DEBUG")

    def demote(record: Any) -> None:
        if record["thread"].name == THREAD_NAME and record["level"].no > debug.no:
            record["message"] = f"[background] {record['message']}"
            record["level"] = type(record["level"])(debug.name, debug.no, debug.icon)

    logger.configure(patcher=demote)
