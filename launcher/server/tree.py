"""Stop a process tree: stop signals routed to a flag, the gentle-then-hard stop, the tree kill.

POSIX: SIGINT, grace, SIGTERM, grace, SIGKILL to the group and to remembered descendants that
left it (by pid + start time, so a reused pid is never touched); Windows: CTRL_BREAK_EVENT, grace,
`taskkill /T /F`. `kill_tree(pid)` is the same stop for any process the launcher started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

from loguru import logger

from launcher import proc
from launcher.errors import EXIT_HANGUP, EXIT_INTERRUPTED, EXIT_TERMINATED

if TYPE_CHECKING:
    import psutil

WINDOWS = sys.platform == "win32"

# Stop sequence budget: the whole tree is gone within STOP_BUDGET seconds (< 10 s promised).
INT_GRACE = 5.0  # after SIGINT / CTRL_BREAK_EVENT: uvicorn's graceful shutdown
TERM_GRACE = 2.5  # after SIGTERM
KILL_WAIT = 1.0  # after SIGKILL, for the kernel to tear the processes down
LEFTOVER_GRACE = 0.5  # group members still alive once the leader is gone
POLL = 0.1  # how often a waiting loop looks at the child and the stop flag
DESCENDANT_REFRESH = 1.0  # how often the tree of the child is re-read


class StopFlag:
    """Set from signal handlers: a plain attribute, since a lock taken in a handler
    (threading.Event.set) can deadlock the interrupted main thread."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.hurry = False  # a second Ctrl-C: skip the grace periods
        self.console_lost = False  # the terminal/pipes went away: stop quietly

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            self.hurry = True
        else:
            self.signum = signum
        if signum == getattr(signal, "SIGHUP", -1):
            self.console_lost = True

    def lose_console(self) -> None:
        """stdout/stderr are gone (a closed pipe, a dead terminal): stop like a hangup."""
        self.console_lost = True
        if self.signum is None:
            self.signum = getattr(signal, "SIGHUP", signal.SIGINT)

    @property
    def exit_code(self) -> int:
        """130 for Ctrl-C, 129 for a hangup or a lost console, 143 for SIGTERM."""
        if self.console_lost:
            return EXIT_HANGUP
        if self.signum == getattr(signal, "SIGTERM", None) and not WINDOWS:
            return EXIT_TERMINATED
        return EXIT_INTERRUPTED

    @property
    def reason(self) -> str:
        if self.console_lost:
            return "the console was closed (hangup)"
        names = {signal.SIGINT: "Ctrl-C", getattr(signal, "SIGTERM", -1): "SIGTERM"}
        return names.get(self.signum or 0, f"signal {self.signum}")


@contextmanager
def stop_signals_to(flag: StopFlag) -> Iterator[None]:
    """Route Ctrl-C/SIGTERM (and SIGHUP: a closed terminal) to `flag` while the child runs,
    then restore what was there. Never SIG_IGN: children would inherit it."""
    previous: list[tuple[signal.Signals, Any]] = []
    if threading.current_thread() is threading.main_thread():
        last = "SIGBREAK" if WINDOWS else "SIGHUP"
        for sig in [getattr(signal, n) for n in ("SIGINT", "SIGTERM", last) if hasattr(signal, n)]:
            try:
                previous.append((sig, signal.signal(sig, flag)))
            except (OSError, ValueError):  # pragma: no cover - platform refuses the signal
                continue
    else:  # pragma: no cover - signals can only be handled in the main thread
        logger.debug("supervising outside the main thread: Ctrl-C is not intercepted")
    try:
        yield
    finally:
        for sig, handler in reversed(previous):
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


class ProcessTree:
    """A child started in its own process group, and what we know of its descendants."""

    def __init__(
        self,
        pid: int,
        poll: Callable[[], int | None],
        *,
        hurry: Callable[[], bool] = lambda: False,
        windows: bool = WINDOWS,
    ) -> None:
        self.pid = pid
        self.poll = poll
        self.hurry = hurry
        self.windows = windows
        self.known: dict[int, psutil.Process] = {}
        self._refreshed = 0.0

    def remember(self, force: bool = False) -> list[int]:
        """Record the child's descendants by pid + start time (once re-parented they cannot be
        found); the pids seen for the first time."""
        now = time.monotonic()
        if not force and now - self._refreshed < DESCENDANT_REFRESH:
            return []
        self._refreshed = now
        import psutil

        new: list[int] = []
        try:
            root = psutil.Process(self.pid)
            for process in [root, *root.children(recursive=True)]:
                if process.pid not in self.known:
                    self.known[process.pid] = process
                    new.append(process.pid)
        except (psutil.Error, OSError):
            pass
        return new

    def wait(self, seconds: float) -> bool:
        """Wait up to `seconds` for the child to exit; False early when asked to hurry."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.poll() is not None:
                return True
            if self.hurry():
                return False
            time.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
        return self.poll() is not None

    def stop(self) -> None:
        """Stop the child and every process it started, gently first, in < 10 s."""
        self.remember(force=True)
        if self.windows:  # pragma: no cover - exercised on Windows only
            self._stop_windows()
        else:
            self._stop_posix()
        self._kill_known()

    def _signal_group(self, sig: int) -> bool:
        try:
            os.killpg(self.pid, sig)  # the group id is the child's pid (its own session)
            return True
        except (ProcessLookupError, PermissionError):
            return False

    def _stop_posix(self) -> None:
        if self.poll() is None:
            for sig, grace in ((signal.SIGINT, INT_GRACE), (signal.SIGTERM, TERM_GRACE)):
                if self.hurry():
                    break
                logger.debug(f"sending {sig.name} to process group {self.pid}")
                self._signal_group(sig)
                if self.wait(grace):
                    break
            if self.poll() is None:
                logger.debug(f"sending SIGKILL to process group {self.pid}")
                self._signal_group(signal.SIGKILL)
                self.wait(KILL_WAIT)
        # The leader is gone; members of its group may not be (a --reload worker whose
        # supervisor was killed). Ask them to stop, then kill what is left.
        if self._signal_group(signal.SIGTERM):
            deadline = time.monotonic() + LEFTOVER_GRACE
            while time.monotonic() < deadline and self._signal_group(0):
                time.sleep(0.05)
            self._signal_group(signal.SIGKILL)

    def _stop_windows(self) -> None:  # pragma: no cover - exercised on Windows only
        if self.poll() is None:
            try:
                os.kill(self.pid, signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
            except OSError as exc:
                logger.debug(f"CTRL_BREAK_EVENT failed: {exc}")
            self.wait(INT_GRACE)
        # taskkill /T walks the tree from the pid; needed even when the leader exited,
        # for the grandchildren still running.
        result = proc.run(["taskkill", "/T", "/F", "/PID", str(self.pid)], timeout=10)
        logger.debug(f"taskkill: {result.returncode} {result.tail(3)}")
        self.wait(KILL_WAIT)

    def _kill_known(self) -> None:
        """Kill remembered descendants still running (they left the group or were re-parented);
        psutil checks the start time, so a reused pid is left alone."""
        alive = [p for pid, p in self.known.items() if pid != self.pid and _running(p)]
        if alive:
            logger.debug(f"killing leftover pids {[p.pid for p in alive]}")
            _kill(alive)


def _running(process: psutil.Process) -> bool:
    import psutil

    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except (psutil.Error, OSError):
        return False


def kill_tree(pid: int, *, grace: float = TERM_GRACE, windows: bool = WINDOWS) -> None:
    """Stop `pid` and its descendants: SIGTERM (taskkill /T on Windows), `grace` s, then SIGKILL.
    For any child the launcher started; a pid already gone is not an error."""
    import psutil

    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except (psutil.Error, OSError):
        return
    if windows:  # pragma: no cover - exercised on Windows only
        proc.run(["taskkill", "/T", "/F", "/PID", str(pid)], timeout=10)
    else:
        for process in tree:
            with contextlib.suppress(psutil.Error, OSError):
                process.terminate()
    _kill(psutil.wait_procs(tree, timeout=grace)[1])


def _kill(processes: list[psutil.Process]) -> None:
    """SIGKILL each (one already gone is fine), then wait for them to go."""
    import psutil

    for process in processes:
        with contextlib.suppress(psutil.Error, OSError):
            process.kill()
    psutil.wait_procs(processes, timeout=KILL_WAIT)


def exit_code(returncode: int) -> int:
    """The process exit code as a shell reports it: killed by signal N → 128 + N."""
    return 128 + -returncode if returncode < 0 else returncode
