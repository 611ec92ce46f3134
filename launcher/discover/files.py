"""The backend's own Python files: which they are, and which of them an import names.

Venvs, caches, tests, site-packages, hidden folders and nested projects (a folder with its own
pyproject.toml, setup.py, setup.cfg, Pipfile, requirements*.txt or .git) are never read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
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
PROJECT_MARKERS = frozenset({"pyproject.toml", "setup.py", "setup.cfg", "Pipfile", ".git"})
MAX_FILES = 400


def _skipped_name(name: str) -> bool:
    return name.startswith(".") or name in SKIP_DIRS or name.endswith(".egg-info")


def _skipped(entry: os.DirEntry[str]) -> bool:
    if _skipped_name(entry.name):
        return True
    # a venv under any name: it has a pyvenv.cfg
    return os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))


def is_project_marker(name: str) -> bool:
    """Does a file (or folder) of this name make its folder a project of its own?"""
    return name in PROJECT_MARKERS or (name.startswith("requirements") and name.endswith(".txt"))


def _marks_a_project(names: Iterable[str]) -> bool:
    return any(is_project_marker(name) for name in names)


def is_nested_project(folder: Path) -> bool:
    """A folder with its own project files (see the module docstring)."""
    try:
        return _marks_a_project(os.listdir(folder))
    except OSError:
        return False


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
            if folder != project and _marks_a_project(e.name for e in entries):
                continue  # another project inside this one
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


def belongs(project: Path, path: Path) -> bool:
    """Is `path` a file of the project's own code, by the rules of `project_sources` (no depth
    or count limit): inside the project, under no skipped folder and no nested project?"""
    try:
        parts = path.relative_to(project).parts
    except ValueError:
        return False
    folder = project
    for name in parts[:-1]:
        folder = folder / name
        if _skipped_name(name) or (folder / "pyvenv.cfg").exists() or is_nested_project(folder):
            return False
    return path.is_file()


def module_file(root: Path, parts: list[str]) -> Path | None:
    """Where `a.b.c` lives when imported from `root`: root/a/b/c.py or root/a/b/c/__init__.py."""
    base = root.joinpath(*parts)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def locate(project: Path, importer: Path, module: str, level: int) -> Path | None:
    """The project file `module` names when `importer` imports it (None: not the project's)."""
    parts = [part for part in module.split(".") if part]
    if level > 0:
        roots = [importer.parents[min(level, len(importer.parents)) - 1]]
    else:
        roots = [project, project / "src", _import_root(project, importer), importer.parent]
    for root in dict.fromkeys(roots):
        path = module_file(root, parts) if parts else root / "__init__.py"
        if path is not None and path.is_file() and belongs(project, path):
            return path
    return None


def _import_root(project: Path, path: Path) -> Path:
    """The folder `path`'s top package sits in (where its absolute imports start)."""
    folder = path.parent
    while folder != project and (folder / "__init__.py").is_file():
        folder = folder.parent
    return folder
