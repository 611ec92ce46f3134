"""The environment step of `up` (venv, then dependencies) as its own process, for tests that
interrupt it or race two of them: `python -m tests.helpers.envstep PROJECT [GO_FILE]`.

It runs the launcher's real code behind the CLI's real error boundary (exit codes 0/1/2, 130
after Ctrl-C, 143 after SIGTERM), prints the venv and dependency outcomes, and with GO_FILE
prints READY and waits until that file exists first (a barrier for starting several at the
same moment, once all of them said READY).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import typer


def main(project: Path, go_file: Path | None) -> None:
    from launcher.deps import sync_dependencies
    from launcher.platform import PlatformFacts
    from launcher.ui import console
    from launcher.venvs import ensure_venv

    console.setup_logging(verbose=False, quiet=False)
    if go_file is not None:
        print("READY", flush=True)
        deadline = time.monotonic() + 60
        while not go_file.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
    facts = PlatformFacts.current()
    venv = ensure_venv(project, Path(".venv"), None, facts)
    print(f"VENV {venv.method}", flush=True)
    deps = sync_dependencies(project, venv.python, "auto", project / ".robo-backend", os.environ)
    print(f"DEPS {deps.reason}", flush=True)


if __name__ == "__main__":
    from launcher.cli import boundary

    go = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    try:
        boundary(main)(Path(sys.argv[1]), go)
    except typer.Exit as done:
        sys.exit(done.exit_code)
