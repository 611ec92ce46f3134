"""Run the installer: the command line for each dependency source, interruptible and marked.

`uv sync` for uv.lock (into the launcher's venv through UV_PROJECT_ENVIRONMENT), `uv pip install
-r pylock.toml`, `uv pip install -r <pins> -c <lock>` for what poetry.lock pins (no poetry
needed), `uv pip install` (or the venv's pip) for requirements and pyproject dependencies.
The installer runs in its own process group; Ctrl-C,
SIGTERM or a hangup stop its whole process tree before the launcher exits (130, 143, 129), and
a marker in the venv says an install is under way until it has finished.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from launcher import proc
from launcher.deps.sources import DependencySource
from launcher.errors import DependencyError
from launcher.venvs.marker import clear_marker, write_marker

INSTALL_TIMEOUT = 1800.0  # seconds; a stuck resolver must not hang `up` forever
POLL = 0.1


@dataclass(frozen=True)
class InstallPlan:
    """The installer to run: its short name, argv and extra environment."""

    tool: str
    argv: list[str]
    env: dict[str, str]


def install_argv(
    source: DependencySource, venv_python: Path, uv: str | None, *, reinstall: bool = False
) -> tuple[str, list[str]]:
    """The installer and its argv for a requirements/pyproject source (uv pip, else pip)."""
    inputs = source.inputs
    packages = list(inputs.dependencies)
    if inputs.requirements is not None:
        packages += ["-r", str(inputs.requirements)]
    again = ["--reinstall"] if reinstall else []
    if uv:
        return "uv", [uv, "pip", "install", "--python", str(venv_python), *again, *packages]
    pip_again = ["--force-reinstall"] if reinstall else []
    return "pip", [
        str(venv_python),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        *pip_again,
        *packages,
    ]


def plan_install(
    source: DependencySource,
    venv_python: Path,
    uv: str | None,
    *,
    frozen: bool = False,
    reinstall: bool = False,
    pinned: tuple[Path, Path] | None = None,
) -> InstallPlan:
    """What to run for `source`. uv.lock: `uv sync --locked` (`--frozen` once the lock is
    known to be stale: the locked versions are still what gets installed). poetry.lock:
    `pinned` is the (requirements, constraints) pair poetry_lock.py wrote for this venv."""
    venv = venv_python.parent.parent
    again = ["--reinstall"] if reinstall else []
    if source.kind == "uv.lock" and uv:
        check = "--frozen" if frozen else "--locked"
        env = {"UV_PROJECT_ENVIRONMENT": str(venv), "VIRTUAL_ENV": str(venv)}
        return InstallPlan("uv", [uv, "sync", check, "--no-python-downloads", *again], env)
    if source.kind == "pylock.toml" and uv and source.lock:
        argv = [uv, "pip", "install", "--python", str(venv_python), *again, "-r", str(source.lock)]
        return InstallPlan("uv", argv, {})
    if source.kind == "poetry.lock" and pinned is not None:
        files = ["-r", str(pinned[0]), "-c", str(pinned[1])]
        if uv:
            argv = [uv, "pip", "install", "--python", str(venv_python), *again, *files]
            return InstallPlan("uv", argv, {})
        pip_again = ["--force-reinstall"] if reinstall else []
        argv = [str(venv_python), "-m", "pip", "install", "--disable-pip-version-check"]
        return InstallPlan("pip", [*argv, "--no-input", *pip_again, *files], {})
    tool, argv = install_argv(source, venv_python, uv, reinstall=reinstall)
    return InstallPlan(tool, argv, {})


def run_plan(plan: InstallPlan, env: Mapping[str, str], cwd: Path, venv: Path) -> proc.Result:
    """Run the installer with the venv marked as "install under way" until it exits by itself.

    An interrupted install keeps the marker (the next `up` repairs the venv); an installer
    that failed on its own clears it (the venv is as whole as the installer left it).
    """
    child = dict(env)
    child.update(plan.env)
    child.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    child.setdefault("UV_NO_PROGRESS", "1")
    write_marker(venv, plan.tool)
    result = run_interruptible(plan.argv, child, cwd, INSTALL_TIMEOUT)
    clear_marker(venv)
    return result


def run_interruptible(
    argv: list[str], env: Mapping[str, str], cwd: Path, timeout: float
) -> proc.Result:
    """Run `argv` to completion; a stop signal kills its whole tree, then raises
    DependencyError with 130 (Ctrl-C), 143 (SIGTERM) or 129 (hangup)."""
    from launcher.server.tree import StopFlag, kill_tree, stop_signals_to

    flag = StopFlag()
    with stop_signals_to(flag):
        try:
            child = proc.spawn(argv, env=env, cwd=cwd, windows=sys.platform == "win32")
        except OSError as exc:
            return proc.Result(list(argv), 127, "", f"{exc.strerror}: {argv[0]}")
        output: list[bytes] = []
        reader = threading.Thread(target=_drain, args=(child, output), daemon=True)
        reader.start()
        deadline = time.monotonic() + timeout
        timed_out = False
        while child.poll() is None:
            timed_out = time.monotonic() > deadline
            if flag.signum is not None or timed_out:
                kill_tree(child.pid)
                child.wait(timeout=10)
                break
            time.sleep(POLL)
        reader.join(timeout=5)
    text = b"".join(output).decode("utf-8", errors="replace")
    if flag.signum is not None:
        logger.debug(f"installer stopped after {flag.reason}: {text[-2000:]}")
        raise DependencyError(
            f"interrupted ({flag.reason}) while installing dependencies; the installer and its "
            "children were stopped",
            "Run `robo-backend up` again: it finds the unfinished install and repairs the venv.",
            exit_code=flag.exit_code,
        )
    if timed_out or child.returncode is None:
        return proc.Result(list(argv), 124, text, f"\ntimed out after {timeout:.0f} s")
    return proc.Result(list(argv), child.returncode, text, "")


def _drain(child: object, output: list[bytes]) -> None:
    stream = getattr(child, "stdout", None)
    if stream is None:
        return
    for chunk in iter(lambda: stream.read1(65536), b""):
        output.append(chunk)
