"""A real serve() in its own process (tests/server/driver.py), so tests can signal or kill it.

`Driver` runs the driver with a config (argv, URLs, timeout, env, guard), collects its stdout
lines ("READY ...", "EXIT n"), the pids its guard was told about ("TOLD ...") and its stderr,
remembers its process tree and kills what is left of it by pid at the end.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.processes import kill_all

SERVER_TESTS = Path(__file__).resolve().parent.parent / "server"
REPO = SERVER_TESTS.parent.parent
HERE = SERVER_TESTS


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
        self.told: set[int] = set()  # the backend's processes the guard knows about

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for raw in iter(self.popen.stdout.readline, b""):
            line = raw.decode().rstrip()
            if line.startswith("TOLD "):
                self.told.update(int(pid) for pid in line.split()[1:])
            self.lines.put(line)

    def wait_told(self, pids: set[int], timeout: float = 30.0) -> None:
        """Until the guard was told about all of `pids` (the supervisor re-reads the tree
        about once a second)."""
        deadline = time.monotonic() + timeout
        while not pids <= self.told and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pids <= self.told, (sorted(pids), sorted(self.told), self.stderr())

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
