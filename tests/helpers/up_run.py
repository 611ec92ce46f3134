"""Run the real `robo-backend up` as a subprocess and watch it: output lines, ready URL, tree.

Shared by the end-to-end tests of real-shaped backends: start `up`, wait for "Backend ready at
URL", talk HTTP to the backend, then stop the launcher with a signal and check that no process
of its tree survived.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

import psutil

from tests.helpers.cli import launcher_argv
from tests.processes import alive, kill_all

READY_LINE = "Backend ready at"


class UpRun:
    """A `robo-backend up` subprocess whose combined output is collected line by line."""

    def __init__(self, args: list[str], env: Mapping[str, str], cwd: str | None = None) -> None:
        self.proc = subprocess.Popen(
            launcher_argv(*args),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> str:
        """The first output line containing `text`; AssertionError (with the output) if none."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            if self.proc.poll() is not None:
                self._reader.join(timeout=5)
                if any(text in line for line in self.lines):
                    continue
                break
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not seen; output:\n{self.output}")

    def ready_url(self, timeout: float) -> str:
        line = self.wait_for(READY_LINE, timeout)
        return line.split(READY_LINE + " ", 1)[1].split(" ", 1)[0]

    def tree(self) -> list[psutil.Process]:
        try:
            parent = psutil.Process(self.proc.pid)
            return [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30.0) -> int:
        """Send `sig` and return the exit code; whatever of the tree is left is killed after."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.kill()

    def interrupt(self, sig: int = signal.SIGINT, timeout: float = 30.0) -> tuple[int, list[Any]]:
        """Send `sig`, wait for the exit; (exit code, processes of the tree still alive)."""
        tree = self.tree()
        code = self.stop(sig, timeout)
        deadline = time.monotonic() + 5
        while alive(tree) and time.monotonic() < deadline:
            time.sleep(0.1)
        return code, alive(tree)

    def kill(self) -> None:
        """Last resort for a failing test: kill by PID whatever of the tree is left."""
        kill_all(self.tree())
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._reader.join(timeout=5)


def http_json(url: str, timeout: float = 30.0) -> tuple[int, Any]:
    """GET `url`: (status, decoded JSON body or None)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            return error.code, json.loads(body or b"null")
        except ValueError:
            return error.code, None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launcher_env(hub_url: str, logs: str, **extra: str) -> dict[str, str]:
    """The environment of an `up` subprocess: this one without HF_/ROBO_BACKEND_ variables,
    pointed at the loopback hub."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "ROBO_BACKEND_"))}
    environ.pop("FASTEMBED_CACHE_PATH", None)
    environ.pop("VIRTUAL_ENV", None)
    environ.update(
        {
            "HF_ENDPOINT": hub_url,
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "ROBO_BACKEND_LOG_DIR": logs,
            "ROBO_BACKEND_READY_TIMEOUT": "120",
            "NO_COLOR": "1",
        }
    )
    environ.update(extra)
    return environ
