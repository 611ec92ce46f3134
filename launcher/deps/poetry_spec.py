"""Poetry's version constraints and dependency tables, written as PEP 440/508 for uv and pip.

Poetry's own grammar: `^1.2.3` (>=1.2.3,<2.0.0; `^0.2.3` <0.3.0, `^0.0.3` <0.0.4), `~1.2.3`
(>=1.2.3,<1.3.0; `~1` <2), `1.2.*`, a bare `1.2.3` (==1.2.3), comparisons joined by `,` or a
space, alternatives joined by `||`. A dependency is a constraint, a table (version, extras,
markers, python, platform, optional, git/path/url) or a list of tables (one per environment).
The groups `poetry install` installs: main, and every group not marked optional.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

_OR = re.compile(r"\s*\|\|?\s*")
_AND = re.compile(r"\s*,\s*|(?<=[\d*a-zA-Z])\s+(?=[<>=!~^\d])")
_ONE = re.compile(r"^(\^|~=|~|===|==|!=|>=|<=|>|<|=)?\s*(\S+)$")
PLATFORMS = {"linux": "linux", "darwin": "darwin", "win32": "win32", "windows": "win32"}


def _bump(release: tuple[int, ...], index: int) -> str:
    """The version after `release` at component `index` (0 major, 1 minor, 2 patch)."""
    parts = list(release) + [0] * max(0, index + 1 - len(release))
    parts = parts[: index + 1]
    parts[index] += 1
    width = max(len(release), index + 1)
    return ".".join(str(p) for p in parts + [0] * (width - len(parts)))


def _caret(text: str) -> str:
    release = Version(text).release
    if release[0] > 0 or len(release) == 1:
        upper = _bump(release, 0)
    elif release[1] > 0 or len(release) == 2:
        upper = _bump(release, 1)
    else:
        upper = _bump(release, 2)
    return f">={text},<{upper}"


def _tilde(text: str) -> str:
    release = Version(text).release
    return f">={text},<{_bump(release, 0 if len(release) == 1 else 1)}"


def _single(clause: str) -> str:
    """One poetry comparison (`^1.2`, `~1.2`, `1.2.*`, `>=1,`…) as a PEP 440 specifier."""
    clause = clause.strip()
    if clause in ("", "*", "x", "X"):
        return ""
    match = _ONE.match(clause)
    if match is None:
        raise ValueError(f"not a version constraint: {clause!r}")
    op, text = match.group(1) or "", match.group(2)
    text = re.sub(r"\.[xX]$", ".*", text)
    if op in ("", "=") and text.endswith(".*"):
        return f"=={text}"
    if op in ("", "="):
        op = "=="
    if op in ("^", "~"):
        try:
            return _caret(text) if op == "^" else _tilde(text)
        except InvalidVersion:
            raise ValueError(f"not a version: {text!r}") from None
    return f"{op}{text}"


def alternatives(constraint: str) -> list[str]:
    """A poetry constraint as PEP 440 specifier sets, one per `||` alternative ("" = any)."""
    found = []
    for alternative in _OR.split(constraint.strip()):
        clauses = [c for c in _AND.split(alternative.strip()) if c.strip()]
        found.append(",".join(s for s in (_single(c) for c in clauses) if s))
    return found or [""]


def to_pep440(constraint: str) -> str:
    """A poetry constraint as one PEP 440 specifier set; with `||`, the newest alternative
    (requirements cannot say "or"). Raises ValueError when it is not a constraint."""
    return alternatives(constraint)[-1]


def python_marker(constraint: str) -> str:
    """Poetry's `python = "<3.11"` of a dependency as a PEP 508 marker ("" = every Python)."""
    ors = []
    for alternative in alternatives(constraint):
        if not alternative:
            return ""
        ands = [
            f'python_full_version {m.group(1)} "{m.group(2)}"'
            for m in (re.match(r"(===|==|!=|>=|<=|~=|>|<)(.+)", s) for s in alternative.split(","))
            if m
        ]
        ors.append(" and ".join(ands))
    return " or ".join(f"({o})" for o in ors) if len(ors) > 1 else ors[0]


def marker_of(table: Mapping[str, Any]) -> str:
    """The markers of one dependency table: its `markers`, `python` and `platform` keys."""
    found = []
    if isinstance(table.get("markers"), str) and table["markers"].strip():
        found.append(table["markers"].strip())
    if isinstance(table.get("python"), str):
        python = python_marker(table["python"])
        if python:
            found.append(python)
    if isinstance(table.get("platform"), str):
        platform = PLATFORMS.get(table["platform"].strip().lower(), table["platform"].strip())
        found.append(f'sys_platform == "{platform}"')
    return " and ".join(f"({m})" if " or " in m else m for m in found)


def _direct(table: Mapping[str, Any], project: Path) -> str | None:
    """The `@ url` part of a git, path or url dependency (None for a registry one)."""
    if isinstance(table.get("git"), str):
        ref = table.get("rev") or table.get("tag") or table.get("branch")
        url = "git+" + table["git"] + (f"@{ref}" if ref else "")
        sub = table.get("subdirectory")
        return url + (f"#subdirectory={sub}" if sub else "")
    if isinstance(table.get("path"), str):
        return (project / table["path"]).resolve().as_uri()
    if isinstance(table.get("url"), str):
        return str(table["url"])
    return None


def requirement(name: str, spec: Any, project: Path) -> list[str]:
    """One `[tool.poetry.dependencies]` entry as PEP 508 lines (none when optional: those
    are installed only through the project's extras, which `poetry install` leaves out)."""
    tables = spec if isinstance(spec, list) else [spec]
    lines = []
    for table in tables:
        if isinstance(table, str):
            table = {"version": table}
        if not isinstance(table, Mapping) or table.get("optional") is True:
            continue
        extras = table.get("extras") or []
        head = name + (f"[{','.join(extras)}]" if extras else "")
        direct = _direct(table, project)
        if direct is not None:
            line = f"{head} @ {direct}"
        else:
            line = head + to_pep440(str(table.get("version", "*")))
        markers = marker_of(table)
        lines.append(f"{line} ; {markers}" if markers else line)
    return lines


def groups(data: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(group, its dependency table) for main and every group `poetry install` installs."""
    poetry = _table(_table(data, "tool"), "poetry")
    yield "main", _table(poetry, "dependencies")
    yield "dev", _table(poetry, "dev-dependencies")  # poetry < 1.2
    for name, group in _table(poetry, "group").items():
        if isinstance(group, Mapping) and group.get("optional") is not True:
            yield str(name), _table(group, "dependencies")


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def is_poetry_project(data: Mapping[str, Any]) -> bool:
    """True when pyproject.toml declares dependencies in poetry's tables."""
    return any(name != "python" for _, table in groups(data) for name in table)


def pep621_main(data: Mapping[str, Any]) -> list[str] | None:
    """`[project].dependencies` when poetry 2 reads the main group from there (else None)."""
    raw = _table(data, "project").get("dependencies")
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return [item.strip() for item in raw if item.strip()]
    return None


def dependency_lines(data: Mapping[str, Any], project: Path) -> list[str]:
    """What `poetry install` would install without a lock, as PEP 508 lines: the main group
    (`[project].dependencies` when poetry 2 reads it from there) and the non-optional groups;
    poetry's `python` key is the interpreter, not a package."""
    lines: list[str] = []
    main_pep621 = pep621_main(data)
    for group, table in groups(data):
        if group == "main" and main_pep621 is not None:
            lines += main_pep621
            continue
        for name, spec in table.items():
            if name.lower() != "python":
                lines += requirement(str(name), spec, project)
    return lines


def poetry_python(data: Mapping[str, Any]) -> str | None:
    """`[tool.poetry.dependencies].python` as a PEP 440 specifier set (None when unset)."""
    main = dict(next(groups(data))[1])
    value = main.get("python")
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return to_pep440(value) or None
    except ValueError:
        return None
