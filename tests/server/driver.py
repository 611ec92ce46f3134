"""Run launcher.server.serve() like `up` does, in its own process, so tests can signal it.

Usage: python driver.py CONFIG_JSON. The config holds argv, cwd, url, health_url,
ready_timeout, env additions and optionally "guard": "linux" (default on Linux: parent-death
signal and watchdog), "darwin" (the watchdog alone, as on macOS) or "pdeathsig" (the
parent-death signal alone). Prints "READY <pid>" on stdout when on_ready is called (after
checking the HEALTH_LOG already holds a 200), with "told": true "TOLD <pid>…" each time the
guard is told about descendants of the backend, and "EXIT <code>" before exiting with that
code.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from launcher.errors import LauncherError
from launcher.server.guard import Guard, PosixGuard, Watchdog, guard_for
from launcher.server.supervise import ServeTarget, serve
from launcher.up.view import ConsoleEvents


class NoWatchdog(Watchdog):
    """A watchdog that never starts: what the parent-death signal does on its own."""

    def start(self) -> None:
        return None


class Told:
    """The guard of `kind`, saying which descendants it was told about (a test waits for
    that, not for the supervisor's next look at the tree)."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard

    def preexec(self) -> Callable[[], None] | None:
        return self.guard.preexec()

    def started(self, pid: int) -> None:
        self.guard.started(pid)

    def descendants(self, pids: list[int]) -> None:
        self.guard.descendants(pids)
        print("TOLD " + " ".join(str(pid) for pid in pids), flush=True)

    def close(self) -> None:
        self.guard.close()


def make_guard(kind: str | None, told: bool) -> Guard | None:
    if kind == "pdeathsig":
        guard: Guard = PosixGuard(pdeathsig=True, watchdog=NoWatchdog())
    elif kind or told:
        guard = guard_for(kind or sys.platform)
    else:
        return None  # serve()'s own choice
    return Told(guard) if told else guard


def main() -> int:
    config = json.loads(sys.argv[1])
    env = dict(os.environ)
    env.update(config.get("env", {}))

    def on_ready(url: str, pid: int) -> None:
        log = env.get("HEALTH_LOG")
        seen = Path(log).read_text().split() if log and Path(log).exists() else []
        print(f"READY {pid} {url} health-log={','.join(seen)}", flush=True)

    view = ConsoleEvents(also_ready=[on_ready])

    try:
        code = serve(
            config["argv"],
            env=env,
            cwd=Path(config["cwd"]),
            target=ServeTarget(
                url=config["url"],
                health_url=config["health_url"],
                ready_timeout=float(config["ready_timeout"]),
            ),
            events=view.events(),
            guard=make_guard(config.get("guard"), bool(config.get("told"))),
        )
    except LauncherError as exc:
        print(f"ERROR {type(exc).__name__} {exc.exit_code}", flush=True)
        return exc.exit_code
    print(f"EXIT {code}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
