"""Inspect a venv without changing it: is it usable here, and if not, what is wrong.

A venv is usable when its `pyvenv.cfg` is there, it was built for this OS (`Scripts\\` on
Windows, `bin/` elsewhere), its base interpreter still exists and its python answers within a
timeout.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from launcher import proc
from launcher.platform import PlatformFacts, is_windows_path
from launcher.venvs.environment import scrubbed_env
from launcher.venvs.pyvenv import (
    is_this_os,
    os_label,
    read_pyvenv_cfg,
    sibling_path,
    venv_built_for,
    venv_layout,
    venv_python,
)

VALIDATE_TIMEOUT = 30.0
"""Seconds a venv's python may take to answer (a cold start under antivirus can be slow)."""

_PROBE = (
    "import sys; print('ROBO_PREFIX=' + sys.prefix); "
    "print('ROBO_VERSION=%d.%d.%d' % sys.version_info[:3])"
)


@dataclass(frozen=True)
class Problem:
    """Something wrong with a venv: a stable `code`, what is wrong, what to do."""

    code: str  # missing, not-a-venv, foreign-os, base-missing, wont-run, timeout
    message: str
    hint: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class VenvHealth:
    """What `inspect_venv` found; `valid` when nothing is wrong (doctor shows `problems`)."""

    path: Path
    exists: bool = False
    built_for: str | None = None  # windows, linux, macos, posix (unknown POSIX), None
    this_os: bool = False
    home: str | None = None
    base_present: bool | None = None
    python: Path | None = None
    version: str | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.exists and not self.problems

    @property
    def codes(self) -> set[str]:
        return {p.code for p in self.problems}

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "exists": self.exists,
            "valid": self.valid,
            "built_for": self.built_for,
            "this_os": self.this_os,
            "home": self.home,
            "base_present": self.base_present,
            "python": str(self.python) if self.python else None,
            "version": self.version,
            "problems": [p.to_json() for p in self.problems],
        }


def inspect_venv(
    path: Path, facts: PlatformFacts, *, timeout: float = VALIDATE_TIMEOUT
) -> VenvHealth:
    """Look at the venv at `path` without changing anything (doctor uses this).

    Runs the venv's python (`-c`, with `timeout`) only when it was built for this OS and its
    base interpreter is present.
    """
    health = VenvHealth(path=path)
    if not path.exists():
        health.problems.append(
            Problem(
                "missing",
                f"no venv at {path}",
                "`robo-backend up` creates it (uv, else python -m venv).",
            )
        )
        return health
    health.exists = True
    if not path.is_dir():
        health.problems.append(_not_a_venv(path, "it is a file"))
        return health
    cfg = read_pyvenv_cfg(path)
    layout = venv_layout(path)
    if cfg is None:
        health.problems.append(_not_a_venv(path, "it has no pyvenv.cfg"))
        return health
    health.home = cfg.get("home")
    built_for, evidence = venv_built_for(path, cfg, layout)
    health.built_for = built_for
    health.this_os = is_this_os(built_for, facts)
    if not health.this_os:
        health.problems.append(
            Problem(
                "foreign-os",
                f"{path} was made on {os_label(built_for)} ({evidence}); it cannot run on "
                f"{os_label(facts.os_name)}",
                f"Leave it for {os_label(built_for)}; the launcher uses "
                f"{sibling_path(path, facts).name} here (one venv per platform).",
            )
        )
        return health
    python = venv_python(path, layout)
    health.python = python
    home_ok = bool(health.home) and Path(health.home or "").is_dir()
    health.base_present = home_ok and os.path.exists(python)

    def base_missing() -> VenvHealth:
        gone = health.home if not home_ok else os.path.realpath(python)
        health.problems.append(
            Problem(
                "base-missing",
                f"the base interpreter of {path} is gone ({gone} no longer exists: Python was "
                "uninstalled or upgraded)",
                "`robo-backend up` recreates the venv; or delete it and create it again.",
            )
        )
        return health

    if not os.path.exists(python):  # a dangling symlink: nothing to run
        return base_missing()
    # When only `home` looks missing (Store Pythons live in folders we may not see), the
    # interpreter itself decides: a venv that runs is kept.
    result = proc.run([python, "-c", _PROBE], env=scrubbed_env(facts.env), timeout=timeout)
    if result.returncode == 124:
        health.problems.append(
            Problem(
                "timeout",
                f"{python} did not answer within {timeout:.0f} s",
                "An antivirus scan or a slow disk can do this: try again; if it persists, "
                "delete the venv so it is recreated.",
            )
        )
        return health
    prefix = marker(result.stdout, "ROBO_PREFIX=")
    if (not result.ok or prefix is None) and not home_ok:
        return base_missing()
    if not result.ok or prefix is None:
        health.problems.append(
            Problem(
                "wont-run",
                f"{python} does not run (exit {result.returncode}: "
                f"{last_line(result.tail(5)) or 'no output'})",
                "`robo-backend up` recreates the venv; or delete it and create it again.",
            )
        )
        return health
    if not same_path(prefix, str(path), facts):
        health.problems.append(
            Problem(
                "wont-run",
                f"{python} reports sys.prefix {prefix}, not {path} (a copied or moved venv?)",
                "Delete the venv so it is recreated in place.",
            )
        )
        return health
    health.version = marker(result.stdout, "ROBO_VERSION=")
    return health


def _not_a_venv(path: Path, why: str) -> Problem:
    return Problem(
        "not-a-venv",
        f"{path} exists but is not a virtual environment ({why})",
        'Move it away, or point the launcher elsewhere: venv = "…" in [tool.robo-backend] '
        "or ROBO_BACKEND_VENV.",
    )


def same_path(a: str, b: str, facts: PlatformFacts) -> bool:
    """True when `a` and `b` name the same folder (case-insensitively on Windows)."""
    if facts.windows or is_windows_path(a) or is_windows_path(b):
        return os.path.normcase(a.rstrip("\\/")).lower().replace("/", "\\") == os.path.normcase(
            b.rstrip("\\/")
        ).lower().replace("/", "\\")
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def marker(text: str, prefix: str) -> str | None:
    """The value after `prefix` on the first output line that starts with it (a probe's
    `ROBO_PREFIX=…`), None when no line does."""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    return None


def last_line(text: str) -> str:
    """The last non-empty line, cut at 200 characters (for one-line error messages)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""
