"""Run the installer: the command line for each dependency source, interruptible and marked.

The installer runs in its own process group: Ctrl-C, SIGTERM or a hangup stop its whole tree
before the launcher exits, and a marker in the venv says an install is under way until it ends.
A silent installer is reported while it waits and stopped after `install_timeout` seconds.
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
from launcher.redact import redact_url
from launcher.venvs.marker import clear_marker, write_marker

INSTALL_TIMEOUT = 600.0  # seconds (the install_timeout setting); a stuck index must not hang `up`
POLL = 0.1
QUIET_FOR = 15.0  # seconds of installer silence before the launcher says it is still waiting
SETTING = "install_timeout"


@dataclass(frozen=True)
class InstallPlan:
    """The installer to run: its short name, argv and extra environment."""

    tool: str
    argv: list[str]
    env: dict[str, str]


def _installer(venv_python: Path, uv: str | None, reinstall: bool) -> tuple[str, list[str]]:
    """`uv pip install` into the venv when uv is there, else the venv's pip; args to follow."""
    if uv:
        again = ["--reinstall"] if reinstall else []
        return "uv", [uv, "pip", "install", "--python", str(venv_python), *again]
    again = ["--force-reinstall"] if reinstall else []
    pip = [str(venv_python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    return "pip", [*pip, *again]


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
    if source.kind == "uv.lock" and uv:
        check = "--frozen" if frozen else "--locked"
        again = ["--reinstall"] if reinstall else []
        env = {"UV_PROJECT_ENVIRONMENT": str(venv), "VIRTUAL_ENV": str(venv)}
        return InstallPlan("uv", [uv, "sync", check, "--no-python-downloads", *again], env)
    tool, argv = _installer(venv_python, uv, reinstall)
    if source.kind == "pylock.toml" and uv and source.lock:
        files = ["-r", str(source.lock)]
    elif source.kind == "poetry.lock" and pinned is not None:
        files = ["-r", str(pinned[0]), "-c", str(pinned[1])]
    else:  # requirements and pyproject
        requirements = source.inputs.requirements
        files = [*source.inputs.dependencies, *(["-r", str(requirements)] if requirements else [])]
    return InstallPlan(tool, [*argv, *files], {})


def run_plan(
    plan: InstallPlan,
    env: Mapping[str, str],
    cwd: Path,
    venv: Path,
    timeout: float = INSTALL_TIMEOUT,
) -> proc.Result:
    """Run the installer with the venv marked as "install under way" until it exits by itself.

    An interrupted install (a stop signal, or `timeout` seconds gone by: 0 means none) keeps
    the marker (the next `up` repairs the venv) and raises DependencyError; an installer that
    failed on its own clears it (the venv is as whole as the installer left it).
    """
    child = dict(env)
    child.update(plan.env)
    child.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    child.setdefault("UV_NO_PROGRESS", "1")
    write_marker(venv, plan.tool)
    watch = Watch(plan.tool, index_url(child), timeout)
    result = run_interruptible(plan.argv, child, cwd, timeout, watch)
    clear_marker(venv)
    return result


def index_url(env: Mapping[str, str]) -> str | None:
    """The package index the installer was pointed at by the environment (credentials
    masked), or None: then it is the default one, or the one the project's lock file names."""
    for name in ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL"):
        if env.get(name):
            return redact_url(env[name])
    return None


class Watch:
    """A silent installer, watched: when it last said something, what it waits on, and the
    words for "still waiting" and "gave up"."""

    def __init__(self, tool: str, index: str | None, timeout: float) -> None:
        self.tool, self.index, self.timeout = tool, index, timeout
        self.started = self.heard = time.monotonic()
        self.every = min(QUIET_FOR, timeout / 4) if timeout > 0 else QUIET_FOR
        self.said = self.started
        self.waiting = ""  # what it waited on when last looked at

    def heard_from(self) -> None:
        self.heard = time.monotonic()

    def expired(self) -> bool:
        return self.timeout > 0 and time.monotonic() - self.started > self.timeout

    def tick(self, pid: int) -> None:
        """Say, every `every` seconds of silence, that the install goes on and on what."""
        now = time.monotonic()
        if now - self.heard < self.every or now - self.said < self.every:
            return
        self.said = now
        self.look(pid)
        doing = self.waiting or f"no output for {now - self.heard:.0f} s"
        logger.info(f"still installing with {self.tool}: {doing} ({now - self.started:.0f} s)")

    def gave_up(self, text: str) -> DependencyError:
        """The one line for an install stopped at the timeout (call `look` before the kill)."""
        last = next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), "")
        doing = self.waiting or (f"its last words: {last}" if last else "it said nothing")
        logger.debug(f"installer stopped after {self.timeout:g} s: {text[-2000:]}")
        return DependencyError(
            f"installing dependencies with {self.tool} gave up after {self.timeout:g} s "
            f"({SETTING}); {doing}",
            "Check the network, the proxy (HTTPS_PROXY) and the package index (UV_INDEX_URL / "
            f"PIP_INDEX_URL); a slow but working install needs a larger {SETTING} "
            "([tool.robo-backend] or ROBO_BACKEND_INSTALL_TIMEOUT; 0: no limit).",
        )

    def look(self, pid: int) -> None:
        """Note what the installer waits on right now (its tree must still be alive)."""
        self.waiting = waiting_on(pid, self.index) or self.waiting


def waiting_on(pid: int, index: str | None) -> str:
    """ "waiting for the package index …" when the installer's process tree holds a network
    connection open (what else would it wait on), else ""."""
    import psutil

    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:
        return ""
    for process in tree:
        try:
            connections = getattr(process, "net_connections", process.connections)(kind="inet")
        except psutil.Error:
            continue
        if any(connection.raddr for connection in connections):
            return f"waiting for the package index {index}" if index else "waiting for the network"
    return ""


def run_interruptible(
    argv: list[str], env: Mapping[str, str], cwd: Path, timeout: float, watch: Watch | None = None
) -> proc.Result:
    """Run `argv` to completion; a stop signal kills its whole tree, then raises
    DependencyError with 130 (Ctrl-C), 143 (SIGTERM) or 129 (hangup); so does running longer
    than `timeout` seconds (0: no limit), exit 1, with what it was waiting on."""
    from launcher.server.tree import StopFlag, kill_tree, stop_signals_to

    watch = watch or Watch(Path(argv[0]).stem, None, timeout)
    flag = StopFlag()
    with stop_signals_to(flag):
        try:
            child = proc.spawn(argv, env=env, cwd=cwd, windows=sys.platform == "win32")
        except OSError as exc:
            return proc.Result(list(argv), 127, "", f"{exc.strerror}: {argv[0]}")
        output: list[bytes] = []
        reader = threading.Thread(target=_drain, args=(child, output, watch), daemon=True)
        reader.start()
        timed_out = False
        try:
            while child.poll() is None:
                timed_out = watch.expired()
                if flag.signum is not None or timed_out:
                    if timed_out:
                        watch.look(child.pid)
                    kill_tree(child.pid)
                    child.wait(timeout=10)
                    break
                watch.tick(child.pid)
                time.sleep(POLL)
        except BaseException:  # the console closed under a "still installing" line, …
            kill_tree(child.pid)  # … never leave the installer running on its own
            raise
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
        raise watch.gave_up(text)
    return proc.Result(list(argv), child.returncode, text, "")


def _drain(child: object, output: list[bytes], watch: Watch) -> None:
    stream = getattr(child, "stdout", None)
    if stream is None:
        return
    for chunk in iter(lambda: stream.read1(65536), b""):
        output.append(chunk)
        watch.heard_from()
