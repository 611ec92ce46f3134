"""Port probe: can the backend listen on host:port, and if not, which process holds it.

psutil is imported on use: the early start probes the port before anything else is loaded.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from launcher.errors import LauncherError, PortInUseError, ServerError, SettingsError
from launcher.server.tree import WINDOWS

if TYPE_CHECKING:
    import psutil


# errno values that mean "this port is taken": Linux EADDRINUSE, macOS EADDRINUSE,
# Windows WSAEADDRINUSE, and Windows WSAEACCES (the port is in a reserved range, e.g. Hyper-V).
IN_USE_ERRNOS = frozenset({errno.EADDRINUSE, 98, 48, 10048, 10013})
WINDOWS_RESERVED = 10013


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
    """Try to bind host:port the way uvicorn will; the OSError when that fails. POSIX: with
    SO_REUSEADDR like uvicorn (a TIME_WAIT leftover is no live server); Windows: SO_EXCLUSIVEADDRUSE
    (SO_REUSEADDR there would bind on top of a listening socket)."""
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


def describe_process(process: psutil.Process) -> str:
    """ "pid 1234 (its command line, cut at 100 characters)", or "pid 1234" when hidden."""
    import psutil

    try:
        cmdline = " ".join(process.cmdline()) or process.name()
    except (psutil.Error, OSError):
        cmdline = ""
    if len(cmdline) > 100:
        cmdline = cmdline[:97] + "..."
    return f"pid {process.pid} ({cmdline})" if cmdline else f"pid {process.pid}"


def _listeners(port: int) -> Iterator[tuple[int | None, str]]:
    """(pid or None when hidden, local address) of every socket listening on `port`."""
    import psutil

    def listening(conn: Any) -> bool:
        return bool(conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port)

    try:
        for conn in psutil.net_connections(kind="inet"):
            if listening(conn):
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
            if listening(conn):
                yield process.pid, conn.laddr.ip


def listens(pids: Iterable[int], port: int) -> bool:
    """True when one of the processes `pids` has a socket listening on `port` (asked of
    those processes alone: cheaper than listing every socket of the system)."""
    import psutil

    for pid in pids:
        try:
            conns = psutil.Process(pid).net_connections(kind="inet")
        except (psutil.Error, OSError):
            continue
        if any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in conns):
            return True
    return False


def port_holder(host: str, port: int) -> str | None:
    """Which process listens on `port`: "pid 1234 (python3 -m http.server)", "another process"
    when the OS hides it, or None when no listener is visible at all."""
    import psutil

    wildcard = {"0.0.0.0", "::", ""}
    try:
        wanted = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except OSError:
        wanted = {host}
    try:
        found = list(_listeners(port))
    except (psutil.Error, OSError) as exc:
        from loguru import logger  # on use: port_is_free serves the early start, before logging

        logger.debug(f"cannot list sockets: {exc}")
        return None
    if not found:
        return None
    exact = [f for f in found if host in wildcard or f[1] in wildcard or f[1] in wanted]
    pid, _ = (exact or found)[0]
    if pid is None:
        return "another process (the system hides which one; run as administrator/root to see it)"
    try:
        return describe_process(psutil.Process(pid))
    except (psutil.Error, OSError):
        return f"pid {pid}"


def listener_pids(port: int) -> set[int]:
    """The pids we can see listening on `port` (on any address)."""
    import psutil

    try:
        return {pid for pid, _ in _listeners(port) if pid is not None}
    except (psutil.Error, OSError):
        return set()


def port_is_free(host: str, port: int) -> bool:
    """Could uvicorn listen on host:port now (bound the way it binds, and nobody answering)?"""
    return _bind_error(host, port) is None and not _someone_accepts(host, port)


def check_port(host: str, port: int) -> None:
    """Raise PortInUseError naming the holder when host:port cannot be listened on (port 0,
    "any free port", never is); a foreign host or a privileged port has its own error."""
    if port == 0:
        return
    exc = _bind_error(host, port)
    if exc is None:
        if not _someone_accepts(host, port):
            return
        raise in_use_error(host, port)
    codes = {exc.errno, getattr(exc, "winerror", None)}
    if not WINDOWS:
        codes.discard(WINDOWS_RESERVED)
    if not codes & IN_USE_ERRNOS:
        raise _cannot_listen(host, port, exc)
    raise in_use_error(host, port, reserved=WINDOWS_RESERVED in codes)


def _cannot_listen(host: str, port: int, exc: OSError) -> LauncherError:
    """Why host:port cannot be listened on, other than "in use": no permission (exit 1), or a
    host that is not this machine's (a settings error, exit 2)."""
    if exc.errno in {errno.EACCES, errno.EPERM}:
        return ServerError(
            f"no permission to listen on {host}:{port}",
            "Ports below 1024 need administrator rights: use a higher one, e.g. --port 8000.",
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return SettingsError(
            f"cannot listen on {host}:{port}: {host} is not an address of this machine",
            "Use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface) with --host.",
        )
    return ServerError(
        f"cannot listen on {host}:{port}: {exc.strerror or exc}",
        "Pick another port with --port (--port 0 picks a free one).",
    )


def in_use_error(host: str, port: int, *, reserved: bool = False) -> PortInUseError:
    """The error for a taken port, naming its holder (the pre-flight's, and the bind race's)."""
    holder = port_holder(host, port)
    if reserved and holder is None:
        return PortInUseError(
            f"port {port} on {host} is reserved by Windows (an excluded port range, often "
            "Hyper-V/WSL/Docker)",
            "Pick another port with --port (--port 0 picks a free one); "
            "`netsh interface ipv4 show excludedportrange protocol=tcp` lists the reserved ones.",
        )
    who = holder or "another process"
    stop = f"stop {holder.split(' (')[0]}" if holder and holder.startswith("pid ") else "stop it"
    return PortInUseError(
        f"port {port} on {host} is already in use by {who}",
        f"Pick another port with --port (--port 0 picks a free one), or {stop}.",
    )


def pick_free_port(host: str) -> int:
    """A port that is free on `host` right now (the OS picks it); a foreign host is a settings
    error as with a fixed port."""
    family, sockaddr = _addrinfo(host, 0)
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(sockaddr)
        except OSError as exc:
            raise _cannot_listen(host, 0, exc) from None
        return int(sock.getsockname()[1])
