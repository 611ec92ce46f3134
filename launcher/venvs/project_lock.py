"""The per-project lock around venv creation and dependency sync, with its holder's pid.

An OS file lock, so a dead holder's lock is simply taken; a holder file names the pid for the
waiting message and `doctor`. Re-entrant within one process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout
from loguru import logger

from launcher.fileops import (
    atomic_write_text,
    clear_empty_dir,
    read_state_json,
    state_pid,
    state_time,
    write_problem,
)

LOCK_FILE = "env.lock"
HOLDER_FILE = "env.lock.holder.json"
WAIT_NOTICE = 0.5  # seconds before saying who we wait for
WAIT_LIMIT = 3600.0  # an install may take long; a lock held longer than this is an error

_held: dict[Path, tuple[FileLock, int]] = {}
_guard = threading.Lock()


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or last held) the lock: pid, what for, since when, and whether it lives."""

    pid: int
    purpose: str
    since: float
    alive: bool

    def describe(self) -> str:
        age = max(0.0, time.time() - self.since)
        return f"pid {self.pid} ({self.purpose}, for {age:.0f} s)"


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists (a zombie counts as gone)."""
    import psutil

    try:
        process = psutil.Process(pid)
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except (psutil.Error, OSError):
        return False


def read_holder(state_dir: Path) -> LockHolder | None:
    """The holder file, None when there is none or it is not one we could have written (it only
    names the holder for people: the OS lock is the truth)."""
    data = read_state_json(state_dir / HOLDER_FILE)
    if not isinstance(data, dict):
        return None
    pid = state_pid(data.get("pid"))
    since = state_time(data.get("since", 0))
    purpose = data.get("purpose", "")
    if pid is None or since is None or not isinstance(purpose, str):
        return None
    return LockHolder(pid, purpose, since, pid_alive(pid))


def lock_is_held(state_dir: Path) -> bool:
    """True when some process holds the lock right now (tries it without waiting)."""
    path = state_dir / LOCK_FILE
    if not path.exists():
        return False
    probe = FileLock(str(path), timeout=0, thread_local=False)
    try:
        probe.acquire(timeout=0)
    except Timeout:
        return True
    except OSError:
        return False
    probe.release()
    return False


def stale_holder(state_dir: Path) -> LockHolder | None:
    """A holder file left by a process that died holding the lock (None when not stale)."""
    holder = read_holder(state_dir)
    if holder is None or holder.alive or lock_is_held(state_dir):
        return None
    return holder


@contextlib.contextmanager
def env_lock(
    state_dir: Path,
    purpose: str,
    *,
    on_wait: Callable[[str], None] | None = None,
    limit: float = WAIT_LIMIT,
) -> Iterator[None]:
    """Hold the project's environment lock; waits (saying for whom) while another holds it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = (state_dir / LOCK_FILE).resolve()
    with _guard:
        entry = _held.get(path)
        if entry is not None:
            _held[path] = (entry[0], entry[1] + 1)
    if entry is not None:  # re-entered by the same process
        try:
            yield
        finally:
            _release(path)
        return
    clear_empty_dir(path)
    lock = FileLock(str(path), thread_local=False)
    with _sigterm_as_error(purpose):
        _acquire(lock, state_dir, purpose, on_wait or logger.info, limit)
        with _guard:
            _held[path] = (lock, 1)
        try:
            yield
        finally:
            _release(path)


@contextlib.contextmanager
def _sigterm_as_error(purpose: str) -> Iterator[None]:
    """While the venv is being set up, SIGTERM raises (exit 143) like Ctrl-C does (130), so the
    lock is released and markers stay consistent instead of the process vanishing mid-step."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield
        return

    def stop(signum: int, frame: object) -> None:
        from launcher.errors import VenvError

        raise VenvError(
            f"terminated (SIGTERM) while {purpose}",
            "Run `robo-backend up` again: it repairs what was left unfinished.",
            exit_code=143,
        )

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _take(lock: FileLock, timeout: float) -> bool:
    """Take the OS lock within `timeout` s (False: another holds it); a lock file that cannot be
    opened (a folder in its place, no permission) is a VenvError in plain words."""
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        return False
    except OSError as exc:
        from launcher.errors import VenvError

        raise VenvError(*write_problem(Path(lock.lock_file), exc)) from None
    return True


def _acquire(
    lock: FileLock, state_dir: Path, purpose: str, on_wait: Callable[[str], None], limit: float
) -> None:
    started = time.monotonic()
    if not _take(lock, WAIT_NOTICE):
        holder = read_holder(state_dir)
        who = holder.describe() if holder else "another process"
        on_wait(f"waiting for {who}: it is setting up this project's venv")
        if not _take(lock, max(0.0, limit - (time.monotonic() - started))):
            from launcher.errors import VenvError

            raise VenvError(
                f"the project's venv has been locked by {who} for over {limit:.0f} s",
                f"If that process is stuck, stop it; the lock is {state_dir / LOCK_FILE}.",
            )
    previous = read_holder(state_dir)
    if previous is not None and not previous.alive and previous.pid != os.getpid():
        logger.info(f"taking over the lock left by pid {previous.pid}, which is no longer running")
    document = {"pid": os.getpid(), "purpose": purpose, "since": time.time()}
    with contextlib.suppress(OSError):
        atomic_write_text(state_dir / HOLDER_FILE, json.dumps(document))


def _release(path: Path) -> None:
    with _guard:
        lock, count = _held[path]
        if count > 1:
            _held[path] = (lock, count - 1)
            return
        del _held[path]
    with contextlib.suppress(OSError):
        (path.parent / HOLDER_FILE).unlink()
    lock.release()
