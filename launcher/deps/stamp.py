"""The dependency stamp: what was installed into which venv, so a warm `up` installs nothing.

`<state dir>/deps-stamp.json` holds a hash of the dependency source (only pyproject's dependency
tables, so changing `port` does not reinstall), the venv's Python version, path and the identity
of its `pyvenv.cfg`.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from loguru import logger

from launcher import proc
from launcher.deps.sources import DependencySource, detect_source
from launcher.fileops import read_state_json, write_state_text
from launcher.settings import read_pyproject
from launcher.venvs.pyvenv import pyvenv_version

STAMP_FILE = "deps-stamp.json"
STAMP_SCHEMA = 2


def _venv_identity(venv_python: Path) -> dict[str, Any]:
    """Python version and a fingerprint of the venv that changes when it is recreated.

    Read from pyvenv.cfg (no subprocess); its inode and mtime change when the venv is made
    again at the same path, which must reinstall even though path and version are the same.
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


def _pyproject_tables(project: Path, source: DependencySource) -> Any:
    """The parts of pyproject.toml the installer reads for this source."""
    if source.kind not in {"uv.lock", "pylock.toml", "poetry.lock"}:
        return list(source.inputs.dependencies)
    if not (project / "pyproject.toml").is_file():
        return None
    data = read_pyproject(project)
    tables = {k: data.get(k) for k in ("project", "dependency-groups", "build-system")}
    tool = data.get("tool", {})
    tables["tool"] = {k: tool.get(k) for k in ("uv", "poetry") if isinstance(tool, dict)}
    return tables


def compute_stamp(
    project: Path, venv_python: Path, source: DependencySource | None = None
) -> tuple[str, dict[str, Any]]:
    """The stamp hash and the inputs it was made of (stored alongside for `doctor`)."""
    source = source or detect_source(project)
    digest = hashlib.sha256()
    tables = _pyproject_tables(project, source)
    described: dict[str, Any] = {
        "source": source.kind,
        "dependencies": list(source.inputs.dependencies),
        "files": {},
    }
    digest.update(json.dumps([source.kind, tables], sort_keys=True, default=str).encode())
    for path in source.files:
        file_hash = hashlib.sha256(path.read_bytes()).hexdigest()
        described["files"][str(path)] = file_hash
        digest.update(str(path).encode() + b"\0" + file_hash.encode())
    identity = _venv_identity(venv_python)
    described.update(identity)
    digest.update(json.dumps(identity, sort_keys=True).encode())
    return digest.hexdigest(), described


def stamp_path(state_dir: Path) -> Path:
    return state_dir / STAMP_FILE


def read_stamp(state_dir: Path) -> str | None:
    """The stamp hash recorded, or None when there is none or the file is not one we could have
    written (untrusted, like every state file: the next sync replaces it)."""
    path = stamp_path(state_dir)
    data = read_state_json(path)
    if not isinstance(data, dict):
        data = {}
    stamp = data.get("stamp")
    if data.get("schema") != STAMP_SCHEMA or not isinstance(stamp, str):
        if os.path.lexists(path):
            logger.debug(f"ignoring the dependency stamp {path}: it is not one robo-backend wrote")
        return None
    return stamp


def write_stamp(state_dir: Path, stamp: str, inputs: dict[str, Any], tool: str) -> None:
    """Write the stamp atomically (fsynced temp file + rename): a crash never leaves half a one.
    A stamp that cannot be written (a folder in its place, a full disk) is a StateFileError."""
    document = {
        "schema": STAMP_SCHEMA,
        "stamp": stamp,
        "tool": tool,
        "installed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "inputs": inputs,
    }
    write_state_text(stamp_path(state_dir), json.dumps(document, indent=2))


def stamp_state(
    project: Path, venv_python: Path, state_dir: Path, source: DependencySource | None = None
) -> str:
    """ "in-sync" (nothing to install), "changed" (inputs differ) or "missing" (never synced).

    A project with no dependency file at all is "in-sync": there is nothing to install.
    """
    source = source or detect_source(project)
    if source.empty:
        return "in-sync"
    stored = read_stamp(state_dir)
    if stored is None:
        return "missing"
    current, _ = compute_stamp(project, venv_python, source)
    return "in-sync" if current == stored else "changed"
