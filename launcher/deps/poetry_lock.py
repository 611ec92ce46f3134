"""poetry.lock without poetry: the locked packages `poetry install` would put in this venv, pinned.

Read as poetry's installer reads it: from the project's non-optional groups, following each
locked package's dependencies whose markers hold for the venv's interpreter, pinned to the locked
version with its hashes. Every lock format since poetry 1.0 reads the same way.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger
from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from launcher import proc
from launcher.constraints import alternatives, to_pep440
from launcher.deps.poetry_spec import groups, marker_of, pep621_main
from launcher.deps.sources import DependencySource
from launcher.errors import DependencyError
from launcher.fileops import atomic_write_text
from launcher.settings import read_pyproject

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

_ENVIRONMENT = """
import json, os, platform, sys
i = sys.implementation
v = "{0.major}.{0.minor}.{0.micro}".format(i.version)
if i.version.releaselevel != "final":
    v += i.version.releaselevel[0] + str(i.version.serial)
print(json.dumps({
    "implementation_name": i.name, "implementation_version": v, "os_name": os.name,
    "platform_machine": platform.machine(), "platform_release": platform.release(),
    "platform_system": platform.system(), "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform}))
"""


def marker_environment(python: Path | str, env: Mapping[str, str]) -> dict[str, str]:
    """The PEP 508 marker values of `python` (the venv's interpreter), asked from it."""
    logger.debug(f"asking {python} for its PEP 508 marker values")
    done = proc.run([str(python), "-c", _ENVIRONMENT], env=env, timeout=60, quiet=True)
    try:
        values = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise DependencyError(
            f"could not ask {python} for its platform (exit {done.returncode}): "
            f"{done.tail(3) or 'no output'}",
            "Run `robo-backend up` again: a broken venv is recreated.",
        ) from None
    return {str(k): str(v) for k, v in values.items()}


@dataclass
class _Node:
    package: Mapping[str, Any]
    extras: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class LockedInstall:
    """What to install from poetry.lock here: pinned requirement lines (with hashes), the
    locked versions as constraints, the package indexes of the lock's sources."""

    requirements: tuple[str, ...]
    constraints: tuple[str, ...]
    indexes: tuple[str, ...]
    unlocked: tuple[str, ...] = ()  # the project asks for these, the lock does not have them

    def requirements_text(self, *, hashes: bool = True) -> str:
        head = [f"--extra-index-url {url}" for url in self.indexes]
        strip = re.compile(r"\s+--hash=\S+")
        lines = self.requirements if hashes else [strip.sub("", r) for r in self.requirements]
        return "\n".join([*head, *lines]) + "\n"

    def constraints_text(self) -> str:
        return "\n".join(self.constraints) + "\n"


def read_lock(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DependencyError(
            f"{path} cannot be read as a poetry lock file: {exc}",
            "Regenerate it with `poetry lock` (or `uvx poetry lock`), then run `up` again.",
        ) from None


def locked_names(path: Path) -> set[str]:
    """The canonical names of every package in a lock file (poetry.lock, uv.lock, pylock)."""
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError:
        return set()
    names = re.findall(r'(?m)^name\s*=\s*"([^"]+)"\s*$', text)
    return {canonicalize_name(name) for name in names}


class _Walk:
    """The walk from the project's groups through the lock, for one marker environment."""

    def __init__(self, lock: Mapping[str, Any], environment: Mapping[str, str]) -> None:
        self.environment = dict(environment)
        self.index: dict[str, list[Mapping[str, Any]]] = {}
        for package in lock.get("package", []):
            if isinstance(package, Mapping) and isinstance(package.get("name"), str):
                self.index.setdefault(canonicalize_name(package["name"]), []).append(package)
        self.chosen: dict[str, _Node] = {}

    def holds(self, marker: str, extras: Iterable[str] = ()) -> bool:
        """Does `marker` hold here (for any of the extras asked for)?"""
        if not marker.strip():
            return True
        try:
            parsed = Marker(marker)
        except InvalidMarker:
            logger.debug(f"poetry.lock: unreadable marker {marker!r}; taken as true")
            return True
        return any(parsed.evaluate({**self.environment, "extra": e}) for e in [*extras, ""])

    def fits_python(self, constraint: str) -> bool:
        return _satisfies(self.environment["python_full_version"], constraint)

    def pick(self, name: str, constraint: str) -> Mapping[str, Any] | None:
        """The locked package for `name` (several when versions differ by environment)."""
        found = self.index.get(name, [])
        if len(found) <= 1:
            return found[0] if found else None
        fitting = [
            p
            for p in found
            if self.fits_python(str(p.get("python-versions", "*")))
            and _satisfies(str(p.get("version", "")), constraint)
        ]
        return (fitting or found)[-1]

    def visit(self, name: str, constraint: str, extras: Iterable[str]) -> None:
        key = canonicalize_name(name)
        package = self.pick(key, constraint)
        if package is None:
            logger.debug(f"poetry.lock names no package {name}; skipped")
            return
        node = self.chosen.get(key)
        new = node is None
        if node is None:
            node = self.chosen[key] = _Node(package)
        added = set(extras) - node.extras
        if not new and not added:
            return
        node.extras |= added
        for dep, dep_constraint, dep_extras in self.edges(package, node.extras):
            self.visit(dep, dep_constraint, dep_extras)

    def edges(
        self, package: Mapping[str, Any], extras: set[str]
    ) -> Iterable[tuple[str, str, list[str]]]:
        """The dependencies of a locked package that this environment needs."""
        asked = _extra_requirements(package, extras)
        deps = package.get("dependencies", {})
        for name, spec in (deps if isinstance(deps, Mapping) else {}).items():
            for table in spec if isinstance(spec, list) else [spec]:
                if isinstance(table, str):
                    table = {"version": table}
                if not isinstance(table, Mapping):
                    continue
                key = canonicalize_name(str(name))
                if table.get("optional") is True and key not in asked:
                    continue
                if not self.holds(str(table.get("markers", "")), extras):
                    continue
                if isinstance(table.get("python"), str) and not self.fits_python(table["python"]):
                    continue
                dep_extras = [*table.get("extras", []), *asked.get(key, [])]
                yield str(name), str(table.get("version", "*")), dep_extras


def _extra_requirements(package: Mapping[str, Any], extras: set[str]) -> dict[str, list[str]]:
    """{dependency: its extras} named by the package's `[package.extras]` for `extras`."""
    table = package.get("extras", {})
    asked: dict[str, list[str]] = {}
    for extra in extras:
        for text in table.get(extra, []) if isinstance(table, Mapping) else []:
            match = re.match(r"\s*([A-Za-z0-9._-]+)\s*(?:\[([^\]]*)\])?", str(text))
            if match:
                named = [e.strip() for e in (match.group(2) or "").split(",") if e.strip()]
                asked.setdefault(canonicalize_name(match.group(1)), []).extend(named)
    return asked


def _satisfies(version: str, constraint: str) -> bool:
    """Does `version` fit the poetry `constraint` (an unreadable one: taken as yes)?"""
    try:
        return any(
            SpecifierSet(alt).contains(Version(version), True) for alt in alternatives(constraint)
        )
    except (ValueError, InvalidSpecifier, InvalidVersion):
        return True


def _roots(data: Mapping[str, Any], walk: _Walk) -> Iterable[tuple[str, str, list[str]]]:
    """The project's own dependencies (main and the non-optional groups) that hold here."""
    main_pep621 = pep621_main(data)
    for group, table in groups(data):
        if group == "main" and main_pep621 is not None:
            yield from _pep508_roots(main_pep621, walk)
            continue
        for name, spec in table.items():
            if str(name).lower() == "python":
                continue
            for entry in spec if isinstance(spec, list) else [spec]:
                entry = {"version": entry} if isinstance(entry, str) else entry
                if not isinstance(entry, Mapping) or entry.get("optional") is True:
                    continue
                if not walk.holds(marker_of(entry)):
                    continue
                yield str(name), str(entry.get("version", "*")), list(entry.get("extras", []))
    pep735 = data.get("dependency-groups", {})
    for group_lines in pep735.values() if isinstance(pep735, Mapping) else []:
        yield from _pep508_roots([g for g in group_lines if isinstance(g, str)], walk)


def _pep508_roots(lines: list[str], walk: _Walk) -> Iterable[tuple[str, str, list[str]]]:
    for line in lines:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            logger.debug(f"pyproject.toml: unreadable requirement {line!r}; skipped")
            continue
        if req.marker is None or walk.holds(str(req.marker)):
            yield req.name, str(req.specifier) or "*", sorted(req.extras)


def _files(lock: Mapping[str, Any], package: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    files = package.get("files")
    if isinstance(files, list):
        return files
    old = lock.get("metadata", {}).get("files", {})  # lock-version 1.x
    found = old.get(package.get("name"), []) if isinstance(old, Mapping) else []
    return found if isinstance(found, list) else []


def _line(lock: Mapping[str, Any], node: _Node, project: Path) -> tuple[str, str | None]:
    """The requirement line of one chosen package, and the index it comes from (if not PyPI)."""
    package = node.package
    name = str(package["name"])
    head = name + (f"[{','.join(sorted(node.extras))}]" if node.extras else "")
    raw = package.get("source")
    source: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    kind = _source_type(package)
    url = str(source.get("url", ""))
    if kind == "git":
        ref = source.get("resolved_reference") or source.get("reference") or ""
        sub = source.get("subdirectory")
        line = f"{head} @ git+{url}" + (f"@{ref}" if ref else "")
        return line + (f"#subdirectory={sub}" if sub else ""), None
    if kind in ("directory", "file"):
        return f"{head} @ {(project / url).resolve().as_uri()}", None
    if kind == "url":
        return f"{head} @ {url}", None
    hashes = [
        f" --hash={f['hash']}"
        for f in _files(lock, package)
        if isinstance(f, Mapping) and isinstance(f.get("hash"), str) and ":" in f["hash"]
    ]
    index = url if kind == "legacy" and url else None
    return f"{head}=={package['version']}" + "".join(hashes), index


def locked_install(
    project: Path, lock_path: Path, data: Mapping[str, Any], environment: Mapping[str, str]
) -> LockedInstall:
    """The requirements `poetry install` (all non-optional groups, no root) amounts to here."""
    lock = read_lock(lock_path)
    walk = _Walk(lock, environment)
    unlocked = []
    for name, constraint, extras in _roots(data, walk):
        if canonicalize_name(name) not in walk.index:
            head = name + (f"[{','.join(extras)}]" if extras else "")
            unlocked.append(head + _pep440_or_any(constraint))
            continue
        walk.visit(name, constraint, extras)
    lines, indexes = [], []
    for key in sorted(walk.chosen):
        line, index = _line(lock, walk.chosen[key], project)
        lines.append(line)
        if index and index not in indexes:
            indexes.append(index)
    constraints = [
        f"{found[0]['name']}=={found[0]['version']}"
        for found in walk.index.values()
        if len(found) == 1 and _source_type(found[0]) not in _DIRECT
    ]
    lines += unlocked
    return LockedInstall(tuple(lines), tuple(sorted(constraints)), tuple(indexes), tuple(unlocked))


def _pep440_or_any(constraint: str) -> str:
    try:
        return to_pep440(constraint)
    except ValueError:
        return ""


PINNED = "poetry-pinned.txt"
CONSTRAINTS = "poetry-constraints.txt"


def write_pinned(
    project: Path,
    source: DependencySource,
    venv_python: Path,
    env: Mapping[str, str],
    state_dir: Path,
    uv: str | None,
) -> tuple[Path, Path]:
    """Write what poetry.lock pins for this venv into the state folder: (requirements,
    constraints). Hashes only for uv (pip's hash mode would demand one for every package)."""
    assert source.lock is not None
    environment = marker_environment(venv_python, env)
    locked = locked_install(project, source.lock, read_pyproject(project), environment)
    if locked.unlocked:
        logger.warning(
            f"poetry.lock does not lock {', '.join(locked.unlocked)}, which pyproject.toml asks "
            "for: installing the locked versions and those as pyproject.toml says; to update "
            "the lock file, run `poetry lock`."
        )
    logger.debug(
        f"poetry.lock: {len(locked.requirements)} packages for Python "
        f"{environment.get('python_full_version')} on {environment.get('sys_platform')}"
    )
    pinned, constraints = state_dir / PINNED, state_dir / CONSTRAINTS
    atomic_write_text(pinned, locked.requirements_text(hashes=uv is not None))
    atomic_write_text(constraints, locked.constraints_text())
    return pinned, constraints


_DIRECT = ("git", "directory", "file", "url")


def _source_type(package: Mapping[str, Any]) -> str:
    source = package.get("source")
    return str(source.get("type", "")) if isinstance(source, Mapping) else ""
