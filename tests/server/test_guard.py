"""No orphans: a launcher killed with SIGKILL takes its backend tree with it.

Real processes: a driver process runs serve() with a real uvicorn (tests/server/driver.py), the
test kills the driver with SIGKILL and checks with psutil that nothing of the tree survives and
that the port can be listened on again. Each platform's mechanism is tried on its own where
this machine can run it: the watchdog alone (what macOS gets), the parent-death signal alone,
both (Linux). The Windows Job Object is checked with an injected kernel32, like the rest of the
Windows code.
"""

from __future__ import annotations

import ctypes
import signal
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from launcher.server.guard import (
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    WATCHDOG,
    ExtendedLimits,
    JobObjectGuard,
    PosixGuard,
    guard_for,
)
from launcher.server.port import check_port, pick_free_port
from tests.helpers.serve_driver import Driver, config
from tests.helpers.serve_driver import driver as driver  # the fixture
from tests.processes import alive

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only"
)


def _kill_and_expect_no_survivor(run: Driver, port: int, expect: int) -> None:
    run.expect("READY")
    tree = run.remember_tree()
    uvicorn = [p for p in psutil.Process(run.popen.pid).children() if "uvicorn" in p.cmdline()]
    assert len(uvicorn) == 1, [p.cmdline() for p in tree]
    backend = [uvicorn[0], *uvicorn[0].children(recursive=True)]
    assert len(backend) >= expect, [p.cmdline() for p in tree]
    run.wait_told({p.pid for p in backend})  # the --reload worker too
    run.popen.send_signal(signal.SIGKILL)
    run.popen.wait(timeout=10)
    deadline = time.monotonic() + 5
    while alive(backend) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert alive(backend) == [], [p.cmdline() for p in alive(backend)]
    check_port("127.0.0.1", port)  # the next `up` can listen here


@posix_only
@pytest.mark.parametrize(
    ("guard", "extra", "expect"),
    [
        (None, (), 1),
        (None, ("--reload",), 2),
        ("darwin", ("--reload",), 2),
        pytest.param("pdeathsig", (), 1, marks=linux_only),
    ],
    ids=["default", "default-reload", "watchdog-only-reload", "pdeathsig-only"],
)
def test_sigkill_of_the_launcher_leaves_no_backend_process(
    driver: type[Driver], tmp_path: Path, guard: str | None, extra: tuple[str, ...], expect: int
) -> None:
    port = pick_free_port("127.0.0.1")
    settings = config(tmp_path, port, *extra)
    settings["told"] = True
    if guard:
        settings["guard"] = guard
    _kill_and_expect_no_survivor(driver(settings), port, expect)


@posix_only
def test_a_normal_stop_dismisses_the_watchdog(driver: type[Driver], tmp_path: Path) -> None:
    """After SIGINT the driver exits 130 and its watchdog is gone too (no stray process)."""
    port = pick_free_port("127.0.0.1")
    run = driver(config(tmp_path, port))
    run.expect("READY")
    tree = run.remember_tree()
    watchdogs = [p for p in tree if str(WATCHDOG) in p.cmdline()]
    assert len(watchdogs) == 1, [p.cmdline() for p in tree]
    run.popen.send_signal(signal.SIGINT)
    assert run.popen.wait(timeout=20) == 130
    deadline = time.monotonic() + 5
    while alive(tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive(tree) == []


class FakeKernel32:
    """Records the Job Object calls the Windows guard makes; handles are small integers."""

    def __init__(self, *, create: int = 7, set_ok: int = 1, open_handle: int = 11) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.create, self.set_ok, self.open_handle = create, set_ok, open_handle
        self.limit_flags: int | None = None

    def CreateJobObjectW(self, attributes: Any, name: Any) -> int:  # noqa: N802 - Win32 name
        self.calls.append(("CreateJobObjectW", name))
        return self.create

    def SetInformationJobObject(self, job: int, cls: int, info: Any, size: int) -> int:  # noqa: N802
        limits = ctypes.cast(info, ctypes.POINTER(ExtendedLimits)).contents
        self.limit_flags = int(limits.BasicLimitInformation.LimitFlags)
        self.calls.append(("SetInformationJobObject", (job, cls, size)))
        return self.set_ok

    def OpenProcess(self, access: int, inherit: bool, pid: int) -> int:  # noqa: N802
        self.calls.append(("OpenProcess", (access, inherit, pid)))
        return self.open_handle

    def AssignProcessToJobObject(self, job: int, process: int) -> int:  # noqa: N802
        self.calls.append(("AssignProcessToJobObject", (job, process)))
        return 1

    def CloseHandle(self, handle: int) -> int:  # noqa: N802
        self.calls.append(("CloseHandle", handle))
        return 1


def test_windows_runs_the_backend_in_a_kill_on_close_job() -> None:
    kernel32 = FakeKernel32()
    guard = guard_for("win32", kernel32=kernel32)
    assert isinstance(guard, JobObjectGuard)
    assert guard.preexec() is None
    guard.started(4242)
    guard.descendants([4243])
    guard.close()
    names = [name for name, _ in kernel32.calls]
    assert names == [
        "CreateJobObjectW",
        "SetInformationJobObject",
        "OpenProcess",
        "AssignProcessToJobObject",
        "CloseHandle",
    ]
    assert kernel32.limit_flags is not None
    assert kernel32.limit_flags & JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
    assert dict(kernel32.calls)["SetInformationJobObject"] == (7, 9, ctypes.sizeof(ExtendedLimits))
    assert dict(kernel32.calls)["AssignProcessToJobObject"] == (7, 11)
    assert dict(kernel32.calls)["OpenProcess"][2] == 4242
    # the job handle itself is never closed: the OS closes it when the launcher exits
    assert ("CloseHandle", 7) not in kernel32.calls


def test_windows_without_a_job_still_starts_the_backend() -> None:
    """CreateJobObjectW failing (a locked-down machine) is logged, not fatal."""
    kernel32 = FakeKernel32(create=0)
    guard = guard_for("win32", kernel32=kernel32)
    guard.started(4242)
    assert [name for name, _ in kernel32.calls] == ["CreateJobObjectW"]


@posix_only
def test_each_platform_gets_its_mechanism() -> None:
    linux = guard_for("linux")
    mac = guard_for("darwin")
    try:
        assert isinstance(linux, PosixGuard) and linux.pdeathsig
        assert linux.preexec() is not None
        assert isinstance(mac, PosixGuard) and not mac.pdeathsig
        assert mac.preexec() is None  # macOS has no parent-death signal: the watchdog only
    finally:
        linux.close()
        mac.close()
    for guard in (linux, mac):
        assert guard.watchdog.process.returncode == 0  # "done": it left cleanly
