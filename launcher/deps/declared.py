"""Does the project declare the packages `up` runs it with (uvicorn, fastapi), and the line to add.

A lock lists every package it installs, so a lock without uvicorn is certain; requirements and
pyproject name only direct dependencies, so a package they omit is "unsure" until the venv is seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from launcher.deps.poetry_lock import locked_names
from launcher.deps.sources import DependencySource
from launcher.venvs.pyvenv import site_packages

SERVER = "uvicorn"  # `up` runs `python -m uvicorn`
FRAMEWORK = "fastapi"
LOCKS = ("uv.lock", "pylock.toml", "poetry.lock")
# (package, extra) pairs that bring another package along
BRINGS = {
    SERVER: {
        ("fastapi", "standard"),
        ("fastapi", "all"),
        ("fastapi", "standard-no-fastapi-cloud-cli"),
        ("fastapi-cli", "standard"),
    }
}

State = Literal["locked", "declared", "missing", "unsure"]


@dataclass(frozen=True)
class Declared:
    """Whether `package` is among the project's dependencies: `locked` or `declared` (yes),
    `missing` (certainly not: a lock without it, or no dependencies at all), `unsure` (not
    named; it may come with another package). `where` names the source, for messages."""

    package: str
    state: State
    where: str


def declared(source: DependencySource, package: str) -> Declared:
    """Is `package` among what `source` installs?"""
    wanted = canonicalize_name(package)
    if source.kind in LOCKS and source.lock is not None:
        found = wanted in locked_names(source.lock)
        return Declared(package, "locked" if found else "missing", source.lock.name)
    if source.empty:
        return Declared(package, "missing", "the project (it declares no dependencies)")
    lines = list(source.inputs.dependencies)
    for path in source.inputs.files:
        try:
            lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
    named = _named(lines)
    brings = BRINGS.get(package, set())
    yes = any(name == wanted or (name, extra) in brings for name, extra in named)
    return Declared(package, "declared" if yes else "unsure", _where(source))


def _named(lines: list[str]) -> set[tuple[str, str]]:
    """(name, extra) of every requirement line, ("name", "") included for each."""
    found: set[tuple[str, str]] = set()
    for line in lines:
        text = line.split(" #", 1)[0].strip()
        if not text or text.startswith(("#", "-")):
            continue
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        name = str(canonicalize_name(req.name))
        found.add((name, ""))
        found.update((name, extra) for extra in req.extras)
    return found


def _where(source: DependencySource) -> str:
    if source.kind == "requirements" and source.inputs.requirements is not None:
        return source.inputs.requirements.name
    return f"{source.inputs.origin} of pyproject.toml"


def line_to_add(source: DependencySource, package: str) -> str:
    """The fix, in the project's own format: the line to add and where."""
    origin = source.inputs.origin
    if source.kind == "uv.lock":
        return (
            f'Run `uv add {package}` (it adds "{package}" to [project].dependencies and '
            "updates uv.lock), then `robo-backend up` again."
        )
    if source.kind == "poetry.lock" or origin == "[tool.poetry.dependencies]":
        table = (
            f'"{package}" to [project].dependencies'
            if origin.startswith("[project]")
            else f'`{package} = "*"` under [tool.poetry.dependencies]'
        )
        lock = ", run `poetry lock` (`uvx poetry lock` without poetry)" if source.lock else ""
        return f"Add {table} in pyproject.toml{lock}, then `robo-backend up` again."
    if source.kind == "pylock.toml":
        return (
            f'Add "{package}" to the dependencies pylock.toml is made from and export it again '
            f"(`uv add {package}`, then `uv export --format pylock.toml -o pylock.toml`)."
        )
    if source.kind == "requirements" and source.inputs.requirements is not None:
        return f"Add the line `{package}` to {source.inputs.requirements.name}."
    if source.kind == "pyproject":
        return f'Add "{package}" to [project].dependencies in pyproject.toml.'
    return (
        f"Add the line `{package}` to a requirements.txt in the project (or "
        f'"{package}" to [project].dependencies of pyproject.toml).'
    )


def venv_has(venv: Path, package: str) -> bool:
    """Is `package` installed in the venv (its .dist-info is there)? Reads folders only."""
    wanted = canonicalize_name(package)
    for site in site_packages(venv):
        for info in site.glob("*.dist-info"):
            if canonicalize_name(info.name.split("-", 1)[0]) == wanted:
                return True
    return False
