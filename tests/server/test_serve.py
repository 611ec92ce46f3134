"""serve(): a real uvicorn child, the health gate, stopping the whole tree, exit codes.

Signal paths are exercised for real: a driver process (driver.py) calls serve() the way `up`
does, and the test sends SIGINT/SIGTERM to that driver, then uses psutil to check that no
process of the tree survived.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from launcher import console
from launcher.errors import ServerError
from launcher.server import check_port, pick_free_port, serve
from tests.processes import alive, kill_all

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signal paths")

HERE = Path(__file__).parent
REPO = HERE.parent.parent


def uvicorn_argv(port: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "asgi_app:app",
        "--app-dir",
        str(HERE),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *extra,
    ]


class Driver:
    """driver.py in a subprocess; stdout lines arrive on a queue, stderr goes to a file."""

    def __init__(self, tmp_path: Path, config: dict[str, object]) -> None:
        self.stderr_path = tmp_path / "driver.stderr"
        self.stderr_file = self.stderr_path.open("wb")
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO)
        self.popen = subprocess.Popen(
            [sys.executable, str(HERE / "driver.py"), json.dumps(config)],
            stdout=subprocess.PIPE,
            stderr=self.stderr_file,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=tmp_path,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.tree: list[psutil.Process] = []

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for raw in iter(self.popen.stdout.readline, b""):
            self.lines.put(raw.decode().rstrip())

    def expect(self, prefix: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.popen.poll() is not None and self.lines.empty():
                    break
                continue
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no {prefix!r} line; stderr:\n{self.stderr()}")

    def remember_tree(self) -> list[psutil.Process]:
        root = psutil.Process(self.popen.pid)
        self.tree = [root, *root.children(recursive=True)]
        return self.tree

    def stderr(self) -> str:
        self.stderr_file.flush()
        return self.stderr_path.read_text(errors="replace")

    def close(self) -> None:
        kill_all(self.tree)
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=10)
        self.stderr_file.close()


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[type[Driver]]:
    started: list[Driver] = []

    class Tracked(Driver):
        def __init__(self, config: dict[str, object]) -> None:
            super().__init__(tmp_path, config)
            started.append(self)

    yield Tracked  # type: ignore[misc]
    for item in started:
        item.close()


def config(tmp_path: Path, port: int, *extra: str, env: dict[str, str] | None = None) -> dict:
    return {
        "argv": uvicorn_argv(port, *extra),
        "cwd": str(tmp_path),
        "url": f"http://127.0.0.1:{port}",
        "health_url": f"http://127.0.0.1:{port}/health",
        "ready_timeout": 30,
        "env": env or {},
    }


@pytest.mark.parametrize(
    ("sig", "extra"),
    [
        (signal.SIGINT, ()),
        (signal.SIGTERM, ()),
        (signal.SIGINT, ("--reload",)),
    ],
    ids=["sigint", "sigterm", "sigint-reload"],
)
def test_signal_stops_the_whole_tree_and_exits_130(
    driver: type[Driver], tmp_path: Path, sig: signal.Signals, extra: tuple[str, ...]
) -> None:
    port = pick_free_port("127.0.0.1")
    run = driver(config(tmp_path, port, *extra))
    run.expect("READY")
    tree = run.remember_tree()
    # driver + uvicorn (+ with --reload: the reloader's worker)
    assert len(tree) >= (3 if extra else 2), [p.cmdline() for p in tree]
    run.popen.send_signal(sig)
    assert run.popen.wait(timeout=20) == 130
    assert run.expect("EXIT") == "EXIT 130"
    deadline = time.monotonic() + 5  # the driver reaped its child; let the kernel settle
    while alive(tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive(tree) == [], [p.pid for p in alive(tree)]
    err = run.stderr()
    assert "stopping the backend" in err
    assert "tiny app: startup" in err  # the backend's own log streamed through


def test_ready_only_after_health_answered_200(tmp_path: Path) -> None:
    """on_ready fires once, after /health turned from 503 to 200; SIGINT then stops it."""
    port = pick_free_port("127.0.0.1")
    log = tmp_path / "health.log"
    env = dict(os.environ, HEALTH_LOG=str(log), HEALTHY_AFTER="3")
    calls: list[tuple[str, int, list[str]]] = []

    def on_ready(url: str, pid: int) -> None:
        calls.append((url, pid, log.read_text().split()))
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C as soon as it is ready

    previous = signal.getsignal(signal.SIGINT)
    code = serve(
        uvicorn_argv(port),
        env=env,
        cwd=tmp_path,
        url=f"http://127.0.0.1:{port}",
        health_url=f"http://127.0.0.1:{port}/health",
        ready_timeout=30,
        on_ready=on_ready,
    )
    assert code == 130
    assert len(calls) == 1
    url, pid, seen = calls[0]
    assert url == f"http://127.0.0.1:{port}"
    assert seen == ["503", "503", "503", "200"]
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert signal.getsignal(signal.SIGINT) is previous  # our handler is gone again


def test_child_exiting_by_itself_returns_its_code_and_shows_its_last_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    console.reset_console()
    script = "import sys\nfor i in range(50):\n    print(f'line {i}')\nsys.exit(3)\n"
    called: list[int] = []
    code = serve(
        [sys.executable, "-c", script],
        env=dict(os.environ),
        cwd=tmp_path,
        url="http://127.0.0.1:9",
        health_url="http://127.0.0.1:9/health",
        ready_timeout=30,
        on_ready=lambda url, pid: called.append(pid),
        log_tail=5,
    )
    assert code == 3
    assert called == []
    err = capsys.readouterr().err
    assert "the backend exited with code 3" in err
    summary = err.split("the backend exited with code 3", 1)[1]
    assert "its last 5 lines" in summary
    assert [line.strip() for line in summary.splitlines()[2:]] == [
        f"line {i}" for i in range(45, 50)
    ]


def test_child_killed_by_a_signal_reports_128_plus_n(tmp_path: Path) -> None:
    script = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
    code = serve(
        [sys.executable, "-c", script],
        env=dict(os.environ),
        cwd=tmp_path,
        url="http://127.0.0.1:9",
        health_url="http://127.0.0.1:9/health",
        ready_timeout=30,
        on_ready=lambda url, pid: None,
    )
    assert code == 128 + signal.SIGKILL


GRANDPARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    same_group = subprocess.Popen(sleeper)
    own_session = subprocess.Popen(sleeper, start_new_session=True)
    print(f"CHILDREN {same_group.pid} {own_session.pid}", flush=True)
    print("loading a very slow model...", flush=True)
    time.sleep(120)
    """
)


def test_not_healthy_in_time_raises_and_kills_the_tree(tmp_path: Path) -> None:
    """Never healthy: ServerError with the last lines; the child, a grandchild in its group
    and one that escaped into its own session are all gone."""
    port = pick_free_port("127.0.0.1")
    with pytest.raises(ServerError) as caught:
        serve(
            [sys.executable, "-c", GRANDPARENT],
            env=dict(os.environ),
            cwd=tmp_path,
            url=f"http://127.0.0.1:{port}",
            health_url=f"http://127.0.0.1:{port}/health",
            ready_timeout=2,
            on_ready=lambda url, pid: pytest.fail("must not be ready"),
        )
    error = caught.value
    assert error.exit_code == 1
    assert "did not answer 200" in error.message
    assert "loading a very slow model..." in error.message
    assert "--ready-timeout" in error.hint
    match = re.search(r"CHILDREN (\d+) (\d+)", error.message)
    assert match, error.message
    grandchildren = []
    for pid in map(int, match.groups()):
        try:
            grandchildren.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    try:
        deadline = time.monotonic() + 5
        while alive(grandchildren) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert alive(grandchildren) == []
    finally:
        kill_all(grandchildren)


def test_uvicorn_that_never_gets_healthy_is_stopped(tmp_path: Path) -> None:
    port = pick_free_port("127.0.0.1")
    env = dict(os.environ, HEALTH_NEVER="1")
    with pytest.raises(ServerError) as caught:
        serve(
            uvicorn_argv(port),
            env=env,
            cwd=tmp_path,
            url=f"http://127.0.0.1:{port}",
            health_url=f"http://127.0.0.1:{port}/health",
            ready_timeout=3,
            on_ready=lambda url, pid: pytest.fail("must not be ready"),
        )
    assert "503" in caught.value.message  # uvicorn's access log lines are in the tail
    check_port("127.0.0.1", port)  # free again: the next `up` on this port can start


def test_missing_interpreter_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ServerError) as caught:
        serve(
            [str(tmp_path / "no-venv" / "bin" / "python"), "-m", "uvicorn"],
            env=dict(os.environ),
            cwd=tmp_path,
            url="http://127.0.0.1:9",
            health_url="http://127.0.0.1:9/health",
            ready_timeout=5,
            on_ready=lambda url, pid: None,
        )
    assert "could not start the backend" in caught.value.message
    assert "venv" in caught.value.hint
