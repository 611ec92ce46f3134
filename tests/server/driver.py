"""Run launcher.server.serve() like `up` does, in its own process, so tests can signal it.

Usage: python driver.py CONFIG_JSON. The config holds argv, cwd, url, health_url,
ready_timeout, env additions and optionally "guard": "linux" (default on Linux: parent-death
signal and watchdog), "darwin" (the watchdog alone, as on macOS) or "pdeathsig" (the
parent-death signal alone). Prints "READY <pid>" on stdout when on_ready is called (after
checking the HEALTH_LOG already holds a 200), and "EXIT <code>" before exiting with that code.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from launcher.errors import LauncherError
from launcher.server.guard import Guard, PosixGuard, Watchdog, guard_for
from launcher.server.supervise import ServeTarget, serve
from launcher.up.view import ConsoleEvents


class NoWatchdog(Watchdog):
    """A watchdog that never starts: what the parent-death signal does on its own."""

    def start(self) -> None:
        return None


def make_guard(kind: str | None) -> Guard | None:
    if kind == "pdeathsig":
        return PosixGuard(pdeathsig=True, watchdog=NoWatchdog())
    return guard_for(kind) if kind else None


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
            guard=make_guard(config.get("guard")),
        )
    except LauncherError as exc:
        print(f"ERROR {type(exc).__name__} {exc.exit_code}", flush=True)
        return exc.exit_code
    print(f"EXIT {code}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
