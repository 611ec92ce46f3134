"""The interpreters that satisfy the project's `requires-python` (as the settings read it).

Candidates after the `python` setting and PATH: `uv python find`, Windows `py -0p`, and
pyenv's versions folder (its shims answer only for the selected version).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from launcher import proc
from launcher.platform import PlatformFacts, find_uv

FIND_TIMEOUT = 10.0


def satisfies(version: str, spec: str | None) -> bool:
    """True when `version` (3.12.1) fits `spec` (>=3.12); always True without a spec."""
    if not spec:
        return True
    try:
        return SpecifierSet(spec).contains(Version(version), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return False


def uv_python_find(spec: str, facts: PlatformFacts, cwd: Path | None) -> list[str]:
    """The interpreter `uv python find` picks for `spec` (no download), as a one-item list."""
    uv = find_uv(facts)
    if uv is None:
        return []
    done = proc.run(
        [uv, "python", "find", "--system", "--no-python-downloads", spec],
        env=facts.env,
        cwd=cwd,
        timeout=FIND_TIMEOUT,
    )
    found = done.stdout.strip().splitlines()
    return [found[-1].strip()] if done.ok and found else []


_PY_LIST = re.compile(r"^\s*-V:(\S+)\s+\*?\s*(.+?)\s*$")


def parse_py_list(text: str) -> list[str]:
    """Interpreter paths from `py -0p` (` -V:3.13 *        C:\\Python313\\python.exe`)."""
    paths = []
    for line in text.splitlines():
        match = _PY_LIST.match(line)
        if match and match.group(2).lower().endswith(".exe"):
            paths.append(match.group(2))
    return paths


def py_launcher_list(facts: PlatformFacts) -> list[str]:
    """Every interpreter the Windows `py` launcher knows (none elsewhere)."""
    if not facts.windows:
        return []
    launcher = facts.which("py")
    if launcher is None:
        return []
    done = proc.run([launcher, "-0p"], env=facts.env, timeout=FIND_TIMEOUT)
    return parse_py_list(done.stdout) if done.ok else []


def pyenv_interpreters(facts: PlatformFacts) -> list[str]:
    """The interpreters in pyenv's versions folder, newest first (pyenv-win's too)."""
    root = facts.getenv("PYENV_ROOT") or facts.getenv("PYENV")
    home = facts.getenv("USERPROFILE" if facts.windows else "HOME")
    folders = [Path(root)] if root else []
    if home:
        folders += [Path(home, ".pyenv"), Path(home, ".pyenv", "pyenv-win")]
    found: list[tuple[tuple[int, ...], str]] = []
    for folder in folders:
        found += _version_pythons(folder / "versions", facts.windows)
    return [path for _, path in sorted(set(found), reverse=True)]


def _version_pythons(versions: Path, windows: bool) -> list[tuple[tuple[int, ...], str]]:
    """(version key, interpreter) for each `<versions>/<3.x.y>/` holding a runnable Python."""
    try:
        entries = sorted(versions.iterdir())
    except OSError:
        return []
    found = []
    for entry in entries:
        exe = entry / "python.exe" if windows else entry / "bin" / "python3"
        if exe.is_file() and os.access(exe, os.X_OK):
            found.append((_key(entry.name), str(exe)))
    return found


def _key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)[:3])


def install_hint(spec: str) -> str:
    """How to get an interpreter for `spec`: uv, the py launcher, python.org."""
    lower = re.search(r"(?:>=|==|~=|>)\s*(3\.\d+)", spec)
    numbers = re.findall(r"3\.\d+", spec)
    wanted = lower.group(1) if lower else (numbers[0] if numbers else "3.13")
    return (
        f"Install one: `uv python install {wanted}` (or on Windows `py install {wanted}`, or "
        f"python.org), or pass --python with an interpreter that fits."
    )


def fitting_minors(spec: str | None, current: str) -> list[str]:
    """The Python versions ("3.10") that fit `spec`, nearest older than `current` first, then
    the newer ones: a lock that has no wheels for `current` was usually made for an older one."""
    try:
        now = int(current.split(".")[1])
    except (IndexError, ValueError):
        return []
    fit = [m for m in range(6, max(now, 13) + 3) if m != now and _minor_fits(m, spec)]
    return [f"3.{m}" for m in sorted(m for m in fit if m < now)[::-1] + [m for m in fit if m > now]]


def _minor_fits(minor: int, spec: str | None) -> bool:
    return any(satisfies(f"3.{minor}.{patch}", spec) for patch in (0, 99))
