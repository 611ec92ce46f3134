"""The watchdog process: when the launcher is gone, stop the backend's process group.

Run as `python -I watchdog.py LAUNCHER_PID` in its own session, reading lines from a pipe only
the launcher writes: `g PGID`, `p PID CREATE_TIME`, `done` (leave). EOF or a changed parent pid
means the launcher died: SIGTERM to every group and descendant, SIGKILL 0.5 s later. Standard
library only (psutil when importable), so it starts fast.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time
from typing import Any

GRACE = 0.5  # between SIGTERM and SIGKILL
PARENT_CHECK = 0.5  # how often the parent pid is compared when the pipe is quiet


class Targets:
    """The process groups and descendants to stop."""

    def __init__(self) -> None:
        self.groups: set[int] = set()
        self.pids: dict[int, Any] = {}

    def remember(self, pid: int, created: float) -> None:
        try:
            import psutil
        except ImportError:  # pragma: no cover - psutil is a launcher dependency
            self.pids[pid] = None
            return
        try:
            process = psutil.Process(pid)
            if abs(process.create_time() - created) < 0.01:  # the same process, not a reuse
                self.pids[pid] = process
        except Exception:
            return

    def signal_all(self, sig: int) -> None:
        for group in self.groups:
            try:
                os.killpg(group, sig)
            except OSError:
                continue
        for pid, process in self.pids.items():
            try:
                if process is None or process.is_running():
                    os.kill(pid, sig)
            except Exception:
                continue

    def anything_left(self) -> bool:
        for group in self.groups:
            try:
                os.killpg(group, 0)
                return True
            except OSError:
                continue
        return False

    def read(self, line: bytes) -> bool:
        """Take one line from the launcher; False on `done`."""
        words = line.decode(errors="replace").split()
        if words == ["done"]:
            return False
        if len(words) == 2 and words[0] == "g":
            self.groups.add(int(words[1]))
        elif len(words) == 3 and words[0] == "p":
            self.remember(int(words[1]), float(words[2]))
        return True


def watch(parent: int, targets: Targets) -> bool:
    """Follow the launcher's messages; True when it died, False when it said `done`."""
    buffer = b""
    while True:
        ready, _, _ = select.select([0], [], [], PARENT_CHECK)
        if not ready:
            if os.getppid() != parent:
                return True
            continue
        chunk = os.read(0, 4096)
        if not chunk:
            return True
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if not targets.read(line):
                return False


def main(argv: list[str]) -> int:
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # a closing terminal is the launcher's business
    targets = Targets()
    if not watch(int(argv[1]), targets):
        return 0
    targets.signal_all(signal.SIGTERM)
    deadline = time.monotonic() + GRACE
    while targets.anything_left() and time.monotonic() < deadline:
        time.sleep(0.02)
    targets.signal_all(signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.stdout.flush()
    os._exit(main(sys.argv))  # no interpreter teardown: the launcher waits for this exit
