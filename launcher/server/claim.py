"""One project, one running `up`: the claim taken before the server starts, and who holds it.

The claim is an OS file lock (`<state folder>/up.lock`) held for the life of `up`, released by
the kernel however the process ends; a holder file names its pid and start time. The `up` that
cannot take it exits 1 naming the other; the one that takes it settles the run file an earlier
`up` left (docs/supervision.md). Re-entrant within one process (the early start's claim is the
pipeline's); imports nothing heavy, for the early start.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from launcher.fileops import read_state_json, state_pid, state_time
from launcher.server.runfile import (
    START_TOLERANCE,
    RunRecord,
    RunState,
    forget_run,
    identity,
    inspect_run,
    read_run,
    remove_run,
)

if TYPE_CHECKING:
    from filelock import BaseFileLock

    from launcher.errors import ServerError

CLAIM_FILE = "up.lock"
HOLDER_FILE = "up.lock.holder.json"
HOLDER_WAIT = 1.0  # seconds a loser waits for the winner's holder file (written just after)
_POLL = 0.05

_held: dict[Path, BaseFileLock] = {}
_guard = threading.Lock()


@dataclass(frozen=True)
class Holder:
    """The `up` process that holds (or last held) a project's claim."""

    pid: int
    started: float  # the process's start time (psutil create_time)
    since: float  # when it took the claim (epoch seconds)

    @property
    def since_clock(self) -> str:
        return datetime.fromtimestamp(self.since).strftime("%H:%M")

    @classmethod
    def from_json(cls, data: Any) -> Holder | None:
        """The holder in `data` (untrusted): None unless it is exactly what we write."""
        if not isinstance(data, dict):
            return None
        pid, started = state_pid(data.get("pid")), state_time(data.get("started"))
        since = state_time(data.get("since"))
        if pid is None or started is None or since is None:
            return None
        return cls(pid, started, since)


def _lock_path(state_dir: Path) -> Path:
    return (Path(state_dir) / CLAIM_FILE).absolute()


def try_claim(state_dir: Path) -> bool:
    """Take the project's claim without waiting; True when this process holds it now (also
    when it already did), False when another process holds it. A state folder that cannot
    hold a lock at all (read-only) is no claim to fight over: True, the run goes on."""
    from filelock import FileLock, Timeout

    path = _lock_path(state_dir)
    with _guard:
        if path in _held:
            return True
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(path), timeout=0, thread_local=False)
            lock.acquire(timeout=0)
        except Timeout:
            return False
        except OSError:
            return True
        _held[path] = lock
    _write_holder(Path(state_dir))
    return True


def release(state_dir: Path) -> None:
    """Give the claim up (the `up` is done with the project): the run file goes when this
    launcher wrote it, the holder file with the claim."""
    remove_run(state_dir, only_mine=True)
    _unlock(state_dir)


def _unlock(state_dir: Path) -> None:
    """Release the lock this process holds, and remove the holder file it wrote with it."""
    with _guard:
        lock = _held.pop(_lock_path(state_dir), None)
    if lock is None:
        return
    with contextlib.suppress(OSError):
        (Path(state_dir) / HOLDER_FILE).unlink()
    with contextlib.suppress(OSError):
        lock.release()


def _write_holder(state_dir: Path) -> None:
    """Name this process as the holder (atomically: a temp file renamed into place)."""
    started = (identity(os.getpid()) or (0.0, ""))[0]
    document = {"pid": os.getpid(), "started": started, "since": time.time()}
    target = state_dir / HOLDER_FILE
    temp = state_dir / f".{HOLDER_FILE}.{os.getpid()}.tmp"
    try:
        temp.write_text(json.dumps(document), encoding="utf-8")
        os.replace(temp, target)
    except OSError:
        with contextlib.suppress(OSError):
            temp.unlink()


def read_holder(state_dir: Path) -> Holder | None:
    """The holder file as untrusted input: None unless it is exactly what we write."""
    return Holder.from_json(read_state_json(Path(state_dir) / HOLDER_FILE))


def live_holder(state_dir: Path, wait: float = HOLDER_WAIT) -> Holder | None:
    """The live process holding the claim; waits up to `wait` seconds for a winner that took
    the lock a moment ago to name itself. None when none names itself in time."""
    deadline = time.monotonic() + wait
    while True:
        holder = read_holder(state_dir)
        found = identity(holder.pid) if holder is not None else None
        if holder is not None and found and abs(found[0] - holder.started) <= START_TOLERANCE:
            return holder
        if time.monotonic() >= deadline:
            return None
        time.sleep(_POLL)


def claim_project(state_dir: Path, *, windows: bool) -> None:
    """Take the project's claim and settle the run file an earlier `up` left (an orphan is
    stopped, a stale record forgotten). Raises ServerError (exit 1) naming the `up` that serves
    the project or is starting it."""
    claimed = try_claim(state_dir)
    holder = None if claimed else live_holder(state_dir)
    record = read_run(state_dir)
    state = inspect_run(record)
    if claimed and state is not RunState.RUNNING:
        if record is not None:
            forget_run(record, state, state_dir, windows=windows)
        return
    if claimed:  # a launcher that takes no claim (an older version) serves the project
        _unlock(state_dir)
    raise refusal(record, state, holder, windows=windows)


def refusal(
    record: RunRecord | None, state: RunState, holder: Holder | None, *, windows: bool
) -> ServerError:
    """The error for an `up` that may not serve the project: where the other one serves, or
    that it is still setting up."""
    mine = holder is None or (record is not None and holder.pid == record.launcher_pid)
    if record is not None and state is RunState.RUNNING and mine:
        return already_running(record, windows=windows)
    return being_started(holder, windows=windows)


def _stop_hint(pid: int | None, windows: bool) -> str:
    if pid is None:
        return "Ctrl-C in its terminal"
    kill = "taskkill /PID" if windows else "kill"
    return f"Ctrl-C in its terminal, or `{kill} {pid}`"


def already_running(record: RunRecord, *, windows: bool) -> ServerError:
    """This project's backend runs, supervised by another `up`."""
    from launcher.errors import ServerError

    return ServerError(
        f"this project's backend is already running at {record.url} (pid "
        f"{record.backend_pid}, started {record.started_clock} by `up` pid "
        f"{record.launcher_pid})",
        f"Use that one, or stop it first ({_stop_hint(record.launcher_pid, windows)}); "
        "`robo-backend status` shows it.",
    )


def being_started(holder: Holder | None, *, windows: bool) -> ServerError:
    """Another `up` of this project holds the claim and has not started its backend yet."""
    from launcher.errors import ServerError

    who = f" (pid {holder.pid}, since {holder.since_clock})" if holder is not None else ""
    return ServerError(
        f"another `up` of this project{who} is starting its backend",
        "Wait for it and use that one (`robo-backend status` shows how it is doing), or "
        f"stop it first ({_stop_hint(holder.pid if holder else None, windows)}).",
    )
