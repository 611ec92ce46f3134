"""The probes that touch the real machine: the defaults of `DoctorContext`.

Each is a plain function, bounded in time, that a test replaces through the context.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

PROBE_TIMEOUT = 1.5  # seconds: PowerShell, `uv --version`


class HubAnswer(NamedTuple):
    """What a hub probe got: an HTTP status, or an error text when no answer came."""

    status: int | None
    error: str | None
    seconds: float


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


def split_credentials(url: str) -> tuple[str, str | None]:
    """`http://user:pw@host/x` → (`http://host/x`, base64 of `user:pw` for Basic auth).

    urllib would take `user:pw@host` for the host name; the hub clients send the credentials
    as Basic auth instead, and so does the probe.
    """
    import base64
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    pair = f"{unquote(user)}:{unquote(password)}".encode()
    return urlunsplit(parts._replace(netloc=host)), base64.b64encode(pair).decode("ascii")


def probe_hub(url: str, timeout: float, token: str | None = None) -> HubAnswer:
    """One real GET of `url`, bounded by `timeout` in total (name resolution included).

    urllib's own timeout does not cover DNS, so the request runs in a daemon thread that is
    abandoned when the time is up: a machine with no network answers in `timeout`, not in the
    resolver's 5-20 s.
    """
    import urllib.error
    import urllib.request

    result: list[HubAnswer] = []
    started = time.perf_counter()
    silent = f"no answer within {timeout:g} s"

    plain_url, basic = split_credentials(url)

    def request() -> None:
        headers = {"User-Agent": "robo-backend-doctor"}
        if basic:  # a mirror's own login wins, as in huggingface_hub's HTTP clients
            headers["Authorization"] = f"Basic {basic}"
        elif token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(plain_url, headers=headers, method="GET")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310
                response.read(65536)
                result.append(HubAnswer(response.status, None, time.perf_counter() - started))
        except urllib.error.HTTPError as exc:
            result.append(HubAnswer(exc.code, None, time.perf_counter() - started))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            text = silent if isinstance(reason, TimeoutError) else str(reason)
            result.append(HubAnswer(None, text, time.perf_counter() - started))

    worker = threading.Thread(target=request, name="doctor-hub-probe", daemon=True)
    worker.start()
    worker.join(timeout)
    if result:
        return result[0]
    return HubAnswer(None, silent, time.perf_counter() - started)


def existing_ancestor(path: Path) -> Path:
    """`path` itself when it exists, else its nearest existing parent (where a probe can run)."""
    current = path
    while not os.path.lexists(current) and current.parent != current:
        current = current.parent
    return current


PROBE_BYTES = 64 * 1024  # more than any state file we write: a full disk fails the probe
DISK_FULL = "the disk is full"


def write_probe_in(folder: Path) -> str | None:
    """None when a file can really be written (PROBE_BYTES, flushed to the disk) and deleted in
    `folder`, else the error text.

    Creates nothing that stays. `os.access` lies about ACLs and read-only mounts, and an empty
    file can still be created on a full disk (it needs no block); writing tells the truth."""
    name = ""
    try:
        handle, name = tempfile.mkstemp(prefix=".robo-backend-probe-", dir=folder)
        with os.fdopen(handle, "wb") as probe:  # writes it all, or raises
            probe.write(b"\0" * PROBE_BYTES)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        return _why(exc)
    finally:
        if name:
            with contextlib.suppress(OSError):
                os.unlink(name)
    return None


def _why(exc: OSError) -> str:
    text = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return f"{text}: {DISK_FULL}"
    return text


def disk_usage(path: Path) -> DiskUsage:
    return DiskUsage(*shutil.disk_usage(path))


def execution_policy_list() -> str:
    """The text of `Get-ExecutionPolicy -List` (Windows PowerShell), "" when it cannot run."""
    from launcher import proc

    for exe in ("powershell", "pwsh"):
        done = proc.run(
            [exe, "-NoProfile", "-NonInteractive", "-Command", "Get-ExecutionPolicy -List"],
            timeout=PROBE_TIMEOUT,
        )
        if done.ok:
            return done.stdout
        if done.returncode != 127:  # it exists but failed or timed out: do not wait twice
            break
    return ""


def long_paths_enabled() -> bool | None:
    """`LongPathsEnabled` from the registry; None when it cannot be read (not Windows)."""
    try:
        import winreg  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        key = winreg.OpenKey(  # type: ignore[attr-defined]
            winreg.HKEY_LOCAL_MACHINE,  # type: ignore[attr-defined]
            r"SYSTEM\CurrentControlSet\Control\FileSystem",
        )
        value, _ = winreg.QueryValueEx(key, "LongPathsEnabled")  # type: ignore[attr-defined]
    except OSError:
        return None
    return bool(value)


def port_check(host: str, port: int) -> None:
    """The same port probe `up` runs (raises PortInUseError naming the holder)."""
    from launcher.server.port import check_port

    check_port(host, port)


def default_find_uv(env: Mapping[str, str]) -> str | None:
    """The uv `up` would use with the environment `env` (launcher.platform.find_uv)."""
    from launcher.platform import PlatformFacts, find_uv

    return find_uv(PlatformFacts.local(env))
