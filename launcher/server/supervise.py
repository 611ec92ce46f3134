"""serve(): run the backend as a supervised child until it exits or the launcher is told to stop.

"Ready" only after the health route answered 200 from the backend's own process tree; every stop
(Ctrl-C, SIGTERM, hangup, `restart`) stops the whole tree; a console that goes away is a quiet
stop. Nothing here prints: everything is reported through `ServeEvents`, which `up` renders.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from loguru import logger

from launcher import proc
from launcher.errors import ServerError
from launcher.server import health
from launcher.server.guard import Guard, guard_for
from launcher.server.port import IN_USE_ERRNOS, in_use_error, listener_pids, listens
from launcher.server.tree import POLL, WINDOWS, ProcessTree, StopFlag, exit_code, stop_signals_to

CONSOLE_CHECK = 0.5  # how often the supervisor checks that stdout/stderr are still there
FOREIGN_RETRY = 0.25  # how often to look again while another process answers on our port

# serve()'s answer when its `restart` event was set: the tree is stopped, start it again. Not an
# exit code any process can have (those are 0-255).
RESTART = -1

# uvicorn: "[Errno 98] error while attempting to bind on address ('127.0.0.1', 8000): ..."
_BIND_ERROR = re.compile(r"\[(?:Errno|WinError) (\d+)\] error while attempting to bind")


def _ignore(*args: object) -> None:
    return None


@dataclass
class ServeEvents:
    """What serve() reports, for the caller to render; every callback is optional but `ready`."""

    ready: Callable[[str, int], None]  # (url, pid): the health route answered 200; called once
    health: Callable[[health.Readiness], None] = _ignore  # just before ready: how it was found
    started: Callable[[int], None] = _ignore  # (pid): the child process exists
    output: Callable[[str], None] = _ignore  # a line of the backend's output (a reader thread)
    stopping: Callable[[int, str], None] = _ignore  # (pid, reason): the tree is being stopped
    stopped: Callable[[float], None] = _ignore  # (seconds): the tree is gone
    exited: Callable[[int, list[str]], None] = _ignore  # (code, last lines): it exited by itself


@dataclass
class ServeTarget:
    """Where the backend will listen and how to tell it is ready."""

    url: str
    health_url: str
    ready_timeout: float
    bind: tuple[str, int] | None = None  # (host, port) for naming a bind-race holder
    discover_health: bool = False  # health_url is the default: find the route if it is 404
    # an answer counts only when the listener on bind's port is in the backend's tree; off
    # where the OS shows the real listener as an unrelated process (a server inside WSL)
    own_listener: bool = True


@dataclass
class _Child:
    """The backend process, the thread pumping its output, and its process tree."""

    popen: subprocess.Popen[bytes]
    tree: ProcessTree
    flag: StopFlag
    events: ServeEvents
    tail: deque[str] = field(default_factory=deque)
    pump: threading.Thread | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def start_pump(self) -> None:
        self.pump = threading.Thread(target=self._pump, name="backend-output", daemon=True)
        self.pump.start()

    def _pump(self) -> None:
        """Hand the child's output to `events.output` line by line, keeping the last lines; a
        console that cannot be written to any more stops the launcher (quietly)."""
        stream = self.popen.stdout
        assert stream is not None
        for raw in iter(stream.readline, b""):
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            self.tail.append(text)
            if self.flag.console_lost:
                continue  # keep draining the pipe so the child never blocks on it
            try:
                self.events.output(text)
            except OSError as exc:
                _lose_console(self.flag, exc)
        stream.close()

    def finish_output(self) -> list[str]:
        """Wait (briefly) for the last output lines, then return the tail."""
        if self.pump is not None:
            self.pump.join(timeout=2.0)
        return list(self.tail)


def _to_null() -> None:
    """Point stdout and stderr at the null device: every later write (ours, Rich's, loguru's,
    the interpreter's at exit) must not fail."""
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            with contextlib.suppress(OSError):
                os.dup2(null, fd)
        os.close(null)


def _hung_up() -> bool:
    """True when stdout or stderr reports a hangup or an error (POSIX only)."""
    if WINDOWS or not hasattr(select, "poll"):
        return False
    poller = select.poll()
    for fd in (1, 2):
        poller.register(fd, 0)  # only POLLHUP / POLLERR / POLLNVAL are reported
    try:
        events = poller.poll(0)
    except OSError:
        return False
    return any(mask & (select.POLLHUP | select.POLLERR) for _, mask in events)


def _lose_console(flag: StopFlag, why: object) -> None:
    """The terminal or pipe is gone: later writes go to the null device; stop like a hangup."""
    logger.debug(f"console lost: {why}")
    _to_null()
    flag.lose_console()


def _bind_race(tail: list[str], bind: tuple[str, int] | None) -> ServerError | None:
    """The pre-flight's error when the child died because its port was taken meanwhile."""
    if bind is None:
        return None
    for text in tail:
        match = _BIND_ERROR.search(text)
        if match and int(match.group(1)) in IN_USE_ERRNOS:
            return in_use_error(*bind)
    return None


class _Supervisor:
    """One run of the backend: wait for health, then for an exit or a stop request."""

    def __init__(
        self,
        child: _Child,
        target: ServeTarget,
        guard: Guard,
        restart: threading.Event | None = None,
    ) -> None:
        self.child = child
        self.target = target
        self.guard = guard
        self.flag = child.flag
        self.restart = restart
        self._console_checked = 0.0
        self.foreign: int | None = None  # a process outside the tree that answered for it

    def remember_tree(self, force: bool = False) -> None:
        new = self.child.tree.remember(force)
        if new:
            self.guard.descendants(new)

    def running(self) -> bool:
        """True while nobody asked us to stop and the child runs (tree and console kept fresh)."""
        self.remember_tree()
        now = time.monotonic()
        if now - self._console_checked >= CONSOLE_CHECK:
            self._console_checked = now
            if not self.flag.console_lost and _hung_up():
                _lose_console(self.flag, "stdout/stderr hung up")
        return (
            self.flag.signum is None and not self.restarting() and self.child.popen.poll() is None
        )

    def restarting(self) -> bool:
        return self.restart is not None and self.restart.is_set()

    def wait_ready(self) -> health.Readiness | None:
        probe = health.HealthProbe(self.target.health_url, discover=self.target.discover_health)
        deadline = time.monotonic() + self.target.ready_timeout
        while self.running():
            remaining = deadline - time.monotonic()
            try:
                ready = probe.check(timeout=max(0.2, min(1.0, remaining)))
            except ServerError:
                self.child.tree.stop()
                raise
            if ready is not None and not self._answered_by_another():
                return ready
            if time.monotonic() >= deadline:
                self._not_ready(probe.url)
            time.sleep(FOREIGN_RETRY if ready is not None else probe.delay())
        return None

    def _answered_by_another(self) -> bool:
        """True when a process outside the backend's tree, and none of it, listens on the port:
        it answered, not our backend. No visible listener is not "another"."""
        if self.target.bind is None or not self.target.own_listener:
            return False
        port = self.target.bind[1]
        self.remember_tree(force=True)
        ours = set(self.child.tree.known) | {self.child.pid}
        if listens(ours, port):
            return False
        known = listener_pids(port)
        if not known or known & ours:
            return False
        if self.foreign is None:
            logger.debug(f"pid {min(known)} answers on the port, not our backend: not ready")
        self.foreign = min(known)
        return True

    def _not_ready(self, url: str) -> None:
        self.child.tree.stop()
        if self.foreign is not None and self.target.bind is not None:
            raise in_use_error(*self.target.bind)
        tail = self.child.finish_output()
        shown = "\n".join("  " + line for line in tail) or "  (no output)"
        raise ServerError(
            f"the backend did not answer 200 on {url} within "
            f"{self.target.ready_timeout:g} s; its last lines:\n{shown}",
            "If it is still loading, raise ready_timeout (--ready-timeout, or "
            "ready_timeout in [tool.robo-backend]); otherwise make sure the health "
            "path answers 200 (health_path).",
        )

    def _quietly(self, report: Callable[..., None], *args: object) -> None:
        """Report an event; a console that fails to take it is a lost console, not a crash."""
        if self.flag.console_lost and _hung_up():
            _to_null()
        try:
            report(*args)
        except OSError as exc:
            _lose_console(self.flag, exc)

    def _stop(self, reason: str) -> None:
        """Stop the tree on request (`reason`: the signal's, or "restart"), saying so."""
        child, events = self.child, self.child.events
        logger.debug(f"stopping the backend (pid {child.pid}): {reason}")
        self._quietly(events.stopping, child.pid, reason)
        began = time.monotonic()
        child.tree.stop()
        child.finish_output()
        self._quietly(events.stopped, time.monotonic() - began)

    def serve_until_done(self) -> int:
        child, events = self.child, self.child.events
        ready = self.wait_ready()
        if ready is not None and self.flag.signum is None:
            self._quietly(events.health, ready)
            self._quietly(events.ready, self.target.url, child.pid)
            while self.running():
                time.sleep(POLL)
        if self.flag.signum is not None:
            self._stop(self.flag.reason)
            return self.flag.exit_code
        if self.restarting():  # a stop signal that comes meanwhile wins (its code)
            self._stop("restart")
            return self.flag.exit_code if self.flag.signum is not None else RESTART
        code = exit_code(child.popen.returncode)
        child.tree.stop()  # the child is gone; its leftovers (if any) must not outlive it
        tail = child.finish_output()
        race = None if ready is not None else _bind_race(tail, self.target.bind)
        if race is not None:
            raise race
        self._quietly(events.exited, code, tail)
        return code


def serve(
    argv: list[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    target: ServeTarget,
    events: ServeEvents,
    log_tail: int = 30,
    guard: Guard | None = None,
    started: subprocess.Popen[bytes] | None = None,
    restart: threading.Event | None = None,
) -> int:
    """Run `argv` (uvicorn) until it exits or the launcher is told to stop; the exit code.

    130/143/129 after Ctrl-C/SIGTERM/hangup, the child's own code when it exits by itself, or
    `RESTART` once `restart` is set. Raises ServerError when not healthy in time, PortInUseError
    when another process took the port. `started`: an early-started process to supervise.
    """
    flag = StopFlag()
    guard = guard if guard is not None else guard_for(sys.platform)
    with stop_signals_to(flag):
        if started is not None:
            popen = started
        else:
            try:
                popen = proc.spawn(argv, env=env, cwd=cwd, windows=WINDOWS, preexec=guard.preexec())
            except BaseException as exc:
                guard.close()
                if isinstance(exc, OSError):
                    raise ServerError(
                        f"could not start the backend ({argv[0]}): {exc.strerror or exc}",
                        "The venv's interpreter may be gone: delete the venv and run `up` again.",
                    ) from None
                raise
            guard.started(popen.pid)
        tree = ProcessTree(popen.pid, popen.poll, hurry=lambda: flag.hurry, windows=WINDOWS)
        child = _Child(popen, tree, flag, events, deque(maxlen=max(1, log_tail)))
        child.start_pump()
        try:
            events.started(child.pid)
            return _Supervisor(child, target, guard, restart).serve_until_done()
        except BaseException:  # not ready, or unexpected (a callback failed, …): never orphan
            tree.stop()
            raise
        finally:
            guard.close()
