"""The outcome of a prefetch: its attempts, its result (the status file's `model`), its log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from launcher.errors import ModelError, StateFileError
from launcher.fileops import FileOps
from launcher.models.budget import HOW_TO_CHANGE
from launcher.models.location import CacheLocation
from launcher.models.statusfile import write_status

READY, FALLBACK, DEGRADED, FAILED = "ready", "fallback", "degraded", "failed"
ST_PREFIX = "sentence-transformers:"


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
        return dict(asdict(self), seconds=round(self.seconds, 3))


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
    budget_reason: str | None = None  # set when the step's budget ran out
    advice: str | None = None  # what to do, when not "run prefetch once the hub answers"

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


class RunLog:
    """One prefetch call's result so far and its status-file checkpoint."""

    def __init__(
        self,
        result: PrefetchResult,
        status_file: Path | None,
        environment: dict[str, Any] | None,
        ops: FileOps,
        sleep: Callable[[float], None],
    ) -> None:
        self.result = result
        self.status_file = status_file
        self.environment = environment
        self.ops = ops
        self.sleep = sleep
        self._status_warned = False

    def checkpoint(self) -> None:
        """Rewrite the status file (atomically). A failure to write it does not stop the
        download: it is logged here, and said (once, as an error) when the step settles."""
        if self.status_file is None:
            return
        try:
            write_status(
                self.status_file,
                model=self.result.to_json(),
                environment=self.environment,
                ops=self.ops,
            )
        except (OSError, StateFileError) as exc:
            if not self._status_warned:
                self._status_warned = True
                logger.debug(str(exc))

    def budget_ran_out(self, reason: str) -> None:
        """The step's budget ran out: that is the reason to report, with how to change it."""
        self.result.budget_reason = reason
        self.result.last_error = reason
        self.result.last_hint = HOW_TO_CHANGE
        self.result.advice = HOW_TO_CHANGE
        last = self.result.attempts[-1] if self.result.attempts else None
        if last is not None and not last.ok and reason not in str(last.error):
            last.error = f"{last.error}; {reason}"  # the status file says it too
        self.checkpoint()

    def record(self, attempt: Attempt, hint: str | None = None, *, skipped: bool = False) -> None:
        self.result.attempts.append(attempt)
        if not attempt.ok and not skipped and self.result.budget_reason is None:
            self.result.last_error = f"{attempt.model}: {attempt.error}"
            self.result.last_hint = hint or self.result.last_hint
        self.checkpoint()
