"""No orphans: the backend dies with the launcher, however the launcher dies (even kill -9).

Linux: a parent-death signal plus the watchdog (`watchdog.py`); macOS: the watchdog; Windows: a
Job Object that kills the tree when the launcher's handle closes (docs/supervision.md).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from launcher import proc

PR_SET_PDEATHSIG = 1
JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x2000
JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS = 9
PROCESS_SET_QUOTA = 0x0100
PROCESS_TERMINATE = 0x0001

WATCHDOG = Path(__file__).with_name("watchdog.py")


class Guard(Protocol):
    """What serve() asks of the orphan protection of one platform."""

    def preexec(self) -> Callable[[], None] | None: ...  # run in the child before exec (POSIX)

    def started(self, pid: int) -> None: ...  # the backend exists (pid = its group id on POSIX)

    def descendants(self, pids: list[int]) -> None: ...  # newly seen (they may leave its group)

    def close(self) -> None: ...  # the launcher stopped the backend itself: stand down


class Watchdog:
    """The watchdog process (POSIX), told about the backend's group and descendants."""

    def __init__(self, spawn: Callable[..., Any] = proc.spawn) -> None:
        self._spawn = spawn
        self._pipe: Any = None

    def start(self) -> None:
        try:
            child = self._spawn(
                [sys.executable, "-I", str(WATCHDOG), str(os.getpid())],
                env=dict(os.environ),
                cwd=os.path.abspath(os.sep),
                windows=False,
                stdin_pipe=True,
                output=False,
            )
        except OSError as exc:  # pragma: no cover - the launcher's own interpreter is there
            _debug(f"no watchdog: {exc}")
            return
        self._pipe = child.stdin
        self.process = child

    def send(self, line: str) -> None:
        if self._pipe is None:
            return
        try:
            self._pipe.write(line.encode() + b"\n")
            self._pipe.flush()
        except OSError as exc:
            _debug(f"watchdog gone: {exc}")
            self._pipe = None

    def close(self) -> None:
        self.send("done")
        if self._pipe is not None:
            with contextlib.suppress(OSError):
                self._pipe.close()
            self._pipe = None
        process = getattr(self, "process", None)
        if process is not None:
            with contextlib.suppress(Exception):
                process.wait(timeout=2)


class PosixGuard:
    """Watchdog everywhere on POSIX; on Linux also the parent-death signal."""

    def __init__(self, *, pdeathsig: bool, watchdog: Watchdog | None = None) -> None:
        self.pdeathsig = pdeathsig
        self.watchdog = watchdog or Watchdog()
        self.watchdog.start()

    def preexec(self) -> Callable[[], None] | None:
        if not self.pdeathsig:
            return None
        return parent_death_signal(os.getpid(), signal.SIGTERM)

    def started(self, pid: int) -> None:
        self.watchdog.send(f"g {pid}")

    def descendants(self, pids: list[int]) -> None:
        import psutil

        for pid in pids:
            with contextlib.suppress(psutil.Error, OSError):
                self.watchdog.send(f"p {pid} {psutil.Process(pid).create_time():.6f}")

    def close(self) -> None:
        self.watchdog.close()


def parent_death_signal(parent: int, sig: int) -> Callable[[], None]:
    """A preexec hook: the kernel sends `sig` to the child when the launcher dies (the child
    kills itself if that happened before prctl); libc is loaded here, not in the child."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


class _BasicLimits(ctypes.Structure):
    _fields_ = [
        ("PerProcessUserTimeLimit", ctypes.c_int64),
        ("PerJobUserTimeLimit", ctypes.c_int64),
        ("LimitFlags", ctypes.c_uint32),
        ("MinimumWorkingSetSize", ctypes.c_size_t),
        ("MaximumWorkingSetSize", ctypes.c_size_t),
        ("ActiveProcessLimit", ctypes.c_uint32),
        ("Affinity", ctypes.c_size_t),
        ("PriorityClass", ctypes.c_uint32),
        ("SchedulingClass", ctypes.c_uint32),
    ]


class ExtendedLimits(ctypes.Structure):
    """JOBOBJECT_EXTENDED_LIMIT_INFORMATION."""

    _fields_ = [
        ("BasicLimitInformation", _BasicLimits),
        ("IoInfo", ctypes.c_uint64 * 6),  # IO_COUNTERS: six ULONGLONG counters
        ("ProcessMemoryLimit", ctypes.c_size_t),
        ("JobMemoryLimit", ctypes.c_size_t),
        ("PeakProcessMemoryUsed", ctypes.c_size_t),
        ("PeakJobMemoryUsed", ctypes.c_size_t),
    ]


class JobObjectGuard:
    """Windows: the backend in a kill-on-close Job Object (its children join it). The handle is
    never closed by us: the OS closes it when the launcher exits, and that kills the tree.
    `kernel32` is injectable (tests pass a recorder)."""

    def __init__(self, kernel32: Any = None) -> None:
        self.kernel32 = kernel32 if kernel32 is not None else _windows_kernel32()
        self.job = self.kernel32.CreateJobObjectW(None, None)
        if not self.job:
            _debug("CreateJobObjectW failed: no kill-on-close job")
            return
        limits = ExtendedLimits()
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
        ok = self.kernel32.SetInformationJobObject(
            self.job,
            JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS,
            ctypes.byref(limits),
            ctypes.sizeof(limits),
        )
        if not ok:
            _debug("SetInformationJobObject failed: no kill-on-close job")
            self.job = None

    def preexec(self) -> Callable[[], None] | None:
        return None

    def started(self, pid: int) -> None:
        if not self.job:
            return
        handle = self.kernel32.OpenProcess(PROCESS_SET_QUOTA | PROCESS_TERMINATE, False, pid)
        if not handle:
            _debug(f"OpenProcess({pid}) failed: the backend is not in the job")
            return
        try:
            if not self.kernel32.AssignProcessToJobObject(self.job, handle):
                _debug(f"AssignProcessToJobObject({pid}) failed")
        finally:
            self.kernel32.CloseHandle(handle)

    def descendants(self, pids: list[int]) -> None:
        return None  # children of a process in a job are in the job too

    def close(self) -> None:
        return None  # the tree is stopped; the handle closes with the launcher


def _windows_kernel32() -> Any:  # pragma: no cover - Windows only
    """kernel32 with pointer-sized handle types (the default int would truncate them)."""
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32.CreateJobObjectW.restype = wintypes.HANDLE
    kernel32.CreateJobObjectW.argtypes = (wintypes.LPVOID, wintypes.LPCWSTR)
    kernel32.SetInformationJobObject.restype = wintypes.BOOL
    kernel32.SetInformationJobObject.argtypes = (
        wintypes.HANDLE,
        ctypes.c_int,
        wintypes.LPVOID,
        wintypes.DWORD,
    )
    kernel32.OpenProcess.restype = wintypes.HANDLE
    kernel32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
    kernel32.AssignProcessToJobObject.restype = wintypes.BOOL
    kernel32.AssignProcessToJobObject.argtypes = (wintypes.HANDLE, wintypes.HANDLE)
    kernel32.CloseHandle.restype = wintypes.BOOL
    kernel32.CloseHandle.argtypes = (wintypes.HANDLE,)
    return kernel32


def guard_for(platform: str, *, kernel32: Any = None, watchdog: Watchdog | None = None) -> Guard:
    """The orphan protection of `platform` (sys.platform's spelling)."""
    if platform == "win32":
        return JobObjectGuard(kernel32)
    return PosixGuard(pdeathsig=platform.startswith("linux"), watchdog=watchdog)


def _debug(message: str) -> None:
    from loguru import logger  # imported on use: an early start guards before logging exists

    logger.debug(message)
