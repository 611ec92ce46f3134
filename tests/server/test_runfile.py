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
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield psutil.Process(child.pid)
    finally:
        child.kill()
        child.wait(timeout=10)


def gone_process() -> tuple[int, float]:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(child.pid).create_time()
    child.wait(timeout=10)
    return child.pid, started


def record(launcher: tuple[int, float], backend: tuple[int, float]) -> RunRecord:
    return RunRecord(
        launcher_pid=launcher[0],
        launcher_started=launcher[1],
        backend_pid=backend[0],
        backend_started=backend[1],
        url="http://127.0.0.1:8123",
        port=8123,
        started_at=1_700_000_000.0,
        command=["python", "-m", "uvicorn", "main:app"],
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
    me = (os.getpid(), psutil.Process().create_time())
    backend = (sleeper.pid, sleeper.create_time())
    gone = gone_process()
    assert inspect_run(None) is RunState.NONE
    assert inspect_run(record(me, backend)) is RunState.RUNNING
    assert inspect_run(record(gone, backend)) is RunState.ORPHAN
    assert inspect_run(record(gone, gone)) is RunState.STALE
    # a pid that runs, but is not the process recorded (the system reused the number)
    reused = (sleeper.pid, sleeper.create_time() - 100)
    assert inspect_run(record(gone, reused)) is RunState.STALE


def test_a_launcher_removes_only_its_own_run_file(tmp_path: Path) -> None:
    other = record((os.getpid() + 1, 0.0), (1, 0.0))
    write_run(tmp_path, other)
    remove_run(tmp_path, os.getpid())
    assert read_run(tmp_path) == other
    remove_run(tmp_path)
    assert not run_file(tmp_path).exists()


def test_status_of_an_orphan_with_no_health_answer(tmp_path: Path, sleeper: psutil.Process) -> None:
    write_run(
        tmp_path / ".robo-backend", record(gone_process(), (sleeper.pid, sleeper.create_time()))
    )
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
