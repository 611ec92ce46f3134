"""Make the venv hold the project's dependencies, and skip that entirely when nothing changed.

Holds the project's environment lock (a second `up` waits, then finds the stamp in sync),
repairs a half-installed venv by reinstalling, and reports a stale uv.lock the way uv does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from launcher import proc
from launcher.deps.installer import INSTALL_TIMEOUT, plan_install, run_plan
from launcher.deps.poetry_lock import write_pinned
from launcher.deps.sources import DependencySource, find_source
from launcher.deps.stamp import compute_stamp, read_stamp, stamp_state, write_stamp
from launcher.deps.wheels import MissingWheel, missing_wheel
from launcher.errors import DependencyError
from launcher.platform import PlatformFacts, find_uv
from launcher.venvs.marker import UV_BROKEN_METADATA, interrupted_install
from launcher.venvs.project_lock import env_lock

MODES = ("auto", "always", "never")
TAIL_LINES = 15
STALE_LOCK = "needs to be updated"
"""What `uv sync --locked` says when uv.lock no longer matches pyproject.toml."""


@dataclass(frozen=True)
class DepsResult:
    """What the sync did: `installed` (an installer ran and succeeded), with which `tool`
    ("uv" or "pip", None when nothing ran), a human `reason`, how long it took, and the
    dependency `source` label (for `doctor`/-v)."""

    installed: bool
    tool: str | None
    reason: str
    seconds: float = 0.0
    source: str = ""


class InstallFailed(DependencyError):
    """The installer ran and failed; `missing` names the package it found no wheel for (when
    that is why), so `up` can try once more on another Python."""

    def __init__(self, message: str, hint: str, missing: MissingWheel | None) -> None:
        super().__init__(message, hint)
        self.missing = missing


def sync_dependencies(
    project: Path,
    venv_python: Path,
    mode: str,
    state_dir: Path,
    env: Mapping[str, str],
    *,
    installer: str = "auto",
    before_install: Callable[[DependencySource], None] | None = None,
    timeout: float = INSTALL_TIMEOUT,
) -> DepsResult:
    """Make the venv hold the project's dependencies; `mode` is auto, always or never.

    auto installs only when the stamp differs or the venv is half-installed. `installer` is auto
    (uv, else pip), uv or pip; `before_install` is called under the lock just before an installer
    runs; `timeout` bounds each run (0: none). A failed install raises DependencyError with the
    installer's last lines (InstallFailed when a wheel was missing) and leaves the stamp untouched.
    """
    if mode not in MODES:
        raise ValueError(f"unknown install mode {mode!r}")
    if installer not in ("auto", "uv", "pip"):
        raise ValueError(f"unknown installer {installer!r}")
    facts = PlatformFacts.local(env)
    uv = None if installer == "pip" else find_uv(facts)
    if installer == "uv" and uv is None:
        raise DependencyError(
            "uv was asked for but is not installed",
            "Install it (pip install uv) or let the launcher use pip.",
        )
    source = find_source(project, uv=uv is not None)
    started = time.perf_counter()
    job = _Job(project, venv_python, state_dir, env, source, uv, started, timeout, before_install)
    if source.empty:
        return job.done(
            False,
            None,
            "no dependencies declared (no [project].dependencies or [tool.poetry.dependencies] "
            "in pyproject.toml, no requirements*.txt, no lock file): nothing to install",
        )
    if mode == "never":
        state = stamp_state(project, venv_python, state_dir, source)
        return job.done(False, None, f"install = never: skipped (stamp {state})")
    with env_lock(state_dir, "installing dependencies"):
        return job.sync(mode)


@dataclass
class _Job:
    project: Path
    venv_python: Path
    state_dir: Path
    env: Mapping[str, str]
    source: DependencySource
    uv: str | None
    started: float
    timeout: float
    before_install: Callable[[DependencySource], None] | None = None

    @property
    def venv(self) -> Path:
        return self.venv_python.parent.parent

    def done(self, installed: bool, tool: str | None, reason: str) -> DepsResult:
        seconds = time.perf_counter() - self.started
        return DepsResult(installed, tool, reason, seconds, self.source.label)

    def sync(self, mode: str) -> DepsResult:
        if self.source.warning:
            logger.warning(self.source.warning)
        half = interrupted_install(self.venv)
        stamp, described = compute_stamp(self.project, self.venv_python, self.source)
        stored = read_stamp(self.state_dir)
        if mode == "auto" and stored == stamp and half is None:
            return self.done(False, None, "in sync (stamp unchanged)")
        if half is not None:
            logger.warning(f"{self.venv.name}: {half}; reinstalling the dependencies")
            why = "repaired an interrupted install"
        elif mode == "always":
            why = "install = always"
        else:
            why = "first install" if stored is None else "dependencies changed"
        if self.before_install is not None:
            self.before_install(self.source)
        tool, note = self.install(reinstall=half is not None)
        write_stamp(self.state_dir, stamp, described, tool)
        origin = f" from {self.source.lock.name}" if self.source.lock else ""
        return self.done(True, tool, f"installed with {tool}{origin} ({why}){note}")

    def install(self, *, reinstall: bool) -> tuple[str, str]:
        """Run the installer (once more with --reinstall after uv's broken-metadata error);
        (the tool, a note for the reason)."""
        pinned = None
        if self.source.kind == "poetry.lock":
            pinned = write_pinned(
                self.project, self.source, self.venv_python, self.env, self.state_dir, self.uv
            )
        plan = plan_install(
            self.source, self.venv_python, self.uv, reinstall=reinstall, pinned=pinned
        )
        if plan.tool == "pip":
            _ensure_pip(self.venv_python, self.env, self.project)
        logger.debug(f"installing dependencies from {self.source.label} with {plan.tool}")
        result = run_plan(plan, self.env, self.project, self.venv, self.timeout)
        note = ""
        if not result.ok and STALE_LOCK in result.tail(60) and self.source.kind == "uv.lock":
            logger.warning(_stale_lock_warning(result.tail(6)))
            note = "; uv.lock is out of date: run `uv lock`"
            plan = plan_install(
                self.source, self.venv_python, self.uv, frozen=True, reinstall=reinstall
            )
            result = run_plan(plan, self.env, self.project, self.venv, self.timeout)
        if not result.ok and UV_BROKEN_METADATA in result.tail(60).lower() and not reinstall:
            logger.warning(
                f"{self.venv.name} holds a half-written package (an interrupted install); "
                "reinstalling every dependency"
            )
            return self.install(reinstall=True)
        if not result.ok:
            raise InstallFailed(
                f"installing dependencies with {plan.tool} failed (exit {result.returncode}):\n"
                + _indent(result.tail(TAIL_LINES)),
                _hint(result.tail(60), self.source, self.venv),
                missing_wheel(result.tail(200)),
            )
        return plan.tool, note


def _stale_lock_warning(uv_output: str) -> str:
    lines = [ln.strip() for ln in uv_output.splitlines() if ln.strip()]
    said = next((ln for ln in lines if STALE_LOCK in ln), "uv.lock needs to be updated")
    return (
        f"{said.removeprefix('error: ')} Installing the versions it pins (uv sync --frozen); "
        "to update the lock file, run `uv lock`."
    )


def _ensure_pip(venv_python: Path, env: Mapping[str, str], project: Path) -> None:
    """Venvs made by `uv venv` have no pip: bootstrap it with ensurepip before using it."""
    if proc.run([venv_python, "-m", "pip", "--version"], env=env, timeout=60).ok:
        return
    boot = proc.run(
        [venv_python, "-m", "ensurepip", "--upgrade"], env=env, cwd=project, timeout=300
    )
    if not boot.ok:
        raise DependencyError(
            f"the venv at {venv_python.parent.parent} has no pip and ensurepip failed:\n"
            + _indent(boot.tail(TAIL_LINES)),
            "Install uv (pip install uv) so the launcher can install without pip, or recreate "
            "the venv with an interpreter that ships ensurepip (Debian: apt install python3-venv).",
        )


def _indent(text: str) -> str:
    lines = (text or "(no output)").splitlines()
    return "\n".join(("  " + line) if line.strip() else "" for line in lines)


_NETWORK = (
    "failed to fetch",
    "connection refused",
    "connection error",
    "connecterror",
    "timed out",
    "name resolution",
    "proxyerror",
    "proxy error",
    "certificate verify failed",
    "network is unreachable",
)


_DISK_FULL = ("no space left on device", "os error 28", "errno 28", "disk quota exceeded")
_OFFLINE = ("network was disabled", "network connectivity is disabled")


def _hint(output: str, source: DependencySource, venv: Path | None = None) -> str:
    """A fix suggestion from what the installer said: the disk, the network, then the
    requirements (what is true first: a full disk or an offline uv also says "no solution")."""
    lowered = output.lower()
    where = source.lock.name if source.lock else "[project].dependencies of pyproject.toml"
    if source.lock is None and source.inputs.requirements is not None:
        where += f" or {source.inputs.requirements.name}"
    if any(word in lowered for word in _DISK_FULL):
        drive = f" of {venv}" if venv is not None else ""
        return (
            f"The disk is full: free some space on the drive{drive} (and of uv's or pip's "
            "cache), then run `robo-backend up` again."
        )
    if any(word in lowered for word in _OFFLINE):
        return (
            "The installer ran offline (UV_OFFLINE, or --offline) and these packages are not in "
            "its cache: unset UV_OFFLINE to download them (or fill the cache first); if they "
            f"should exist, check the names and versions in {where}."
        )
    if (
        "no solution found" in lowered
        or "not found in the package registry" in lowered
        or ("no matching distribution" in lowered)
    ):
        return f"A requirement cannot be satisfied: check the names and versions in {where}."
    if any(word in lowered for word in _NETWORK):
        return (
            "The package index could not be reached: check the network or proxy settings "
            "(HTTPS_PROXY, PIP_INDEX_URL / UV_INDEX_URL), then run `robo-backend up` again."
        )
    if "permission denied" in lowered or "access is denied" in lowered:
        return (
            "The venv is not writable: check its owner, or delete it and run `robo-backend up` "
            "again."
        )
    return f"Read the installer output above, fix {where}, then run `robo-backend up` again."
