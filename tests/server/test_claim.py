"""The project's claim: held by one process, named to the others, gone with its holder.

Real processes hold the claim (a small script taking it the way `up` does); the two-`up`
rounds with the real launcher are in test_one_up_per_project.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from launcher.errors import ServerError
from launcher.server.claim import HOLDER_FILE, claim_project, read_holder, release, try_claim
from launcher.server.runfile import make_record, read_run, run_file, write_run
from launcher.up.early import Launch, remember, request_key, start_early
from tests.helpers.cli import CliRunner
from tests.helpers.up_run import free_port

REPO = Path(__file__).resolve().parents[2]
HOLD = """\
import os, sys, time
from pathlib import Path
from launcher.server.claim import try_claim
from launcher.server.runfile import make_record, write_run
state = Path(sys.argv[1])
print("held" if try_claim(state) else "refused", flush=True)
if sys.argv[2] == "serving":
    write_run(state, make_record(os.getpid(), "http://127.0.0.1:8123", 8123, ["uvicorn"]))
    print("serving", flush=True)
time.sleep(60)
"""


class Holder:
    """Another process that took the project's claim (and, serving, wrote its run file)."""

    def __init__(self, state: Path, serving: bool = False) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(state), "serving" if serving else "setting-up"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.popen.stdout is not None
        assert self.popen.stdout.readline().strip() == "held"
        if serving:
            assert self.popen.stdout.readline().strip() == "serving"

    @property
    def pid(self) -> int:
        return self.popen.pid

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=30)


def refused(state: Path, *, windows: bool) -> ServerError:
    """The error `up` exits with when it cannot take the claim."""
    with pytest.raises(ServerError) as caught:
        claim_project(state, windows=windows)
    return caught.value


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / ".robo-backend"
    yield folder
    release(folder)  # whatever this process took


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_the_claim_is_refused_naming_its_holder_and_freed_when_the_holder_is_killed(
    state: Path,
) -> None:
    holder = Holder(state)
    try:
        assert not try_claim(state)
        error = refused(state, windows=False)
        assert error.exit_code == 1
        assert f"another `up` of this project (pid {holder.pid}, since " in error.message
        assert "is starting its backend" in error.message
        assert f"`kill {holder.pid}`" in error.hint
    finally:
        holder.kill()  # kill -9: the kernel releases the lock
    assert try_claim(state)
    mine = read_holder(state)
    assert mine is not None and mine.pid == os.getpid()
    release(state)
    assert not (state / HOLDER_FILE).exists()


def test_a_serving_holder_is_named_with_its_url(state: Path) -> None:
    holder = Holder(state, serving=True)
    try:
        error = refused(state, windows=True)
        assert error.message.startswith(
            "this project's backend is already running at http://127.0.0.1:8123 (pid "
            f"{holder.pid}, started "
        ), error.message
        assert f"by `up` pid {holder.pid})" in error.message
        assert f"`taskkill /PID {holder.pid}`" in error.hint
    finally:
        holder.kill()


@pytest.mark.parametrize(
    "content",
    [
        "",
        "{",
        '{"pid": -4, "started": 1, "since": 1}',
        '{"pid": 1, "started": NaN, "since": 1}',
        '{"pid": true, "started": 1, "since": 1}',
        "[" * 100 + "]" * 100,
        "\udcff",
    ],
    ids=["empty", "cut", "negative-pid", "nan", "bool-pid", "deep", "not-utf8"],
)
def test_a_holder_file_that_is_not_ours_names_nobody(state: Path, content: str) -> None:
    state.mkdir(parents=True)
    (state / HOLDER_FILE).write_bytes(content.encode("utf-8", "surrogateescape"))
    assert read_holder(state) is None


def test_a_holder_file_of_a_dead_process_names_nobody(state: Path) -> None:
    state.mkdir(parents=True)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    holder = Holder(state)  # holds the lock; its holder file then names a dead process
    try:
        (state / HOLDER_FILE).write_text(
            json.dumps({"pid": int(gone.stdout), "started": 1.0, "since": 1.0}), encoding="utf-8"
        )
        error = refused(state, windows=False)
    finally:
        holder.kill()
    assert error.message == "another `up` of this project is starting its backend"


def test_a_launcher_removes_only_the_run_file_it_wrote(state: Path) -> None:
    other = Holder(state, serving=True)  # another launcher's run file
    try:
        release(state)
        record = read_run(state)
        assert record is not None and record.launcher_pid == other.pid
    finally:
        other.kill()
    reused = make_record(os.getpid(), "http://127.0.0.1:1", 1, ["uvicorn"])
    write_run(state, type(reused)(**{**reused.to_json(), "launcher_started": 12.0}))
    release(state)  # our pid, but not our start time: a pid reused, not our file
    assert run_file(state).exists()
    write_run(state, reused)
    release(state)
    assert not run_file(state).exists()


def test_no_early_start_while_another_up_holds_the_claim(tmp_path: Path, state: Path) -> None:
    """A warm `up` starts its backend before its checks; not when another `up` of the project
    holds the claim (both backends would race for the port)."""
    port = free_port()
    env = dict(os.environ)
    key = request_key(tmp_path, ["up", "--port", str(port)], env)
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    launch = Launch(sleeper, env, str(tmp_path), "127.0.0.1", port)
    state.mkdir(parents=True)
    remember(state, key, launch, env, [str(tmp_path)])
    holder = Holder(state)
    try:
        assert start_early(state, key, env) is None
    finally:
        holder.kill()
    early = start_early(state, key, env)  # the claim is free again: it starts
    assert early is not None
    try:
        assert psutil.Process(early.popen.pid).cmdline() == sleeper
    finally:
        early.abandon()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_status_names_an_up_that_is_still_setting_up(tmp_path: Path, run_cli: CliRunner) -> None:
    """While the winning `up` installs or downloads, `status` names it instead of saying
    "not running"; once it is gone, "not running" again."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "0"\n')
    (tmp_path / "main.py").write_text("app = object()\n")
    env = {"ROBO_BACKEND_LOG_DIR": str(tmp_path / "logs")}
    holder = Holder(tmp_path / ".robo-backend")
    try:
        done = run_cli("status", "-p", str(tmp_path), env=env)
        assert done.returncode == 1, done.stderr
        assert f"starting: `up` (pid {holder.pid}) has been setting up since" in done.stdout
        document = json.loads(run_cli("status", "-p", str(tmp_path), "--json", env=env).stdout)
        assert document["running"] is False
        assert document["starting"]["launcher_pid"] == holder.pid
    finally:
        holder.kill()
    done = run_cli("status", "-p", str(tmp_path), env=env)
    assert "backend not running" in done.stdout and "starting" not in done.stdout
    document = json.loads(run_cli("status", "-p", str(tmp_path), "--json", env=env).stdout)
    assert document["starting"] is None
