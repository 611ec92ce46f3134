"""Half-installed venvs: the install marker, and the check for packages missing their metadata.

An install writes `<venv>/.robo-backend-installing` (pid, tool) and removes it on success; a
marker whose process is gone, or a `.dist-info` without METADATA or RECORD, means an interrupted
install, and the venv is recreated.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

from launcher.fileops import atomic_write_text, read_state_json, state_pid
from launcher.venvs.project_lock import pid_alive
from launcher.venvs.pyvenv import site_packages

MARKER = ".robo-backend-installing"
UV_BROKEN_METADATA = "failed to read metadata from installed package"
"""What uv says (lower-cased) about a package an interrupted install left half-written."""


def write_marker(venv: Path, tool: str) -> None:
    """Say "an install is running into this venv" (before the installer starts)."""
    document = {"pid": os.getpid(), "tool": tool, "since": time.time()}
    atomic_write_text(venv / MARKER, json.dumps(document))


def clear_marker(venv: Path) -> None:
    """The install finished: the venv is whole again."""
    (venv / MARKER).unlink(missing_ok=True)


def broken_packages(venv: Path, limit: int = 3) -> list[str]:
    """Names of `.dist-info` folders without METADATA or RECORD (at most `limit`)."""
    broken: list[str] = []
    for site in site_packages(venv):
        with contextlib.suppress(OSError):
            for entry in os.scandir(site):
                if not entry.name.endswith(".dist-info") or not entry.is_dir():
                    continue
                folder = Path(entry.path)
                if not (folder / "METADATA").is_file() or not (folder / "RECORD").is_file():
                    broken.append(entry.name)
                    if len(broken) >= limit:
                        return broken
    return broken


def _marker_says(marker: Path) -> tuple[int, str] | None:
    """(pid, tool) from the install marker, or None when it is not one we could have written."""
    data = read_state_json(marker)
    if not isinstance(data, dict):
        return None
    pid = state_pid(data.get("pid"))
    tool = data.get("tool", "the installer")
    return (pid, tool) if pid is not None and isinstance(tool, str) else None


def interrupted_install(venv: Path) -> str | None:
    """Why the venv looks half-installed (None when it does not), in words for the user."""
    marker = venv / MARKER
    if os.path.lexists(marker):
        said = _marker_says(marker)
        if said is None:
            return "an install into it was interrupted (its marker is unreadable)"
        pid, tool = said
        if pid != os.getpid() and pid_alive(pid):
            return None  # another live process is installing (it holds the lock)
        return f"an install into it with {tool} was interrupted (pid {pid} is gone)"
    broken = broken_packages(venv)
    if broken:
        return "packages were left half-written (" + ", ".join(broken) + " without METADATA/RECORD)"
    return None
