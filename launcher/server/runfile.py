"""The run file: which launcher runs this project's backend, so a later `up` recognises it.

`<project>/.robo-backend/run.json` is written (atomically) once the backend process exists and
removed when the launcher stops it. It holds both processes' pids with their start times (so a
reused pid is never mistaken for ours), the URL, the start time and the command. A later run
reads it and finds one of four situations: nothing recorded, a stale record (nothing alive),
an orphan (the backend alive, its launcher gone: killed with -9 on a platform where the guard
could not act), or a live launcher (the project is already running).
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

RUN_FILE = "run.json"
SCHEMA = 1


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
    schema: int = SCHEMA

    @property
    def started_clock(self) -> str:
        """The local start time as HH:MM (with the date when it was not today)."""
        when = datetime.fromtimestamp(self.started_at)
        if when.date() == datetime.now().date():
            return when.strftime("%H:%M")
        return when.strftime("%Y-%m-%d %H:%M")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> RunRecord | None:
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            return None
        try:
            return cls(
                launcher_pid=int(data["launcher_pid"]),
                launcher_started=float(data["launcher_started"]),
                backend_pid=int(data["backend_pid"]),
                backend_started=float(data["backend_started"]),
                url=str(data["url"]),
                port=int(data["port"]),
                started_at=float(data["started_at"]),
                command=[str(arg) for arg in data["command"]],
                health_url=str(data.get("health_url") or ""),
            )
        except (KeyError, TypeError, ValueError):
            return None


class RunState(enum.Enum):
    """What a run file says about the project's backend right now."""

    NONE = "none"  # no run file (or an unreadable one)
    STALE = "stale"  # recorded, but neither process is alive
    ORPHAN = "orphan"  # the backend is alive, its launcher is gone
    RUNNING = "running"  # the launcher is alive (and so, as far as we know, its backend)


def run_file(state_dir: Path) -> Path:
    return Path(state_dir) / RUN_FILE


def started_at(pid: int) -> float | None:
    """The start time of process `pid` (psutil's create_time), or None when it is gone."""
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, OSError):
        return None


def is_alive(pid: int, created: float) -> bool:
    """True when `pid` runs and is the process that started at `created` (not a reused pid)."""
    import psutil

    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - created) > 0.01:
            return False
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except (psutil.Error, OSError):
        return False


def make_record(backend_pid: int, url: str, port: int, command: list[str]) -> RunRecord:
    """The record of this launcher running `backend_pid`."""
    me = os.getpid()
    return RunRecord(
        launcher_pid=me,
        launcher_started=started_at(me) or 0.0,
        backend_pid=backend_pid,
        backend_started=started_at(backend_pid) or 0.0,
        url=url,
        port=port,
        started_at=time.time(),
        command=list(command),
    )


def write_run(state_dir: Path, record: RunRecord) -> None:
    """Record the run; a state folder that cannot be written is logged, not fatal."""
    # imported on use: the early start (launcher/up/early.py) reads run files before logging
    from loguru import logger

    from launcher.fileops import atomic_write_text

    try:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_file(state_dir), json.dumps(record.to_json(), indent=2) + "\n")
    except OSError as exc:
        logger.warning(f"could not write the run file in {state_dir}: {exc}")


def read_run(state_dir: Path) -> RunRecord | None:
    try:
        text = run_file(state_dir).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        return RunRecord.from_json(json.loads(text))
    except ValueError:
        return None


def remove_run(state_dir: Path, launcher_pid: int | None = None) -> None:
    """Delete the run file; with `launcher_pid`, only when that launcher wrote it."""
    if launcher_pid is not None:
        record = read_run(state_dir)
        if record is not None and record.launcher_pid != launcher_pid:
            return
    with contextlib.suppress(OSError):
        run_file(state_dir).unlink()


def inspect_run(record: RunRecord | None) -> RunState:
    if record is None:
        return RunState.NONE
    if is_alive(record.launcher_pid, record.launcher_started):
        return RunState.RUNNING
    if is_alive(record.backend_pid, record.backend_started):
        return RunState.ORPHAN
    return RunState.STALE
