"""Version constraints as PEP 440: poetry's grammar, and the Python a project asks for.

Poetry's grammar: `^1.2.3` (>=1.2.3,<2.0.0; `^0.2.3` <0.3.0, `^0.0.3` <0.0.4), `~1.2.3`
(>=1.2.3,<1.3.0; `~1` <2), `1.2.*`, a bare `1.2.3` (==1.2.3), comparisons joined by `,` or a
space, alternatives joined by `||`. The project's Python is `[project].requires-python`, else
poetry's `python = "^3.10"` (as `>=3.10,<4.0`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from launcher.errors import ProjectError

# packaging is imported where a constraint is read: the settings import this module, and
# `--help` should not pay for packaging's specifiers (≈ 8 ms).

_OR = re.compile(r"\s*\|\|?\s*")
_AND = re.compile(r"\s*,\s*|(?<=[\d*a-zA-Z])\s+(?=[<>=!~^\d])")
_ONE = re.compile(r"^(\^|~=|~|===|==|!=|>=|<=|>|<|=)?\s*(\S+)$")


def _bump(release: tuple[int, ...], index: int) -> str:
    """The version after `release` at component `index` (0 major, 1 minor, 2 patch)."""
    parts = list(release) + [0] * max(0, index + 1 - len(release))
    parts = parts[: index + 1]
    parts[index] += 1
    width = max(len(release), index + 1)
    return ".".join(str(p) for p in parts + [0] * (width - len(parts)))


def _caret(text: str) -> str:
    from packaging.version import Version

    release = Version(text).release
    if release[0] > 0 or len(release) == 1:
        upper = _bump(release, 0)
    elif release[1] > 0 or len(release) == 2:
        upper = _bump(release, 1)
    else:
        upper = _bump(release, 2)
    return f">={text},<{upper}"


def _tilde(text: str) -> str:
    from packaging.version import Version

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
        from packaging.version import InvalidVersion

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


def sub_table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """`data[key]` of a parsed TOML document when it is a table, else {}."""
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def requires_python(data: Mapping[str, Any], pyproject: Path) -> str | None:
    """The Python the parsed `pyproject` (`data`) asks for: `[project].requires-python`, else
    `[tool.poetry.dependencies].python` written as PEP 440 (None when neither is set)."""
    value = sub_table(data, "project").get("requires-python")
    if value is None:
        tool = sub_table(sub_table(data, "tool"), "poetry")
        poetry = sub_table(tool, "dependencies").get("python")
        if not isinstance(poetry, str):
            return None
        try:
            return to_pep440(poetry) or None
        except ValueError:
            return None
    text = str(value).strip()
    if not text:
        return None
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        raise ProjectError(
            f"requires-python = {text!r} in {pyproject} is not a version specifier",
            'Write it like requires-python = ">=3.10".',
        ) from None
    return text
