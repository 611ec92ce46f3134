"""Download progress display: one Rich bar per model on a terminal, throttled lines elsewhere.

Pipes and CI logs get a plain line every 25 % or every 5 s, whichever comes first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from loguru import logger

from launcher.models.reporting import Progress
from launcher.ui.console import get_console, is_interactive
from launcher.values import format_bytes

PLAIN_STEP = 0.25  # a plain line at every quarter
PLAIN_INTERVAL = 5.0  # …or after this many seconds without one


class PlainProgress:
    """Log lines through loguru: `Downloading BGE model: 50% (2.0 of 4.0 MB, 1.3 MB/s)`."""

    def __init__(
        self,
        label: str,
        total: int,
        completed: int = 0,
        *,
        clock: Callable[[], float] = time.monotonic,
        emit: Callable[[str], None] | None = None,
    ) -> None:
        self.label = label
        self.total = max(total, 0)
        self.completed = completed
        self._clock = clock
        self._emit = emit or (lambda text: logger.info(text))
        self._started = clock()
        self._start_bytes = completed
        self._last_time = self._started
        self._last_step = self._step(completed)

    def _step(self, completed: int) -> int:
        if self.total <= 0:
            return 0
        return int(completed / self.total / PLAIN_STEP)

    def advance(self, nbytes: int) -> None:
        self.set_completed(self.completed + nbytes)

    def set_completed(self, nbytes: int) -> None:
        if nbytes < self.completed:  # a restart from zero: count quarters again
            self._last_step = self._step(nbytes)
        self.completed = nbytes
        now = self._clock()
        step = self._step(nbytes)
        if step > self._last_step or now - self._last_time >= PLAIN_INTERVAL:
            self._last_step = step
            self._last_time = now
            self._emit(self.line(now))

    def line(self, now: float | None = None) -> str:
        now = self._clock() if now is None else now
        elapsed = max(now - self._started, 1e-6)
        speed = max(self.completed - self._start_bytes, 0) / elapsed
        percent = 100.0 * self.completed / self.total if self.total else 100.0
        return (
            f"Downloading {self.label}: {percent:.0f}% ({format_bytes(self.completed)} of "
            f"{format_bytes(self.total)}, {format_bytes(speed)}/s)"
        )

    def close(self) -> None:
        return None


class RichProgress:
    """One Rich bar for the whole model: bytes, speed, ETA (on stderr, our console)."""

    def __init__(self, label: str, total: int, completed: int = 0) -> None:
        from rich import progress as rich

        self._bar: Any = rich.Progress(
            rich.TextColumn("{task.description}", markup=False),
            rich.BarColumn(),
            rich.DownloadColumn(),
            rich.TransferSpeedColumn(),
            rich.TimeRemainingColumn(),
            console=get_console(),
            transient=True,
        )
        self._task = self._bar.add_task(f"Downloading {label}", total=total, completed=completed)
        self._bar.start()

    def advance(self, nbytes: int) -> None:
        self._bar.advance(self._task, nbytes)

    def set_completed(self, nbytes: int) -> None:
        self._bar.update(self._task, completed=nbytes)

    def close(self) -> None:
        self._bar.stop()


@contextmanager
def model_progress(label: str, total: int, completed: int = 0) -> Iterator[Progress]:
    """The right progress display for this console: a bar on a TTY, plain lines otherwise."""
    reporter: RichProgress | PlainProgress
    reporter = (
        RichProgress(label, total, completed)
        if is_interactive()
        else PlainProgress(label, total, completed)
    )
    try:
        yield reporter
    finally:
        reporter.close()
