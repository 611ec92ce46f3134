"""Install the backend's dependencies into its venv, and skip that entirely when nothing changed.

The backend is an application, not a package: what gets installed is the list in
`[project].dependencies` of its pyproject.toml plus `requirements.txt` (with `-r`) when present,
never the project itself. A stamp (`<state dir>/deps-stamp.json`) records a hash of those inputs,
the venv's Python version, the venv's path and the identity of its `pyvenv.cfg`; a warm `up`
compares stamps and runs no installer at all. Only the dependency list of pyproject.toml is
hashed, not the whole file, so changing `port` in `[tool.robo-backend]` does not reinstall.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from launcher import proc
from launcher.errors import DependencyError, ProjectError
from launcher.fileops import atomic_write_text
from launcher.platform import PlatformFacts, find_uv
from launcher.settings import read_pyproject
from launcher.venvs.layout import pyvenv_version

STAMP_FILE = "deps-stamp.json"
STAMP_SCHEMA = 1
REQUIREMENTS = "requirements.txt"
MODES = ("auto", "always", "never")
INSTALL_TIMEOUT = 1800.0  # seconds; a stuck resolver must not hang `up` forever
TAIL_LINES = 15


@dataclass(frozen=True)
class DepsResult:
    """What the sync did: `installed` (an installer ran and succeeded), with which `tool`
    ("uv" or "pip", None when nothing ran), a human `reason`, and how long it took."""

    installed: bool
    tool: str | None
    reason: str
    seconds: float = 0.0


@dataclass(frozen=True)
class DependencyInputs:
    """The dependency sources of a project: the pyproject list and the requirements files."""

    dependencies: tuple[str, ...]
    requirements: Path | None
    files: tuple[Path, ...]  # every file whose bytes go into the stamp (requirements + includes)

    @property
    def empty(self) -> bool:
        return not self.dependencies and self.requirements is None


def read_inputs(project: Path) -> DependencyInputs:
    """Collect `[project].dependencies` and requirements.txt (plus files it includes)."""
    dependencies: tuple[str, ...] = ()
    pyproject = project / "pyproject.toml"
    if pyproject.is_file():
        raw = read_pyproject(project).get("project", {}).get("dependencies", [])
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            raise ProjectError(
                f"[project].dependencies in {pyproject} is not a list of strings",
                'Write it as dependencies = ["fastapi>=0.110", "uvicorn>=0.29"].',
            )
        dependencies = tuple(item.strip() for item in raw if item.strip())
    requirements = project / REQUIREMENTS
    if not requirements.is_file():
        return DependencyInputs(dependencies, None, ())
    return DependencyInputs(dependencies, requirements, tuple(_requirement_files(requirements)))


_INCLUDE = re.compile(r"^\s*(?:-r|-c|--requirement|--constraint)(?:\s*=\s*|\s+)(\S+)")


def _requirement_files(first: Path) -> list[Path]:
    """requirements.txt and the files it pulls in with -r/-c (recursively, each once)."""
    seen: list[Path] = []
    pending = [first]
    while pending:
        path = pending.pop()
        if path in seen or not path.is_file():
            continue
        seen.append(path)
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            match = _INCLUDE.match(line)
            if match and "://" not in match.group(1):
                pending.append((path.parent / match.group(1)).resolve())
    return seen


def _venv_identity(venv_python: Path) -> dict[str, Any]:
    """Python version and a fingerprint of the venv that changes when it is recreated.

    Read from pyvenv.cfg (no subprocess, so a warm check costs microseconds); the cfg file's
    inode and mtime change when the venv is deleted and made again at the same path, which
    must trigger a reinstall even though path and version are the same.
    """
    venv = venv_python.parent.parent
    version = pyvenv_version(venv)
    fingerprint = ""
    try:
        info = os.stat(venv / "pyvenv.cfg")
        fingerprint = f"{info.st_ino}:{info.st_mtime_ns}"
    except OSError:
        pass
    if not version:  # no pyvenv.cfg (a bare interpreter): ask it
        result = proc.run([venv_python, "-c", "import sys; print(sys.version)"], timeout=30)
        version = result.stdout.strip() if result.ok else "unknown"
    return {"python": version, "venv": str(venv), "venv_fingerprint": fingerprint}


def compute_stamp(project: Path, venv_python: Path) -> tuple[str, dict[str, Any]]:
    """The stamp hash and the inputs it was made of (stored alongside for `doctor`)."""
    inputs = read_inputs(project)
    digest = hashlib.sha256()
    described: dict[str, Any] = {"dependencies": list(inputs.dependencies), "files": {}}
    digest.update(json.dumps(list(inputs.dependencies)).encode())
    for path in inputs.files:
        content = path.read_bytes()
        file_hash = hashlib.sha256(content).hexdigest()
        described["files"][str(path)] = file_hash
        digest.update(str(path).encode() + b"\0" + file_hash.encode())
    identity = _venv_identity(venv_python)
    described.update(identity)
    digest.update(json.dumps(identity, sort_keys=True).encode())
    return digest.hexdigest(), described


def _stamp_path(state_dir: Path) -> Path:
    return state_dir / STAMP_FILE


def _read_stamp(state_dir: Path) -> str | None:
    try:
        data = json.loads(_stamp_path(state_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != STAMP_SCHEMA:
        return None
    stamp = data.get("stamp")
    return stamp if isinstance(stamp, str) else None


def _write_stamp(state_dir: Path, stamp: str, inputs: dict[str, Any], tool: str) -> None:
    """Write the stamp atomically (fsynced temp file + rename): a crash never leaves half a one."""
    document = {
        "schema": STAMP_SCHEMA,
        "stamp": stamp,
        "tool": tool,
        "installed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "inputs": inputs,
    }
    atomic_write_text(_stamp_path(state_dir), json.dumps(document, indent=2))


def stamp_state(project: Path, venv_python: Path, state_dir: Path) -> str:
    """ "in-sync" (nothing to install), "changed" (inputs differ) or "missing" (never synced).

    A project with no dependency file at all is "in-sync": there is nothing to install.
    """
    if read_inputs(project).empty:
        return "in-sync"
    stored = _read_stamp(state_dir)
    if stored is None:
        return "missing"
    current, _ = compute_stamp(project, venv_python)
    return "in-sync" if current == stored else "changed"


def install_argv(
    inputs: DependencyInputs, venv_python: Path, uv: str | None
) -> tuple[str, list[str]]:
    """The installer and its argv: `uv pip install --python …` or `<venv python> -m pip …`."""
    packages = list(inputs.dependencies)
    if inputs.requirements is not None:
        packages += ["-r", str(inputs.requirements)]
    if uv:
        return "uv", [uv, "pip", "install", "--python", str(venv_python), *packages]
    return "pip", [
        str(venv_python),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        *packages,
    ]


def sync_dependencies(
    project: Path,
    venv_python: Path,
    mode: str,
    state_dir: Path,
    env: Mapping[str, str],
    *,
    installer: str = "auto",
) -> DepsResult:
    """Make the venv hold the project's dependencies; `mode` is auto, always or never.

    `installer` is "auto" (uv when available, else pip), "uv" or "pip".

    auto installs only when the stamp differs; always installs; never skips (and says whether
    the stamp was in sync). Raises DependencyError (exit 1) with the installer's last lines when
    the install fails; the stamp is then left untouched, so the next run tries again.
    """
    started = time.perf_counter()

    def done(installed: bool, tool: str | None, reason: str) -> DepsResult:
        return DepsResult(installed, tool, reason, time.perf_counter() - started)

    if mode not in MODES:
        raise ValueError(f"unknown install mode {mode!r}")
    inputs = read_inputs(project)
    if inputs.empty:
        return done(
            False,
            None,
            "no dependencies declared (no [project].dependencies in pyproject.toml, "
            "no requirements.txt): nothing to install",
        )
    if mode == "never":
        state = stamp_state(project, venv_python, state_dir)
        return done(False, None, f"install = never: skipped (stamp {state})")
    stamp, described = compute_stamp(project, venv_python)
    if mode == "auto":
        stored = _read_stamp(state_dir)
        if stored == stamp:
            return done(False, None, "in sync (stamp unchanged)")
        why = "first install" if stored is None else "dependencies changed"
    else:
        why = "install = always"
    if installer not in ("auto", "uv", "pip"):
        raise ValueError(f"unknown installer {installer!r}")
    uv = None if installer == "pip" else find_uv(PlatformFacts.local(env))
    if installer == "uv" and uv is None:
        raise DependencyError(
            "uv was asked for but is not installed",
            "Install it (pip install uv) or let the launcher use pip.",
        )
    tool, argv = install_argv(inputs, venv_python, uv)
    child = dict(env)
    child.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    child.setdefault("UV_NO_PROGRESS", "1")
    if tool == "pip":
        _ensure_pip(venv_python, child, project)
    logger.debug(f"installing dependencies ({why}) with {tool}")
    result = proc.run(argv, env=child, cwd=project, timeout=INSTALL_TIMEOUT)
    if not result.ok:
        raise DependencyError(
            f"installing dependencies with {tool} failed (exit {result.returncode}):\n"
            + _indent(result.tail(TAIL_LINES)),
            _hint(result.tail(60), inputs),
        )
    _write_stamp(state_dir, stamp, described, tool)
    return done(True, tool, f"installed with {tool} ({why})")


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


def _hint(output: str, inputs: DependencyInputs) -> str:
    """A fix suggestion from what the installer said."""
    lowered = output.lower()
    where = "[project].dependencies of pyproject.toml"
    if inputs.requirements is not None:
        where += " or requirements.txt"
    if (
        "no solution found" in lowered
        or "not found in the package registry" in lowered
        or ("no matching distribution" in lowered)
    ):
        return f"A requirement cannot be satisfied: check the names and versions in {where}."
    network = (
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
    if any(word in lowered for word in network):
        return (
            "The package index could not be reached: check the network or proxy settings "
            "(HTTPS_PROXY, PIP_INDEX_URL / UV_INDEX_URL), then run `up` again."
        )
    if "permission denied" in lowered or "access is denied" in lowered:
        return "The venv is not writable: check its owner, or delete it and run `up` again."
    return f"Read the installer output above, fix {where}, then run `up` again."
