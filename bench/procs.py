"""Bounded subprocesses for the benchmarks: every wait has a timeout, every leftover is killed
by PID (its own session, so the whole group it started goes too), never by name.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.harness import BenchError

MIB = 1024 * 1024


@dataclass(frozen=True)
class Completed:
    """A finished command: exit code, wall seconds (spawn to exit) and combined output."""

    returncode: int
    seconds: float
    output: str

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def _spawn(
    args: list[str], env: Mapping[str, str] | None, cwd: Path | None
) -> subprocess.Popen[bytes]:
    """Start a measured command in its own session (so its tree can be killed by pid)."""
    return subprocess.Popen(
        args,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill_tree(process: subprocess.Popen[bytes] | subprocess.Popen[str], wait: float = 10.0) -> None:
    """SIGKILL a child started with `start_new_session=True`, its group and its descendants."""
    descendants: list[psutil.Process] = []
    with contextlib.suppress(psutil.Error):
        descendants = psutil.Process(process.pid).children(recursive=True)
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    for child in descendants:
        with contextlib.suppress(psutil.Error):
            child.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=wait)


def run(
    argv: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120.0,
    check: bool = True,
) -> Completed:
    """Run to completion within `timeout` seconds (killed, and BenchError, past it)."""
    args = [str(a) for a in argv]
    start = time.perf_counter()
    process = _spawn(args, env, cwd)
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(process)
        raise BenchError(f"timed out after {timeout:.0f} s: {' '.join(args)}") from None
    finally:
        if process.poll() is None:
            kill_tree(process)
    seconds = time.perf_counter() - start
    done = Completed(process.returncode, seconds, out.decode("utf-8", "replace"))
    if check and done.returncode != 0:
        raise BenchError(f"exit {done.returncode}: {' '.join(args)}\n{done.tail()}")
    return done


def timed(
    argv: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120.0,
) -> float:
    """Wall seconds of a command that must succeed."""
    return run(argv, env=env, cwd=cwd, timeout=timeout).seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_status(host: str, port: int, path: str, timeout: float = 1.0) -> int | None:
    """The status of GET path, or None when nothing answers (yet)."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


class Service:
    """A long-running child (a server, `up`): started in its own session, output to a file.

    `wait_ready` polls a health URL; `stop` sends a signal and waits; leaving the context
    kills whatever is left of the tree by PID.
    """

    def __init__(
        self,
        argv: Sequence[str | Path],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        log: Path,
    ) -> None:
        self.argv = [str(a) for a in argv]
        self.log_path = log
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()/kill()
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            self.argv,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self, lines: int = 20) -> str:
        self._log.flush()
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, port: int, path: str = "/health", timeout: float = 120.0) -> float:
        """Seconds from spawn to the first 200 on http://127.0.0.1:port/path (polled ~50/s)."""
        deadline = self.started + timeout
        while time.perf_counter() < deadline:
            if http_status("127.0.0.1", port, path, timeout=1.0) == 200:
                return time.perf_counter() - self.started
            if self.process.poll() is not None:
                raise BenchError(
                    f"exited {self.process.returncode} before ready: {' '.join(self.argv)}\n"
                    + self.output()
                )
            time.sleep(0.02)
        raise BenchError(
            f"not ready within {timeout:.0f} s: {' '.join(self.argv)}\n{self.output()}"
        )

    def wait_for_text(self, text: str, timeout: float = 10.0) -> bool:
        """Untimed: wait until `text` is in the output (False after `timeout` or an exit)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline and self.process.poll() is None:
            if text in self.output(lines=200):
                return True
            time.sleep(0.02)
        return False

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30.0) -> int | None:
        """Send `sig` to the child (not its group: the launcher must stop its own tree) and
        wait; past `timeout` the tree is killed and None returned."""
        code: int | None = None
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)
            try:
                code = self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                code = None
        else:
            code = self.process.returncode
        self.kill()
        return code

    def kill(self) -> None:
        kill_tree(self.process)
        with contextlib.suppress(OSError):
            self._log.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def tree_rss(pid: int) -> tuple[int, int]:
    """(RSS of the process, RSS of it plus all its descendants) in bytes; 0s when gone."""
    try:
        root = psutil.Process(pid)
        own = root.memory_info().rss
        total = own
        for child in root.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return own, total
    except psutil.Error:
        return 0, 0


@dataclass
class RssSampler:
    """Samples a process's RSS (and its tree's) every `interval` seconds on a thread."""

    pid: int
    interval: float = 0.05
    peak_own: int = 0
    peak_tree: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> RssSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            own, total = tree_rss(self.pid)
            if own:
                self.samples += 1
                self.peak_own = max(self.peak_own, own)
                self.peak_tree = max(self.peak_tree, total)
            self._stop.wait(self.interval)

    def stop(self) -> RssSampler:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        return self


def sampled_run(
    argv: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300.0,
    interval: float = 0.05,
) -> tuple[Completed, RssSampler, int]:
    """Run a command to completion while sampling its RSS; also returns the kernel's exact
    peak RSS (`ru_maxrss` from wait4, bytes) of the process and its waited-for children."""
    args = [str(a) for a in argv]
    start = time.perf_counter()
    process = _spawn(args, env, cwd)
    sampler = RssSampler(process.pid, interval).start()
    chunks: list[bytes] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: chunks.append(process.stdout.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    maxrss = 0
    deadline = start + timeout
    try:
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid == process.pid:
                process.returncode = os.waitstatus_to_exitcode(status)
                maxrss = usage.ru_maxrss * 1024  # Linux reports KiB
                break
            if time.perf_counter() > deadline:
                kill_tree(process)
                raise BenchError(f"timed out after {timeout:.0f} s: {' '.join(args)}")
            time.sleep(0.002)
    finally:
        sampler.stop()
        if process.returncode is None:
            kill_tree(process)
    seconds = time.perf_counter() - start
    reader.join(timeout=10)
    done = Completed(process.returncode, seconds, b"".join(chunks).decode("utf-8", "replace"))
    if done.returncode != 0:
        raise BenchError(f"exit {done.returncode}: {' '.join(args)}\n{done.tail()}")
    return done, sampler, maxrss
