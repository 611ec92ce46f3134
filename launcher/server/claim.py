"""One project, one running `up`: the claim taken before the server starts, and who holds it.

Two `up` of one project started together must not both serve it: both would pass the port
check, both would write the run file, and with `--port 0` both backends would run. So `up`
takes the project's claim first thing in its pre-flight: an OS file lock
(`<state folder>/up.lock`, filelock: flock / msvcrt) held for the life of the `up` process,
which the kernel releases when that process dies, even by kill -9. Next to it a small holder
file names the pid holding it (with its start time, so a reused pid is never taken for it).

The `up` that cannot take the claim exits 1 naming the other: "already running at URL" once
that one has written its run file, else "is starting it". Only the holder writes the run
file, and a launcher removes the run file only when it wrote it (its pid and start time).

The early start of a warm `up` (launcher/up/early.py) takes the claim before it starts its
backend, so nothing here imports logging or the launcher's heavier modules at import time.
The claim is re-entrant within one process: the early start's claim is the pipeline's.
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

if TYPE_CHECKING:
    from filelock import BaseFileLock

    from launcher.errors import ServerError
    from launcher.server.runfile import RunRecord

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

    def alive(self) -> bool:
        """The holder still runs (the same process: pid and start time). Only used to name it:
        nothing is ever signalled on this evidence."""
        from launcher.server.runfile import START_TOLERANCE, identity

        found = identity(self.pid)
        return found is not None and abs(found[0] - self.started) <= START_TOLERANCE


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
    """Give the claim up (the `up` is done with the project); the holder file goes with it."""
    path = _lock_path(state_dir)
    with _guard:
        lock = _held.pop(path, None)
    if lock is None:
        return
    if (holder := read_holder(state_dir)) is not None and holder.pid == os.getpid():
        with contextlib.suppress(OSError):
            (Path(state_dir) / HOLDER_FILE).unlink()
    with contextlib.suppress(OSError):
        lock.release()


def _own_start() -> float:
    """This process's start time, as the run file records it (psutil, not runfile: that one
    loads logging, which the early start must not wait for)."""
    import psutil

    try:
        return float(psutil.Process(os.getpid()).create_time())
    except (psutil.Error, OSError):
        return 0.0


def _write_holder(state_dir: Path) -> None:
    """Name this process as the holder (atomically: a temp file renamed into place)."""
    document = {"pid": os.getpid(), "started": _own_start(), "since": time.time()}
    target = state_dir / HOLDER_FILE
    temp = state_dir / f".{HOLDER_FILE}.{os.getpid()}.tmp"
    try:
        temp.write_text(json.dumps(document), encoding="utf-8")
        os.replace(temp, target)
    except OSError:
        with contextlib.suppress(OSError):
            temp.unlink()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def read_holder(state_dir: Path) -> Holder | None:
    """The holder file as untrusted input: None unless it is exactly what we write."""
    from launcher.fileops import read_state_json

    data = read_state_json(Path(state_dir) / HOLDER_FILE)
    if not isinstance(data, dict):
        return None
    pid, started, since = data.get("pid"), _number(data.get("started")), _number(data.get("since"))
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return None
    if started is None or since is None or started < 0 or since < 0:
        return None
    return Holder(pid, started, since)


def live_holder(state_dir: Path, wait: float = HOLDER_WAIT) -> Holder | None:
    """The live process holding the claim; waits up to `wait` seconds for a winner that took
    the lock a moment ago to name itself. None when none names itself in time."""
    deadline = time.monotonic() + wait
    while True:
        holder = read_holder(state_dir)
        if holder is not None and holder.alive():
            return holder
        if time.monotonic() >= deadline:
            return None
        time.sleep(_POLL)


def claim_project(state_dir: Path, *, windows: bool) -> None:
    """Take the project's claim, or raise ServerError (exit 1) naming the `up` that has it."""
    if not try_claim(state_dir):
        raise refusal(state_dir, windows=windows)


def refusal(state_dir: Path, *, windows: bool) -> ServerError:
    """The error for the `up` that lost the claim: where the other one serves, or that it is
    still setting up."""
    from launcher.server.runfile import RunState, inspect_run, read_run

    holder = live_holder(state_dir)
    record = read_run(state_dir)
    serving = record is not None and inspect_run(record) is RunState.RUNNING
    if record is not None and serving and (holder is None or holder.pid == record.launcher_pid):
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
        "Wait for it and use that one (`robo-backend status` shows it once it serves), or "
        f"stop it first ({_stop_hint(holder.pid if holder else None, windows)}).",
    )


def remove_own_run(state_dir: Path) -> None:
    """Delete the run file only when this launcher wrote it (its pid and start time): a run
    file of another `up` is never removed."""
    from launcher.server.runfile import read_run, run_file

    record = read_run(state_dir)
    if record is None or record.launcher_pid != os.getpid():
        return
    if abs(record.launcher_started - _own_start()) > 0.01:
        return
    with contextlib.suppress(OSError):
        run_file(state_dir).unlink()
