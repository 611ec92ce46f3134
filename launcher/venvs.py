"""Find, validate and create the project's venv; build the environment that "activates" it.

A venv is usable when its `pyvenv.cfg` is there, it was built for this OS (`Scripts\\` on
Windows, `bin/` elsewhere), its base interpreter still exists and its python answers within a
timeout (GUIDE §3.8, §3.9). A venv whose base interpreter is gone is recreated, with a message.
A venv made by another OS (a Windows venv seen from WSL, or the reverse) is never touched: a
per-platform sibling such as `.venv-wsl` is used instead, and why is explained once.

Creation tries, in order, each failure logged with its reason:
`uv venv` → `python -m venv` → `virtualenv` → `python -m venv --without-pip` + `ensurepip`.
The chain is a parameter so tests can make earlier creators fail for real.

Interpreter discovery skips the Microsoft Store alias (`…\\WindowsApps\\`, GUIDE §3.10) and
uses `py -3` on Windows when `python` is missing. Every subprocess goes through
`launcher.proc.run` (argv lists, never a shell).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from launcher import proc
from launcher.errors import UsageError, VenvError
from launcher.shells import PlatformFacts, find_tool, windows_to_wsl

VALIDATE_TIMEOUT = 30.0
"""Seconds a venv's python may take to answer (a cold start under antivirus can be slow)."""
CREATE_TIMEOUT = 300.0
"""Seconds one creator may take (ensurepip on a slow disk)."""

CREATORS = ("uv", "venv", "virtualenv", "venv-without-pip")
"""The creator chain, in the order it is tried."""

CREATOR_LABELS = {
    "uv": "uv",
    "venv": "python -m venv",
    "virtualenv": "virtualenv",
    "venv-without-pip": "python -m venv --without-pip + ensurepip",
}

_PROBE = (
    "import sys; print('ROBO_PREFIX=' + sys.prefix); "
    "print('ROBO_VERSION=%d.%d.%d' % sys.version_info[:3])"
)
_INTERPRETER_PROBE = (
    "import sys; print('ROBO_EXE=' + sys.executable); "
    "print('ROBO_VERSION=%d.%d.%d' % sys.version_info[:3])"
)
_STORE_ALIAS_EXIT = 9009
_SCRUB = ("PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV", "__PYVENV_LAUNCHER__", "CONDA_PREFIX")


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Problem:
    """Something wrong with a venv: a stable `code`, what is wrong, what to do."""

    code: str  # missing, not-a-venv, foreign-os, base-missing, wont-run, timeout
    message: str
    hint: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "hint": self.hint}


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


@dataclass(frozen=True)
class Interpreter:
    """A Python that can create venvs: its real path, version, and how it was found."""

    path: str
    version: str
    source: str


@dataclass(frozen=True)
class VenvInfo:
    """The venv `up` runs in.

    `method` is a short phrase for `up`'s step line ("reused .venv", "created with uv", …).
    `has_pip`/`uv` say which installer can fill it (`uv pip install --python` needs no pip).
    `foreign` is the other OS's venv that was left alone (e.g. `.venv` when `.venv-wsl` is used).
    """

    path: Path
    python: Path
    created: bool
    method: str
    version: str
    notes: tuple[str, ...] = ()
    has_pip: bool = False
    uv: str | None = None
    foreign: Path | None = None

    @property
    def scripts_dir(self) -> Path:
        return self.python.parent

    @property
    def installer(self) -> str | None:
        """`uv` when uv is available, else `pip` when the venv has it, else None."""
        if self.uv:
            return "uv"
        return "pip" if self.has_pip else None


# ---------------------------------------------------------------------------------------------
# Inspection


def read_pyvenv_cfg(venv: Path) -> dict[str, str] | None:
    """`pyvenv.cfg` as {key: value} (keys lower-case), None when there is none."""
    try:
        text = (venv / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    values: dict[str, str] = {}
    for raw in text.splitlines():
        key, sep, value = raw.partition("=")
        if sep:
            values[key.strip().lower()] = value.strip()
    return values


def venv_layout(venv: Path) -> str | None:
    """`windows` (Scripts\\python.exe, or Scripts\\ without bin/), `posix` (bin/), or None."""
    scripts, bin_dir = venv / "Scripts", venv / "bin"
    if (scripts / "python.exe").exists() or (scripts.is_dir() and not bin_dir.is_dir()):
        return "windows"
    if bin_dir.is_dir():
        return "posix"
    return None


def venv_python(venv: Path, layout: str | None = None) -> Path:
    """The venv's interpreter path for its layout (it may not exist)."""
    if (layout or venv_layout(venv)) == "windows":
        return venv / "Scripts" / "python.exe"
    bin_dir = venv / "bin"
    for name in ("python", "python3"):
        if os.path.lexists(bin_dir / name):
            return bin_dir / name
    return bin_dir / "python"


def _binary_os(path: Path) -> str | None:
    """linux / macos / windows from an executable's magic bytes (None when unreadable)."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except OSError:
        return None
    if magic == b"\x7fELF":
        return "linux"
    if magic in {
        b"\xfe\xed\xfa\xce",
        b"\xce\xfa\xed\xfe",
        b"\xfe\xed\xfa\xcf",
        b"\xcf\xfa\xed\xfe",
        b"\xca\xfe\xba\xbe",
    }:
        return "macos"
    if magic[:2] == b"MZ":
        return "windows"
    return None


def _looks_windows(path: str) -> bool:
    return bool(re.match(r"^[A-Za-z]:[\\/]", path)) or path.startswith("\\\\")


def _facts_os(facts: PlatformFacts) -> str | None:
    if facts.windows:
        return "windows"
    if facts.platform.startswith("linux"):
        return "linux"
    if facts.platform == "darwin":
        return "macos"
    return None


def _built_for(
    venv: Path, cfg: Mapping[str, str] | None, layout: str | None
) -> tuple[str | None, str]:
    """(the OS a venv was made for, the evidence in words)."""
    home = (cfg or {}).get("home", "")
    if layout == "windows":
        evidence = (
            "Scripts\\ without bin/" if not (venv / "bin").is_dir() else "Scripts\\python.exe"
        )
        if home:
            evidence += f", home {home}"
        return "windows", evidence
    if home and _looks_windows(home):
        return "windows", f"pyvenv.cfg home {home}"
    if layout == "posix":
        binary = _binary_os(venv_python(venv, "posix"))
        if binary == "windows":
            return "windows", "bin/python is a Windows executable"
        if binary:
            return binary, f"bin/python is a {'Linux' if binary == 'linux' else 'macOS'} executable"
        evidence = "bin/ without Scripts\\"
        if home:
            evidence += f", home {home}"
        return "posix", evidence
    return None, "no bin/ or Scripts\\ folder"


def _is_this_os(built_for: str | None, facts: PlatformFacts) -> bool:
    here = _facts_os(facts)
    if built_for is None:
        return True
    if facts.windows:
        return built_for == "windows"
    if built_for == "windows":
        return False
    return built_for == "posix" or here is None or built_for == here


def _os_label(name: str | None) -> str:
    return {
        "windows": "Windows",
        "wsl": "WSL",
        "linux": "Linux",
        "macos": "macOS",
        "posix": "another POSIX system",
    }.get(name or "", name or "an unknown system")


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
    built_for, evidence = _built_for(path, cfg, layout)
    health.built_for = built_for
    health.this_os = _is_this_os(built_for, facts)
    if not health.this_os:
        health.problems.append(
            Problem(
                "foreign-os",
                f"{path} was made on {_os_label(built_for)} ({evidence}); it cannot run on "
                f"{_os_label(facts.os_name)}",
                f"Leave it for {_os_label(built_for)}; the launcher uses "
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
    prefix = _marker(result.stdout, "ROBO_PREFIX=")
    if (not result.ok or prefix is None) and not home_ok:
        return base_missing()
    if not result.ok or prefix is None:
        health.problems.append(
            Problem(
                "wont-run",
                f"{python} does not run (exit {result.returncode}: "
                f"{_last_line(result.tail(5)) or 'no output'})",
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
    health.version = _marker(result.stdout, "ROBO_VERSION=")
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
    if facts.windows or _looks_windows(a) or _looks_windows(b):
        return os.path.normcase(a.rstrip("\\/")).lower().replace("/", "\\") == os.path.normcase(
            b.rstrip("\\/")
        ).lower().replace("/", "\\")
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _marker(text: str, prefix: str) -> str | None:
    for raw in text.splitlines():
        if raw.startswith(prefix):
            return raw[len(prefix) :].strip()
    return None


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


# ---------------------------------------------------------------------------------------------
# The environment of an activated venv


def scrubbed_env(base: Mapping[str, str]) -> dict[str, str]:
    """`base` without the variables that make a Python look elsewhere (PYTHONHOME, …)."""
    drop = {name.upper() for name in _SCRUB}
    return {k: v for k, v in base.items() if k.upper() not in drop}


def activated_env(venv_info: VenvInfo, base_env: Mapping[str, str]) -> dict[str, str]:
    """The environment of a process "inside" the venv, as a new dict (os.environ untouched).

    VIRTUAL_ENV set, the venv's scripts folder first on PATH (a previously activated venv's
    folder removed from it), PYTHONHOME and macOS's __PYVENV_LAUNCHER__ removed.
    """
    env = dict(base_env)
    previous = next((v for k, v in env.items() if k.upper() == "VIRTUAL_ENV"), None)
    for key in list(env):
        if key.upper() in {"PYTHONHOME", "__PYVENV_LAUNCHER__", "VIRTUAL_ENV"}:
            del env[key]
    env["VIRTUAL_ENV"] = str(venv_info.path)
    path_key = next((k for k in env if k.upper() == "PATH"), "PATH")
    scripts = str(venv_info.scripts_dir)
    parts = [p for p in env.get(path_key, "").split(os.pathsep) if p]
    stale = (
        {os.path.join(previous, "bin"), os.path.join(previous, "Scripts")} if previous else set()
    )
    parts = [p for p in parts if p not in stale and p != scripts]
    env[path_key] = os.pathsep.join([scripts, *parts])
    return env


# ---------------------------------------------------------------------------------------------
# Interpreter discovery


def is_store_alias(path: str) -> bool:
    """True for the Microsoft Store's `python.exe` alias (`…\\WindowsApps\\…`, GUIDE §3.10)."""
    parts = re.split(r"[\\/]+", path.lower())
    return "windowsapps" in parts


def find_python(
    requested: str | None, facts: PlatformFacts, *, timeout: float = VALIDATE_TIMEOUT
) -> Interpreter:
    """The interpreter that creates the venv.

    `requested` (`--python`) may be a path, a command name or a version (`3.12`: `py -3.12` on
    Windows, `python3.12` elsewhere). Without it: `python3`/`python` on PATH (Store aliases
    skipped), `py -3` on Windows, then the launcher's own interpreter.
    """
    env = scrubbed_env(facts.env)
    if requested:
        candidates = _requested_candidates(requested, facts)
        errors: list[str] = []
        for argv, source in candidates:
            found = _probe_interpreter(argv, source, env, timeout, errors)
            if found:
                return found
        raise UsageError(
            f"--python {requested}: no usable interpreter ({'; '.join(errors) or 'not found'})",
            "Pass the full path of a Python 3 interpreter, a command on PATH, or a version "
            "such as 3.12.",
        )
    names = ("python", "python3") if facts.windows else ("python3", "python")
    candidates: list[tuple[list[str], str]] = []
    for name in names:
        for path in facts.which_all(name):
            if is_store_alias(path):
                logger.info(f"skipping {path}: the Microsoft Store alias, not a real Python")
                continue
            candidates.append(([path], f"{name} on PATH"))
    if facts.windows:
        launcher = facts.which("py")
        if launcher and not is_store_alias(launcher):
            candidates.append(([launcher, "-3"], "py -3"))
    if facts.executable:
        candidates.append(([facts.executable], "the launcher's own Python"))
    errors = []
    seen: set[str] = set()
    for argv, source in candidates:
        key = os.path.realpath(argv[0]) + " ".join(argv[1:])
        if key in seen:
            continue
        seen.add(key)
        found = _probe_interpreter(argv, source, env, timeout, errors)
        if found:
            return found
    raise VenvError(
        "no Python interpreter found to create the venv"
        + (f" ({'; '.join(errors)})" if errors else ""),
        "Install Python 3 from python.org (on Windows tick 'Add python.exe to PATH'; the "
        "Microsoft Store alias does not count), or pass --python PATH.",
    )


def _requested_candidates(requested: str, facts: PlatformFacts) -> list[tuple[list[str], str]]:
    source = f"--python {requested}"
    if os.sep in requested or "/" in requested or "\\" in requested or os.path.isfile(requested):
        return [([requested], source)]
    if re.fullmatch(r"\d+(\.\d+)*", requested):
        if facts.windows:
            launcher = facts.which("py")
            return [([launcher, f"-{requested}"], source)] if launcher else []
        return [([p], source) for p in facts.which_all(f"python{requested}")]
    return [([p], source) for p in facts.which_all(requested) if not is_store_alias(p)]


def _probe_interpreter(
    argv: list[str], source: str, env: Mapping[str, str], timeout: float, errors: list[str]
) -> Interpreter | None:
    result = proc.run([*argv, "-c", _INTERPRETER_PROBE], env=env, timeout=timeout)
    exe = _marker(result.stdout, "ROBO_EXE=")
    if result.returncode == _STORE_ALIAS_EXIT or "microsoft store" in result.tail(5).lower():
        logger.info(f"skipping {argv[0]}: the Microsoft Store alias (exit {result.returncode})")
        errors.append(f"{argv[0]} is the Microsoft Store alias")
        return None
    if not result.ok or not exe:
        reason = f"{' '.join(argv)} failed (exit {result.returncode}: {_last_line(result.tail(3))})"
        logger.info(f"skipping interpreter: {reason}")
        errors.append(reason)
        return None
    if is_store_alias(exe):
        errors.append(f"{exe} is a Microsoft Store alias")
        return None
    version = _marker(result.stdout, "ROBO_VERSION=") or "?"
    logger.debug(f"interpreter {exe} (Python {version}, {source})")
    return Interpreter(exe, version, source)


def find_uv(facts: PlatformFacts) -> str | None:
    """uv on PATH, else next to the launcher's interpreter (it ships in the launcher's venv)."""
    return find_tool("uv", facts)


# ---------------------------------------------------------------------------------------------
# Creation


class _CreatorFailed(Exception):
    """One creator did not produce a usable venv; the message is the short reason."""


@dataclass
class _Job:
    target: Path
    python: Interpreter
    facts: PlatformFacts
    cwd: Path
    env: dict[str, str]
    uv: str | None
    timeout: float
    notes: list[str] = field(default_factory=list)


_SUBCOMMAND_FAILED = re.compile(
    r"Command '\[.*?'-m', '([\w.]+)'.*?\]' returned non-zero exit status (-?\d+)"
)


def _failure(result: proc.Result) -> str:
    """`exit 1: <last line>`, with venv's long "Command '[…]' returned…" made readable."""
    text = _last_line(result.tail(5)) or "no output"
    text = _SUBCOMMAND_FAILED.sub(lambda m: f"`-m {m.group(1)}` exited with {m.group(2)}", text)
    return f"exit {result.returncode}: {text}"


def _run(job: _Job, argv: Sequence[str | os.PathLike[str]]) -> proc.Result:
    result = proc.run(argv, env=job.env, cwd=job.cwd, timeout=job.timeout)
    if not result.ok:
        raise _CreatorFailed(_failure(result))
    return result


def _create_uv(job: _Job) -> None:
    if not job.uv:
        raise _CreatorFailed("uv not found on PATH or next to the launcher's Python")
    _run(job, [job.uv, "venv", "--python", job.python.path, str(job.target)])
    job.notes.append("made by uv without pip: dependencies are installed with uv pip")


def _create_venv(job: _Job) -> None:
    _run(job, [job.python.path, "-m", "venv", str(job.target)])


def _create_virtualenv(job: _Job) -> None:
    tool = find_tool("virtualenv", job.facts)
    if not tool:
        raise _CreatorFailed("virtualenv not found on PATH or next to the launcher's Python")
    _run(job, [tool, "--no-periodic-update", "--python", job.python.path, str(job.target)])


def _create_without_pip(job: _Job) -> None:
    _run(job, [job.python.path, "-m", "venv", "--without-pip", str(job.target)])
    python = venv_python(job.target)
    boot = proc.run(
        [python, "-m", "ensurepip", "--upgrade", "--default-pip"],
        env=job.env,
        cwd=job.cwd,
        timeout=job.timeout,
    )
    if boot.ok:
        return
    reason = _last_line(boot.tail(5)) or f"exit {boot.returncode}"
    if job.uv:
        logger.info(f"ensurepip failed in the new venv ({reason}); uv will install into it")
        job.notes.append(f"no pip (ensurepip failed: {reason}): dependencies are installed with uv")
        return
    raise _CreatorFailed(
        f"ensurepip failed ({reason}) and uv is not available to install without pip"
    )


_CREATOR_FUNCS: dict[str, Callable[[_Job], None]] = {
    "uv": _create_uv,
    "venv": _create_venv,
    "virtualenv": _create_virtualenv,
    "venv-without-pip": _create_without_pip,
}


def has_pip(venv: Path) -> bool:
    """True when pip is installed in the venv's site-packages (no process started)."""
    patterns = ("lib/python*/site-packages/pip/__init__.py", "Lib/site-packages/pip/__init__.py")
    return any(any(venv.glob(p)) for p in patterns)


def create_venv(
    target: Path,
    python: Interpreter,
    facts: PlatformFacts,
    *,
    creators: Sequence[str] | None = None,
    cwd: Path | None = None,
    timeout: float = CREATE_TIMEOUT,
) -> VenvInfo:
    """Create a venv at `target` (which must not exist) with the first creator that works.

    Each failed creator is logged with its reason and its half-made folder removed; the
    returned `method` names the creator and, briefly, why the earlier ones failed.
    """
    chain = list(creators) if creators is not None else list(CREATORS)
    unknown = [c for c in chain if c not in _CREATOR_FUNCS]
    if unknown:
        raise ValueError(f"unknown venv creator(s): {unknown}; known: {CREATORS}")
    if os.path.lexists(target):
        raise VenvError(f"{target} already exists", "Remove it first.")
    uv = find_uv(facts)
    env = scrubbed_env(facts.env)
    failures: list[tuple[str, str]] = []
    for name in chain:
        label = CREATOR_LABELS[name]
        job = _Job(target, python, facts, cwd or target.parent, env, uv, timeout)
        try:
            _CREATOR_FUNCS[name](job)
            health = inspect_venv(target, facts)
            if not health.valid:
                raise _CreatorFailed(health.problems[0].message)
        except _CreatorFailed as exc:
            reason = str(exc)
            if "not found" in reason:
                logger.info(f"venv: {label} skipped: {reason}")
            else:
                logger.warning(f"venv: creating {target.name} with {label} failed: {reason}")
            failures.append((label, reason))
            _discard(target)
            continue
        pip = has_pip(target)
        if not pip and not uv:
            reason = "the venv has no pip and uv is not available"
            logger.warning(f"venv: creating {target.name} with {label} failed: {reason}")
            failures.append((label, reason))
            _discard(target)
            continue
        method = f"created with {label}"
        if failures:
            method += " (" + "; ".join(_brief(lbl, r) for lbl, r in failures) + ")"
        logger.debug(f"venv: {method} at {target} from {python.path} ({python.source})")
        return VenvInfo(
            path=target,
            python=health.python or venv_python(target),
            created=True,
            method=method,
            version=health.version or python.version,
            notes=tuple(job.notes),
            has_pip=pip,
            uv=uv,
        )
    detail = "; ".join(f"{lbl}: {r}" for lbl, r in failures) or "no creator was enabled"
    raise VenvError(
        f"could not create a venv at {target} with {python.path} ({detail})",
        "Install uv (pip install uv), or on Debian/Ubuntu the venv module "
        "(sudo apt install python3-venv), or pass --python with another interpreter.",
    )


def _brief(label: str, reason: str, limit: int = 70) -> str:
    """One failure for `up`'s step line: "uv not found", "python -m venv failed: …"."""
    if "not found" in reason:
        return f"{label} not found"
    text = reason if len(reason) <= limit else reason[: limit - 1] + "…"
    return f"{label} failed: {text}"


def _discard(target: Path) -> None:
    """Remove a half-made venv (only ever one the creator chain made itself)."""
    if os.path.lexists(target):
        shutil.rmtree(target, ignore_errors=True)


def remove_venv(path: Path, attempts: int = 5) -> None:
    """Delete a broken venv; retries briefly for Windows file locks (antivirus, GUIDE §3.5).

    Refuses anything without a pyvenv.cfg, so a mistyped venv setting never deletes a project.
    """
    if not (path / "pyvenv.cfg").is_file():
        raise VenvError(f"refusing to delete {path}: it has no pyvenv.cfg", "Delete it yourself.")
    delay = 0.2
    for attempt in range(1, attempts + 1):
        try:
            shutil.rmtree(path)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if attempt == attempts:
                raise VenvError(
                    f"could not delete the broken venv {path}: {exc}",
                    "Close programs that use it (editors, terminals, antivirus scans), delete "
                    "it yourself, then run the command again.",
                ) from None
            logger.debug(f"delete {path} failed ({exc}); retrying in {delay:.1f} s")
            time.sleep(delay)
            delay *= 2


# ---------------------------------------------------------------------------------------------
# The per-platform venv


def sibling_path(venv_path: Path, facts: PlatformFacts) -> Path:
    """Where this platform keeps its own venv next to another OS's: `.venv-wsl`, `.venv-windows`…"""
    return venv_path.with_name(f"{venv_path.name}-{facts.os_name}")


def venv_for_platform(venv_path: Path, facts: PlatformFacts) -> tuple[Path, Path | None, str]:
    """(the venv this platform uses, the other OS's venv left alone or None, why in words)."""
    if not venv_path.is_dir():
        return venv_path, None, ""
    cfg = read_pyvenv_cfg(venv_path)
    layout = venv_layout(venv_path)
    if cfg is None and layout is None:
        return venv_path, None, ""
    built_for, evidence = _built_for(venv_path, cfg, layout)
    if _is_this_os(built_for, facts):
        return venv_path, None, ""
    sibling = sibling_path(venv_path, facts)
    why = (
        f"{venv_path.name} was made on {_os_label(built_for)} ({evidence}), so it cannot run on "
        f"{_os_label(facts.os_name)}. It is left untouched and {sibling.name} is used here: "
        "one venv per platform, so neither side keeps recreating the other's."
    )
    if facts.wsl and windows_to_wsl(str(venv_path)).startswith("/mnt/"):
        why += (
            " The project is on a Windows drive (/mnt/…), which is slow from WSL: a copy in the "
            "Linux file system (e.g. ~/projects) is much faster."
        )
    return sibling, venv_path, why


def display_path(path: Path, project: Path) -> str:
    """`path` relative to the project when it is inside it (for messages), else as given."""
    try:
        return str(path.relative_to(project))
    except ValueError:
        return str(path)


def ensure_venv(
    project: Path,
    venv_path: Path,
    python: str | None,
    facts: PlatformFacts,
    create: bool = True,
    *,
    creators: Sequence[str] | None = None,
    validate_timeout: float = VALIDATE_TIMEOUT,
    create_timeout: float = CREATE_TIMEOUT,
) -> VenvInfo:
    """The project's venv for this platform: reused when healthy, else (re)created.

    `python` (`--python`) picks the interpreter for a new venv. With `create=False` nothing is
    created or deleted: a missing or broken venv is a VenvError (used by `activate`).
    `creators` overrides the creator chain (tests make earlier creators fail for real).
    """
    project = Path(project)
    venv_path = venv_path if venv_path.is_absolute() else project / venv_path
    target, foreign, why = venv_for_platform(venv_path, facts)
    notes: list[str] = [why] if why else []
    name = display_path(target, project)
    if foreign is not None:
        if target.exists():
            logger.debug(why)
        elif create:
            logger.warning(why)  # explained once: the next runs find the sibling and stay quiet
    health = inspect_venv(target, facts, timeout=validate_timeout)
    uv = find_uv(facts)
    if health.valid:
        method = f"reused {name}"
        if foreign is not None:
            method += f" ({foreign.name} belongs to {_os_label(health_os(foreign))})"
        return VenvInfo(
            path=target,
            python=health.python or venv_python(target),
            created=False,
            method=method,
            version=health.version or "?",
            notes=tuple(notes),
            has_pip=has_pip(target),
            uv=uv,
            foreign=foreign,
        )
    recreated: str | None = None
    if health.exists:
        problem = health.problems[0]
        if problem.code in {"not-a-venv", "foreign-os", "timeout"} or not create:
            raise VenvError(problem.message, problem.hint)
        logger.warning(f"{name}: {problem.message}; recreating it")
        remove_venv(target)
        recreated = (
            "the old one's base interpreter was gone"
            if problem.code == "base-missing"
            else "the old one's python did not run"
        )
    elif not create:
        hint = "Run `robo-backend up` once to create it."
        if foreign is not None:
            hint = f"{why} Run `robo-backend up` here once to create {target.name}."
        raise VenvError(f"no venv at {target}", hint)
    interpreter = find_python(python, facts, timeout=validate_timeout)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VenvError(
            f"cannot create the folder for the venv {target}: {exc}",
            "Check the venv setting and that the project folder is writable.",
        ) from None
    info = create_venv(
        target,
        interpreter,
        facts,
        creators=creators,
        cwd=project if project.is_dir() else target.parent,
        timeout=create_timeout,
    )
    method = info.method
    if recreated:
        method = f"re{method} ({recreated})"
        notes.append(f"recreated: {health.problems[0].message}")
    return VenvInfo(
        path=info.path,
        python=info.python,
        created=True,
        method=method,
        version=info.version,
        notes=tuple(notes) + info.notes,
        has_pip=info.has_pip,
        uv=info.uv,
        foreign=foreign,
    )


def health_os(venv: Path) -> str | None:
    """The OS a venv folder was made for (None when it is not a venv)."""
    return _built_for(venv, read_pyvenv_cfg(venv), venv_layout(venv))[0]
