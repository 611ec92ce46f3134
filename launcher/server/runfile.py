"""The run file: which launcher runs this project's backend, so a later `up` recognises it.

`<project>/.robo-backend/run.json` is written once the backend process exists and removed when
the launcher stops it. Read as untrusted input: a process counts as ours only when pid, start
time and command-line digest all match (`is_ours`); anything else is stale, forgotten and
never signalled (docs/state-files.md).
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from launcher.fileops import atomic_write_text, read_state_json, state_pid, state_time

RUN_FILE = "run.json"
SCHEMA = 1
START_TOLERANCE = 0.01  # seconds: psutil's create_time as recorded and as read back


def _pid(value: Any) -> int:
    pid = state_pid(value)
    if pid is None:
        raise ValueError(f"not a pid: {value!r}")
    return pid


def _time(value: Any) -> float:
    when = state_time(value)
    if when is None:
        raise ValueError(f"not a time: {value!r}")
    return when


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not text: {value!r}")
    return value


@dataclass(frozen=True)
class RunRecord:
    """One `up` run as recorded in the run file."""

    launcher_pid: int
    launcher_started: float
    backend_pid: int
    backend_started: float
    url: str
    port: int
    started_at: float  # epoch seconds
    command: list[str]
    health_url: str = ""  # the route readiness was checked on, once known
    launcher_cmdline: str = ""  # sha256 of the launcher's command line ("" when unknown)
    backend_cmdline: str = ""  # sha256 of the backend's command line ("" when unknown)
    schema: int = SCHEMA

    @property
    def started_clock(self) -> str:
        """The local start time as HH:MM (with the date when it was not today)."""
        try:
            when = datetime.fromtimestamp(self.started_at)
        except (OverflowError, OSError, ValueError):  # a platform's own limits
            return "an unknown time"
        if when.date() == datetime.now().date():
            return when.strftime("%H:%M")
        return when.strftime("%Y-%m-%d %H:%M")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> RunRecord | None:
        """The record in `data`, or None when any value is not of the form we write."""
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            return None
        # the digests are absent in records of older launchers: such a record proves nothing
        data = {"health_url": "", "launcher_cmdline": "", "backend_cmdline": "", **data}
        data["health_url"] = data["health_url"] or ""
        pids = {key: state_pid(data.get(key)) for key in _PIDS}
        times = {key: state_time(data.get(key)) for key in _TIMES}
        texts = {key: data.get(key) for key in _TEXTS}
        command, port = data.get("command"), data.get("port")
        if None in pids.values() or None in times.values():
            return None
        if not isinstance(command, list):
            return None
        if not all(isinstance(value, str) for value in [*texts.values(), *command]):
            return None
        if isinstance(port, bool) or not isinstance(port, int) or port not in range(65536):
            return None
        # every value is checked above: mypy cannot see it through the dicts
        return cls(**pids, **times, **texts, port=port, command=list(command))  # type: ignore[arg-type]


_PIDS = ("launcher_pid", "backend_pid")
_TIMES = ("launcher_started", "backend_started", "started_at")
_TEXTS = ("url", "health_url", "launcher_cmdline", "backend_cmdline")


class RunState(enum.Enum):
    """What a run file says about the project's backend right now."""

    NONE = "none"  # no run file (or an unreadable one)
    STALE = "stale"  # recorded, but neither process is alive
    ORPHAN = "orphan"  # the backend is alive, its launcher is gone
    RUNNING = "running"  # the launcher is alive (and so, as far as we know, its backend)


def run_file(state_dir: Path) -> Path:
    return Path(state_dir) / RUN_FILE


def cmdline_digest(cmdline: list[str]) -> str:
    """A digest of a command line: enough to recognise it, nothing of it (secrets) on disk."""
    return hashlib.sha256("\0".join(cmdline).encode("utf-8", "surrogatepass")).hexdigest()


def identity(pid: int) -> tuple[float, str] | None:
    """Process `pid`'s start time (psutil's create_time) and command line digest, or None when
    it is gone, a zombie, or not ours to look at."""
    import psutil

    try:
        process = psutil.Process(pid)
        with process.oneshot():
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
            return float(process.create_time()), cmdline_digest(process.cmdline())
    except (psutil.Error, OSError, ValueError):
        return None


def is_ours(pid: int, started: float, cmdline: str) -> bool:
    """True only when `pid` runs and is provably the process recorded: same start time (not a
    reused pid) and same command line. Nothing unproven is ever signalled."""
    if not cmdline:
        return False
    found = identity(pid)
    if found is None:
        return False
    return abs(found[0] - started) <= START_TOLERANCE and found[1] == cmdline


def make_record(backend_pid: int, url: str, port: int, command: list[str]) -> RunRecord:
    """The record of this launcher running `backend_pid`."""
    me = identity(os.getpid()) or (0.0, "")
    backend = identity(backend_pid) or (0.0, "")
    return RunRecord(
        launcher_pid=os.getpid(),
        launcher_started=me[0],
        backend_pid=backend_pid,
        backend_started=backend[0],
        url=url,
        port=port,
        started_at=time.time(),
        command=list(command),
        launcher_cmdline=me[1],
        backend_cmdline=backend[1],
    )


def write_run(state_dir: Path, record: RunRecord) -> None:
    """Record the run; a state folder that cannot be written is logged, not fatal."""
    # imported on use: the early start (launcher/up/early.py) reads run files before logging
    from loguru import logger

    try:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_file(state_dir), json.dumps(record.to_json(), indent=2) + "\n")
    except OSError as exc:
        logger.warning(f"could not write the run file in {state_dir}: {exc}")


def read_run(state_dir: Path) -> RunRecord | None:
    """The run record, or None when there is none or it is not one we could have written (then
    it says nothing: a debug line names it, and the next `up` replaces it)."""
    path = Path(state_dir) / RUN_FILE
    if not os.path.lexists(path):
        return None
    record = RunRecord.from_json(read_state_json(path))
    if record is None:
        from loguru import logger

        logger.debug(f"ignoring the run file {path}: it is not one robo-backend wrote")
    return record


def remove_run(state_dir: Path, *, only_mine: bool = False) -> None:
    """Delete the run file; `only_mine`: only when this launcher wrote it (its pid and start
    time), so a run file of another `up` is never removed."""
    if only_mine:
        record, me = read_run(state_dir), identity(os.getpid())
        if record is None or me is None or record.launcher_pid != os.getpid():
            return
        if abs(record.launcher_started - me[0]) > START_TOLERANCE:
            return
    with contextlib.suppress(OSError):
        run_file(state_dir).unlink()


def inspect_run(record: RunRecord | None) -> RunState:
    if record is None:
        return RunState.NONE
    if is_ours(record.launcher_pid, record.launcher_started, record.launcher_cmdline):
        return RunState.RUNNING
    if is_ours(record.backend_pid, record.backend_started, record.backend_cmdline):
        return RunState.ORPHAN
    return RunState.STALE


def forget_run(record: RunRecord, state: RunState, state_dir: Path, *, windows: bool) -> None:
    """Forget the run of an `up` that is gone: its backend is stopped first when it still runs
    (an orphan: provably ours), then the run file is removed."""
    path = run_file(state_dir)
    if state is RunState.ORPHAN:
        from loguru import logger

        from launcher.server.tree import kill_tree

        logger.warning(
            f"the backend of an earlier `up` is still running at {record.url} (pid "
            f"{record.backend_pid}) but its launcher (pid {record.launcher_pid}) is gone: "
            "stopping it"
        )
        kill_tree(record.backend_pid, windows=windows)
    with contextlib.suppress(OSError):
        path.unlink()
