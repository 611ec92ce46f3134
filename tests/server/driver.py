"""Run launcher.server.serve() like `up` does, in its own process, so tests can signal it.

Usage: python driver.py CONFIG_JSON. The config holds argv, cwd, url, health_url,
ready_timeout and env additions. Prints "READY <pid>" on stdout when on_ready is called (after
checking the HEALTH_LOG already holds a 200), and "EXIT <code>" before exiting with that code.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from launcher.errors import LauncherError
from launcher.server import serve


def main() -> int:
    config = json.loads(sys.argv[1])
    env = dict(os.environ)
    env.update(config.get("env", {}))

    def on_ready(url: str, pid: int) -> None:
        log = env.get("HEALTH_LOG")
        seen = Path(log).read_text().split() if log and Path(log).exists() else []
        print(f"READY {pid} {url} health-log={','.join(seen)}", flush=True)

    try:
        code = serve(
            config["argv"],
            env=env,
            cwd=Path(config["cwd"]),
            url=config["url"],
            health_url=config["health_url"],
            ready_timeout=float(config["ready_timeout"]),
            on_ready=on_ready,
        )
    except LauncherError as exc:
        print(f"ERROR {type(exc).__name__} {exc.exit_code}", flush=True)
        return exc.exit_code
    print(f"EXIT {code}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
