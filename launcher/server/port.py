"""Run the backend (uvicorn) as a supervised child: port probe, health gate, stop the whole tree.

Why this is more than `subprocess.run`:
- "ready" is printed only after the health endpoint answered 200 (fastapi-cli prints "started"
  before the port is even open);
- Ctrl-C / SIGTERM to the launcher stops every process the backend started, uvicorn's
  `--reload` worker included, within 10 s (honcho orphans grandchildren on Windows);
- the child runs in its own session / process group, so the terminal's Ctrl-C reaches only the
  launcher, which then stops the tree in order: SIGINT, grace, SIGTERM, grace, SIGKILL.
  On Windows: CTRL_BREAK_EVENT (uvicorn handles SIGBREAK), grace, `taskkill /T /F /PID`.

Heavy-ish imports (psutil, urllib.request) happen inside the functions that need them.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from loguru import logger

from launcher import console, proc
from launcher.errors import EXIT_INTERRUPTED, PortInUseError, ServerError, SettingsError
from launcher.redact import redact

if TYPE_CHECKING:
    import psutil

WINDOWS = sys.platform == "win32"

# errno values that mean "this port is taken": Linux EADDRINUSE, macOS EADDRINUSE,
# Windows WSAEADDRINUSE, and Windows WSAEACCES (the port is in a reserved range, e.g. Hyper-V).
IN_USE_ERRNOS = frozenset({errno.EADDRINUSE, 98, 48, 10048, 10013})
WINDOWS_RESERVED = 10013

# Stop sequence budget: the whole tree is gone within STOP_BUDGET seconds (< 10 s promised).
INT_GRACE = 5.0  # after SIGINT / CTRL_BREAK_EVENT: uvicorn's graceful shutdown
TERM_GRACE = 2.5  # after SIGTERM
KILL_WAIT = 1.0  # after SIGKILL, for the kernel to tear the processes down
LEFTOVER_GRACE = 0.5  # group members still alive once the leader is gone
POLL = 0.1  # how often the supervisor looks at the child and the stop flag
DESCENDANT_REFRESH = 1.0  # how often the tree of the child is re-read


# ---------------------------------------------------------------------------------------------
# Port probe


def _addrinfo(host: str, port: int) -> tuple[int, Any]:
    """(family, sockaddr) to bind for host; a host that does not resolve is a settings error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise SettingsError(
            f"host {host!r} cannot be resolved: {exc.strerror or exc}",
            "Use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface) with --host.",
        ) from None
    family, _, _, _, sockaddr = infos[0]
    return family, sockaddr


def _bind_error(host: str, port: int) -> OSError | None:
    """Try to bind host:port the way uvicorn will; the OSError when that fails.

    POSIX: with SO_REUSEADDR like uvicorn, so a TIME_WAIT leftover of our previous run is not
    mistaken for a live server. Windows: SO_EXCLUSIVEADDRUSE, because SO_REUSEADDR there would
    let us bind on top of a listening socket.
    """
    family, sockaddr = _addrinfo(host, port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if WINDOWS:
            exclusive = getattr(socket, "SO_EXCLUSIVEADDRUSE", None)
            if exclusive is not None:
                sock.setsockopt(socket.SOL_SOCKET, exclusive, 1)
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
    except OSError as exc:
        return exc
    finally:
        sock.close()
    return None


def _someone_accepts(host: str, port: int) -> bool:
    """True when a server answers a TCP connect on the port (catches macOS, where binding
    127.0.0.1 can succeed next to a server listening on 0.0.0.0). Loopback only: instant."""
    targets = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}
    target = targets.get(host, host)
    if target not in {"127.0.0.1", "::1", "localhost"}:
        return False
    try:
        with socket.create_connection((target, port), timeout=0.3):
            return True
    except OSError:
        return False


def _in_use(exc: OSError) -> bool:
    codes = {exc.errno, getattr(exc, "winerror", None)}
    if not WINDOWS:
        codes.discard(WINDOWS_RESERVED)
    return bool(codes & IN_USE_ERRNOS)


def _describe(process: psutil.Process) -> str:
    import psutil

    try:
        cmdline = " ".join(process.cmdline()) or process.name()
    except (psutil.Error, OSError):
        cmdline = ""
    if len(cmdline) > 100:
        cmdline = cmdline[:97] + "..."
    return f"pid {process.pid} ({cmdline})" if cmdline else f"pid {process.pid}"


def port_holder(host: str, port: int) -> str | None:
    """Which process listens on `port`: "pid 1234 (python3 -m http.server)", or a vaguer
    "another process" when the OS hides it from us (other users' sockets without root), or
    None when no listener is visible at all.
    """
    import psutil

    wildcard = {"0.0.0.0", "::", ""}
    try:
        wanted = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except OSError:
        wanted = {host}

    def listeners() -> Iterator[tuple[int | None, str]]:
        try:
            for conn in psutil.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                    yield conn.pid, conn.laddr.ip
            return
        except (psutil.AccessDenied, PermissionError):
            pass  # macOS without root: fall back to the processes we may look into
        for process in psutil.process_iter():
            try:
                conns = process.net_connections(kind="inet")
            except (psutil.Error, OSError):
                continue
            for conn in conns:
                if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                    yield process.pid, conn.laddr.ip

    try:
        found = list(listeners())
    except (psutil.Error, OSError) as exc:
        logger.debug(f"cannot list sockets: {exc}")
        return None
    if not found:
        return None
    exact = [f for f in found if host in wildcard or f[1] in wildcard or f[1] in wanted]
    pid, _ = (exact or found)[0]
    if pid is None:
        return "another process (the system hides which one; run as administrator/root to see it)"
    try:
        return _describe(psutil.Process(pid))
    except (psutil.Error, OSError):
        return f"pid {pid}"


def check_port(host: str, port: int) -> None:
    """Raise PortInUseError (exit 1) naming the holder when host:port cannot be listened on.

    Port 0 means "any free port" and is never in use. A host that is not an address of this
    machine, or a privileged port, is reported with its own message.
    """
    if port == 0:
        return
    exc = _bind_error(host, port)
    if exc is None:
        if not _someone_accepts(host, port):
            return
    elif not _in_use(exc):
        if exc.errno in {errno.EACCES, errno.EPERM}:
            raise ServerError(
                f"no permission to listen on {host}:{port}",
                "Ports below 1024 need administrator rights: use a higher one, e.g. --port 8000.",
            )
        if exc.errno == errno.EADDRNOTAVAIL:
            raise SettingsError(
                f"cannot listen on {host}:{port}: {host} is not an address of this machine",
                "Use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface) with --host.",
            )
        raise ServerError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            "Pick another port with --port (--port 0 picks a free one).",
        )
    holder = port_holder(host, port)
    reserved = exc is not None and WINDOWS_RESERVED in {exc.errno, getattr(exc, "winerror", None)}
    if reserved and holder is None:
        raise PortInUseError(
            f"port {port} on {host} is reserved by Windows (an excluded port range, often "
            "Hyper-V/WSL/Docker)",
            "Pick another port with --port (--port 0 picks a free one); "
            "`netsh interface ipv4 show excludedportrange protocol=tcp` lists the reserved ones.",
        )
    who = holder or "another process"
    stop = f"stop {holder.split(' (')[0]}" if holder and holder.startswith("pid ") else "stop it"
    raise PortInUseError(
        f"port {port} on {host} is already in use by {who}",
        f"Pick another port with --port (--port 0 picks a free one), or {stop}.",
    )


def pick_free_port(host: str) -> int:
    """A port that is free on `host` right now (the OS picks it; bind port 0)."""
    family, sockaddr = _addrinfo(host, 0)
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind(sockaddr)
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# Supervision


class _StopFlag:
    """Set from signal handlers: a plain attribute, because taking a lock inside a handler
    (threading.Event.set) can deadlock the main thread that was interrupted holding it."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.hurry = False  # a second Ctrl-C: skip the grace periods

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            self.hurry = True
        else:
            self.signum = signum


def _stop_signals() -> list[signal.Signals]:
    names = ["SIGINT", "SIGTERM", "SIGBREAK"] if WINDOWS else ["SIGINT", "SIGTERM", "SIGHUP"]
    return [getattr(signal, name) for name in names if hasattr(signal, name)]


@contextmanager
def _handlers(flag: _StopFlag) -> Iterator[None]:
    """Route Ctrl-C/SIGTERM (and SIGHUP: a closed terminal) to `flag` while the child runs,
    then restore what was there. Never SIG_IGN: children would inherit it."""
    previous: list[tuple[signal.Signals, Any]] = []
    if threading.current_thread() is threading.main_thread():
        for sig in _stop_signals():
            try:
                previous.append((sig, signal.signal(sig, flag)))
            except (OSError, ValueError):  # pragma: no cover - platform refuses the signal
                continue
    else:  # pragma: no cover - signals can only be handled in the main thread
        logger.debug("serve() outside the main thread: Ctrl-C is not intercepted")
    try:
        yield
    finally:
        for sig, handler in reversed(previous):
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


class _Child:
    """The backend process, the thread pumping its output, and what we know of its tree."""

    def __init__(
        self,
        argv: list[str],
        env: Mapping[str, str],
        cwd: Path,
        log_tail: int,
        flag: _StopFlag,
    ) -> None:
        child_env = dict(env)
        child_env.setdefault("PYTHONUNBUFFERED", "1")  # the app's print() shows up at once
        child_env.setdefault("PYTHONIOENCODING", "utf-8")  # we decode its output as UTF-8
        options: dict[str, Any] = {}
        if WINDOWS:
            options["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)
        else:
            options["start_new_session"] = True
        logger.debug(f"starting backend: {argv} in {cwd}")
        try:
            self.popen = subprocess.Popen(
                argv,
                env=child_env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                **options,
            )
        except OSError as exc:
            raise ServerError(
                f"could not start the backend ({argv[0]}): {exc.strerror or exc}",
                "The venv's interpreter may be gone: delete the venv and run `up` again.",
            ) from None
        self.pid = self.popen.pid
        self.flag = flag
        self.tail: deque[str] = deque(maxlen=max(1, log_tail))
        self.known: dict[int, psutil.Process] = {}
        self._refreshed = 0.0
        self.pump = threading.Thread(target=self._pump, name="backend-output", daemon=True)
        self.pump.start()

    def _pump(self) -> None:
        """Copy the child's output to the console line by line, keeping the last lines."""
        out = console.get_console()
        stream = self.popen.stdout
        assert stream is not None
        for raw in iter(stream.readline, b""):
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            self.tail.append(text)
            out.print(redact(text), markup=False, emoji=False, highlight=False)
        stream.close()

    def poll(self) -> int | None:
        return self.popen.poll()

    def remember_tree(self, force: bool = False) -> None:
        """Record the child's descendants (by pid + start time, so a reused pid is never
        killed): once their parent dies they are re-parented and can no longer be found."""
        now = time.monotonic()
        if not force and now - self._refreshed < DESCENDANT_REFRESH:
            return
        self._refreshed = now
        import psutil

        try:
            root = psutil.Process(self.pid)
            for process in [root, *root.children(recursive=True)]:
                self.known.setdefault(process.pid, process)
        except (psutil.Error, OSError):
            pass

    def wait(self, seconds: float) -> bool:
        """Wait up to `seconds` for the child to exit; False early when asked to hurry."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.poll() is not None:
                return True
            if self.flag.hurry:
                return False
            time.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
        return self.poll() is not None

    # -- stopping ------------------------------------------------------------------------------

    def stop_tree(self) -> None:
        """Stop the child and every process it started, gently first, in < 10 s."""
        self.remember_tree(force=True)
        if WINDOWS:  # pragma: no cover - exercised on Windows only
            self._stop_windows()
        else:
            self._stop_posix()
        self._kill_known()

    def _signal_group(self, sig: int) -> bool:
        try:
            os.killpg(self.pid, sig)  # the group id is the child's pid (start_new_session)
            return True
        except (ProcessLookupError, PermissionError):
            return False

    def _stop_posix(self) -> None:
        if self.poll() is None:
            steps = ((signal.SIGINT, INT_GRACE), (signal.SIGTERM, TERM_GRACE))
            for sig, grace in steps:
                if self.flag.hurry:
                    break
                logger.debug(f"sending {sig.name} to process group {self.pid}")
                self._signal_group(sig)
                if self.wait(grace):
                    break
            if self.poll() is None:
                logger.debug(f"sending SIGKILL to process group {self.pid}")
                self._signal_group(signal.SIGKILL)
                self.wait(KILL_WAIT)
        # The leader is gone; members of its group may not be (a --reload worker whose
        # supervisor was killed). Ask them to stop, then kill what is left.
        if self._signal_group(signal.SIGTERM):
            deadline = time.monotonic() + LEFTOVER_GRACE
            while time.monotonic() < deadline and self._signal_group(0):
                time.sleep(0.05)
            self._signal_group(signal.SIGKILL)

    def _stop_windows(self) -> None:  # pragma: no cover - exercised on Windows only
        if self.poll() is None:
            try:
                os.kill(self.pid, signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
            except OSError as exc:
                logger.debug(f"CTRL_BREAK_EVENT failed: {exc}")
            self.wait(INT_GRACE)
        # taskkill /T walks the tree from the pid; needed even when the leader exited,
        # for the grandchildren still running.
        result = proc.run(["taskkill", "/T", "/F", "/PID", str(self.pid)], timeout=10)
        logger.debug(f"taskkill: {result.returncode} {result.tail(3)}")
        self.wait(KILL_WAIT)

    def _kill_known(self) -> None:
        """Kill remembered descendants still running: they escaped the group (setsid) or
        were re-parented when their parent died. psutil checks the start time, so a pid the
        OS has reused for an unrelated process is left alone."""
        import psutil

        alive = []
        for process in self.known.values():
            if process.pid == self.pid:
                continue
            try:
                if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(process)
            except (psutil.Error, OSError):
                continue
        if not alive:
            return
        for process in alive:
            try:
                logger.debug(f"killing leftover {_describe(process)}")
                process.kill()
            except (psutil.Error, OSError):
                continue
        psutil.wait_procs(alive, timeout=KILL_WAIT)

    def finish_output(self) -> list[str]:
        """Wait (briefly) for the last output lines, then return the tail."""
        self.pump.join(timeout=2.0)
        return list(self.tail)


def exit_code(returncode: int) -> int:
    """The process exit code as a shell reports it: killed by signal N → 128 + N."""
    return 128 + -returncode if returncode < 0 else returncode


def _health_opener() -> Any:
    import urllib.request

    # No proxies: the backend is on this machine, and HTTP(S)_PROXY must not intercept it.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def probe_url(url: str) -> str:
    """The URL to poll: a wildcard bind address (0.0.0.0, ::) is not something a client can
    connect to on Windows, so the health check goes to the loopback address instead."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    loopback = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(parts.hostname or "")
    if loopback is None:
        return url
    netloc = loopback + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _is_healthy(opener: Any, url: str, timeout: float) -> bool:
    try:
        with opener.open(url, timeout=timeout) as response:
            return int(response.status) == 200
    except Exception:  # HTTPError (non-2xx), URLError, resets, bad status lines: not yet
        return False


def _print_tail(lines: list[str], code: int) -> None:
    console.line("fail" if code else "warn", f"the backend exited with code {code}")
    if lines:
        console.info(f"its last {len(lines)} lines:")
        out = console.get_console()
        for text in lines:
            out.print("  " + redact(text), markup=False, emoji=False, highlight=False)


def serve(
    argv: list[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    url: str,
    health_url: str,
    ready_timeout: float,
    on_ready: Callable[[str, int], None],
    log_tail: int = 30,
) -> int:
    """Run `argv` (uvicorn) until it exits or the launcher is told to stop; the exit code.

    `on_ready(url, pid)` is called once, only after `health_url` answered 200. Returns 130
    after Ctrl-C/SIGTERM (the whole tree stopped), the child's own code when it exits by
    itself (its last lines printed), and raises ServerError when it is not healthy within
    `ready_timeout` seconds (the tree stopped, its last lines in the message).
    """
    flag = _StopFlag()
    health_url = probe_url(health_url)
    with _handlers(flag):
        child = _Child(list(argv), env, cwd, log_tail, flag)
        stopped = False
        try:
            opener = _health_opener()
            deadline = time.monotonic() + ready_timeout
            delay = 0.05
            ready = False
            while flag.signum is None and child.poll() is None:
                child.remember_tree()
                remaining = deadline - time.monotonic()
                if _is_healthy(opener, health_url, timeout=max(0.2, min(1.0, remaining))):
                    ready = True
                    break
                if time.monotonic() >= deadline:
                    break
                time.sleep(delay)
                delay = min(delay * 1.5, 0.25)
            if flag.signum is None and child.poll() is None and not ready:
                stopped = True
                child.stop_tree()
                tail = child.finish_output()
                shown = "\n".join("  " + line for line in tail) or "  (no output)"
                raise ServerError(
                    f"the backend did not answer 200 on {health_url} within "
                    f"{ready_timeout:g} s; its last lines:\n{shown}",
                    "If it is still loading, raise ready_timeout (--ready-timeout, or "
                    "ready_timeout in [tool.robo-backend]); otherwise make sure the health "
                    "path answers 200 (health_path).",
                )
            if ready and flag.signum is None:
                on_ready(url, child.pid)
                while flag.signum is None and child.poll() is None:
                    child.remember_tree()
                    time.sleep(POLL)
            if flag.signum is not None:
                console.info(f"stopping the backend (pid {child.pid}) and its processes...")
                began = time.monotonic()
                stopped = True
                child.stop_tree()
                child.finish_output()
                console.info(f"backend stopped ({time.monotonic() - began:.1f} s)")
                return EXIT_INTERRUPTED
            code = exit_code(child.popen.returncode)
            stopped = True
            child.stop_tree()  # the child is gone; its leftovers (if any) must not outlive it
            _print_tail(child.finish_output(), code)
            return code
        finally:
            if not stopped:  # an unexpected exception (on_ready failed, …): never orphan
                child.stop_tree()
