"""Poetry's dependency tables, written as PEP 508 lines for uv and pip.

A dependency is a constraint (read by `launcher/constraints.py`), a table (version, extras,
markers, python, platform, optional, git/path/url) or a list of tables (one per environment).
The groups `poetry install` installs: main, and every group not marked optional.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from launcher.constraints import alternatives, sub_table, to_pep440

PLATFORMS = {"linux": "linux", "darwin": "darwin", "win32": "win32", "windows": "win32"}


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
    poetry = sub_table(sub_table(data, "tool"), "poetry")
    yield "main", sub_table(poetry, "dependencies")
    yield "dev", sub_table(poetry, "dev-dependencies")  # poetry < 1.2
    for name, group in sub_table(poetry, "group").items():
        if isinstance(group, Mapping) and group.get("optional") is not True:
            yield str(name), sub_table(group, "dependencies")


def is_poetry_project(data: Mapping[str, Any]) -> bool:
    """True when pyproject.toml declares dependencies in poetry's tables."""
    return any(name != "python" for _, table in groups(data) for name in table)


def pep621_main(data: Mapping[str, Any]) -> list[str] | None:
    """`[project].dependencies` when poetry 2 reads the main group from there (else None)."""
    raw = sub_table(data, "project").get("dependencies")
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
