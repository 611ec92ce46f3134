"""The run file: what a later `up` and `status` learn from it, with real processes.

A live process stands for the backend or the launcher; an exited one for a process that is
gone; a live pid with another start time for a pid the system has reused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from launcher.server.report import backend_status
from launcher.server.runfile import (
    RunRecord,
    RunState,
    cmdline_digest,
    identity,
    inspect_run,
    make_record,
    read_run,
    remove_run,
    run_file,
    write_run,
)
from tests.helpers.cli import CliRunner


@pytest.fixture
def sleeper() -> Iterator[psutil.Process]:
    """A real foreign process, read only once it runs its own program (between fork and exec
    its command line is still the parent's)."""
    code = "import time; print('up', flush=True); time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "up\n"  # prints or dies
        yield psutil.Process(child.pid)
    finally:
        child.kill()
        child.wait(timeout=10)


Who = tuple[int, float, str]  # pid, start time, command line digest


def gone_process() -> Who:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(child.pid).create_time()
    child.wait(timeout=10)
    return child.pid, started, cmdline_digest([sys.executable, "-c", "pass"])


def who(pid: int) -> Who:
    found = identity(pid)
    assert found is not None
    return pid, found[0], found[1]


def record(launcher: Who, backend: Who) -> RunRecord:
    return RunRecord(
        launcher_pid=launcher[0],
        launcher_started=launcher[1],
        backend_pid=backend[0],
        backend_started=backend[1],
        url="http://127.0.0.1:8123",
        port=8123,
        started_at=1_700_000_000.0,
        command=["python", "-m", "uvicorn", "main:app"],
        launcher_cmdline=launcher[2],
        backend_cmdline=backend[2],
    )


def test_round_trip_and_what_is_not_a_run_file(tmp_path: Path, sleeper: psutil.Process) -> None:
    written = make_record(sleeper.pid, "http://127.0.0.1:8123", 8123, ["uvicorn", "main:app"])
    write_run(tmp_path / "state", written)
    assert read_run(tmp_path / "state") == written
    assert written.launcher_pid == os.getpid()
    assert written.backend_started == sleeper.create_time()
    for text in ("{not json", json.dumps({"schema": 99}), json.dumps({"schema": 1})):
        run_file(tmp_path / "state").write_text(text)
        assert read_run(tmp_path / "state") is None
    assert read_run(tmp_path / "nowhere") is None


def test_the_four_situations(sleeper: psutil.Process) -> None:
    me = who(os.getpid())
    backend = who(sleeper.pid)
    gone = gone_process()
    assert inspect_run(None) is RunState.NONE
    assert inspect_run(record(me, backend)) is RunState.RUNNING
    assert inspect_run(record(gone, backend)) is RunState.ORPHAN
    assert inspect_run(record(gone, gone)) is RunState.STALE
    # a pid that runs, but is not the process recorded (the system reused the number)
    reused = (sleeper.pid, sleeper.create_time() - 100, backend[2])
    assert inspect_run(record(gone, reused)) is RunState.STALE
    # the pid and start time match, the command line does not: not provably ours either
    renamed = (sleeper.pid, backend[1], cmdline_digest(["uvicorn", "main:app"]))
    assert inspect_run(record(gone, renamed)) is RunState.STALE


def test_a_launcher_removes_only_its_own_run_file(tmp_path: Path) -> None:
    other = record((os.getpid() + 1, 0.0, ""), (1, 0.0, ""))
    write_run(tmp_path, other)
    remove_run(tmp_path, only_mine=True)
    assert read_run(tmp_path) == other
    remove_run(tmp_path)
    assert not run_file(tmp_path).exists()


def test_status_of_an_orphan_with_no_health_answer(tmp_path: Path, sleeper: psutil.Process) -> None:
    write_run(tmp_path / ".robo-backend", record(gone_process(), who(sleeper.pid)))
    report = backend_status(
        tmp_path, tmp_path / ".robo-backend", tmp_path / ".robo-backend" / "status.json", "/health"
    )
    document = report.to_json()
    assert document["running"] is True and document["state"] == "orphan"
    assert document["launcher_alive"] is False
    assert document["backend_pid"] == sleeper.pid
    assert document["health"] == {
        "url": "http://127.0.0.1:8123/health",
        "status": None,
        "ok": False,
    }
    assert report.healthy is False


def test_status_command_reports_on_stdout_and_exits_1_when_not_running(
    tmp_path: Path, run_cli: CliRunner
) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "0"\n')
    (tmp_path / "main.py").write_text("app = object()\n")
    state = tmp_path / ".robo-backend"
    state.mkdir()
    (state / "status.json").write_text(
        json.dumps(
            {
                "schema": 1,
                "updated_at": "2026-01-01T00:00:00+00:00",
                "model": {
                    "state": "fallback",
                    "resolved": "sentence-transformers/all-MiniLM-L6-v2",
                },
                "environment": {},
            }
        )
    )
    env = {"ROBO_BACKEND_LOG_DIR": str(tmp_path / "logs")}
    done = run_cli("status", "-p", str(tmp_path), env=env)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "backend not running" in done.stdout
    assert "all-MiniLM-L6-v2 (fallback)" in done.stdout
    as_json = run_cli("status", "-p", str(tmp_path), "--json", env=env)
    document = json.loads(as_json.stdout)
    assert as_json.returncode == 1
    assert document["running"] is False and document["state"] == "none"
    assert document["model"]["state"] == "fallback"


GOOD = {
    "schema": 1,
    "launcher_pid": 4242,
    "launcher_started": 1_700_000_000.5,
    "backend_pid": 4243,
    "backend_started": 1_700_000_001.0,
    "url": "http://127.0.0.1:8123",
    "port": 8123,
    "started_at": 1_700_000_002.0,
    "command": ["python", "-m", "uvicorn", "main:app"],
    "launcher_cmdline": "a" * 64,
    "backend_cmdline": "b" * 64,
}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("launcher_pid", -5),
        ("backend_pid", 0),
        ("backend_pid", 2**64),
        ("backend_pid", True),
        ("backend_pid", "4243"),
        ("backend_pid", 4243.0),
        ("launcher_started", float("nan")),
        ("backend_started", float("inf")),
        ("backend_started", -1.0),
        ("started_at", 1e308),
        ("started_at", "yesterday"),
        ("port", 70000),
        ("port", "8123"),
        ("command", "python -m uvicorn"),
        ("command", [1, 2]),
        ("url", None),
        ("backend_cmdline", 7),
    ],
)
def test_a_record_with_any_value_not_of_our_form_is_no_record(key: str, value: object) -> None:
    assert RunRecord.from_json(GOOD) is not None
    assert RunRecord.from_json({**GOOD, key: value}) is None


def test_what_is_not_a_regular_run_file_reads_as_none_and_never_blocks(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    path = run_file(state)
    path.write_text(json.dumps(GOOD).replace("1700000000.5", "NaN"))
    assert read_run(state) is None  # NaN is not JSON
    path.write_text("[" * 100_000 + "]" * 100_000)
    assert read_run(state) is None  # nested past any depth
    path.write_bytes(b"\xff" + json.dumps(GOOD).encode())
    assert read_run(state) is None  # not UTF-8
    path.unlink()
    path.mkdir()
    assert read_run(state) is None
    remove_run(state)  # a folder where the file was: left, no error
    path.rmdir()
    if hasattr(os, "mkfifo"):
        os.mkfifo(path)  # reading a FIFO would wait for a writer forever
        assert read_run(state) is None
        path.unlink()
    (tmp_path / "elsewhere.json").write_text(json.dumps(GOOD))
    path.symlink_to(tmp_path / "elsewhere.json")
    assert read_run(state) is None  # a state file is never read through a symlink


def test_a_record_without_command_lines_proves_nothing(sleeper: psutil.Process) -> None:
    """A record as an older launcher wrote it (pid and start time only) names a live process:
    without its command line it is not provably ours, so it is stale, never an orphan."""
    old = record(gone_process(), who(sleeper.pid))
    assert inspect_run(old) is RunState.ORPHAN
    bare = RunRecord.from_json({k: v for k, v in old.to_json().items() if "cmdline" not in k})
    assert bare is not None and inspect_run(bare) is RunState.STALE
