"""List the backend's own Python files: no venvs, caches, hidden folders, tests or site-packages."""

from __future__ import annotations

import os
from pathlib import Path

SKIP_DIRS = frozenset(
    {
        "__pycache__",
        "node_modules",
        "site-packages",
        "dist",
        "build",
        "tests",
        "test",
        "migrations",
        "alembic",
        "docs",
    }
)
MAX_FILES = 400


def _skipped(entry: os.DirEntry[str]) -> bool:
    name = entry.name
    if name.startswith(".") or name in SKIP_DIRS or name.endswith(".egg-info"):
        return True
    # a venv under any name: it has a pyvenv.cfg
    return os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))


def project_sources(project: Path, max_depth: int = 6, limit: int = MAX_FILES) -> list[Path]:
    """The project's .py files, breadth first (shallow files first), at most `limit` of them."""
    found: list[Path] = []
    level = [project]
    for _ in range(max_depth + 1):
        following: list[Path] = []
        for folder in level:
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if not _skipped(entry):
                        following.append(Path(entry.path))
                elif entry.name.endswith(".py"):
                    found.append(Path(entry.path))
                    if len(found) >= limit:
                        return found
        level = following
    return found
