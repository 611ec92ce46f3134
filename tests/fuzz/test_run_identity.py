"""Nothing is signalled unless its identity is proven: what `up` and `status` make of a run
file that names a process no launcher started (a real `sleep`, the stranger).

A process is the project's only when its pid, its start time and its command line all match the
record. A NaN start time, a negative pid, or a pid whose start time matches but whose command
line does not: the record is stale, forgotten, and the stranger lives. The one process `up`
does stop is a proven orphan of its own project.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from tests.fuzz.conftest import BACKEND_EXITED, Prepared, Result


def cmdline_digest(cmdline: list[str]) -> str:
    """How the run file records a command line: the sha256 of its arguments joined by NUL."""
    return hashlib.sha256("\0".join(cmdline).encode("utf-8", "surrogatepass")).hexdigest()


@pytest.fixture
def stranger() -> Iterator[psutil.Process]:
    """A process of another program (started here, so it can be cleaned up by pid)."""
    child = subprocess.Popen(["sleep", "60"], stdin=subprocess.DEVNULL)
    try:
        yield psutil.Process(child.pid)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=10)


def alive(process: psutil.Process) -> bool:
    """Running, and not a zombie (a killed child of ours stays one until it is waited for)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def gone() -> dict[str, Any]:
    """The identity of a launcher that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(child.pid).create_time()
    child.wait(timeout=10)
    return {
        "launcher_pid": child.pid,
        "launcher_started": started,
        "launcher_cmdline": cmdline_digest([sys.executable, "-c", "pass"]),
    }


def as_backend(process: psutil.Process) -> dict[str, Any]:
    return {
        "backend_pid": process.pid,
        "backend_started": process.create_time(),
        "backend_cmdline": cmdline_digest(process.cmdline()),
    }


def plant(ready: Prepared, **fields: Any) -> None:
    """A run file as `up` writes one (schema 1), with `fields` over it; NaN written as NaN."""
    record: dict[str, Any] = {
        "schema": 1,
        "url": "http://127.0.0.1:9",
        "port": 9,
        "started_at": time.time() - 60,
        "command": ["python", "-m", "uvicorn", "main:app"],
        **fields,
    }
    ready.state.mkdir(exist_ok=True)
    (ready.state / "run.json").write_text(json.dumps(record), encoding="utf-8")


def plain(done: Result) -> Result:
    assert "Traceback" not in done.output, done.output
    assert "internal error" not in done.output, done.output
    return done


def status_says_not_running(ready: Prepared) -> None:
    done = plain(ready.run("status", "-p", str(ready.project), "--json"))
    assert done.code == 1
    assert json.loads(done.stdout)["running"] is False


def up_proceeds(ready: Prepared) -> Result:
    done = plain(ready.up(offline=True))
    assert "already running" not in done.stderr, done.output
    assert BACKEND_EXITED in done.stderr, done.output  # it got as far as starting its own
    return done


@pytest.fixture
def ready(prepared: Prepared) -> Iterator[Prepared]:
    yield prepared
    (prepared.state / "run.json").unlink(missing_ok=True)


def test_a_nan_backend_start_time_never_makes_a_stranger_our_orphan(
    ready: Prepared, stranger: psutil.Process
) -> None:
    plant(ready, **gone(), **dict(as_backend(stranger), backend_started=float("nan")))
    status_says_not_running(ready)
    done = up_proceeds(ready)
    assert "stopping it" not in done.stderr
    assert alive(stranger), "up killed a process it did not start"


def test_a_nan_launcher_start_time_does_not_make_up_refuse(
    ready: Prepared, stranger: psutil.Process
) -> None:
    launcher = {"launcher_pid": stranger.pid, "launcher_started": float("nan")}
    plant(ready, **launcher, **as_backend(stranger))
    status_says_not_running(ready)
    up_proceeds(ready)
    assert alive(stranger)


def test_a_negative_pid_is_a_stale_record(ready: Prepared) -> None:
    plant(ready, **dict(gone(), launcher_pid=-5), backend_pid=-3, backend_started=1.0)
    status_says_not_running(ready)
    up_proceeds(ready)


def test_a_matching_pid_and_start_time_are_not_enough_without_the_command_line(
    ready: Prepared, stranger: psutil.Process
) -> None:
    """A record of schema 1 as an older launcher wrote it (no command line), or one whose
    command line is another program's: the stranger is not ours, whatever else matches."""
    for cmdline in ({}, {"backend_cmdline": cmdline_digest(["uvicorn", "main:app"])}):
        backend = {**as_backend(stranger), **cmdline}
        if not cmdline:
            del backend["backend_cmdline"]
        plant(ready, **gone(), **backend)
        status_says_not_running(ready)
        done = up_proceeds(ready)
        assert "stopping it" not in done.stderr
        assert alive(stranger), f"up killed a stranger recorded as {backend}"


def test_a_proven_orphan_of_the_project_is_still_stopped(
    ready: Prepared, stranger: psutil.Process
) -> None:
    """The control: every part of the identity matches, the launcher is gone. `status` reports
    the orphan and `up` stops it (it is ours) before starting its own backend."""
    plant(ready, **gone(), **as_backend(stranger))
    done = plain(ready.run("status", "-p", str(ready.project), "--json"))
    assert json.loads(done.stdout)["state"] == "orphan"
    done = up_proceeds(ready)
    assert f"(pid {stranger.pid})" in done.stderr and "stopping it" in done.stderr
    deadline = time.monotonic() + 10
    while alive(stranger):
        assert time.monotonic() < deadline, "the proven orphan was not stopped"
        time.sleep(0.1)
