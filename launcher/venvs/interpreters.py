"""Find the Python interpreter that creates a venv (Microsoft Store aliases skipped).

`venv_interpreter` finds the one that parses the backend's code: the venv's own, else the one
that would create it. Every probe goes through `launcher.proc.run` (argv lists, never a shell).
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from launcher import proc
from launcher.errors import LauncherError, UsageError, VenvError
from launcher.platform import PlatformFacts
from launcher.venvs.environment import scrubbed_env
from launcher.venvs.info import Interpreter
from launcher.venvs.inspection import VALIDATE_TIMEOUT, last_line, marker
from launcher.venvs.pyvenv import existing_venv_python
from launcher.venvs.requires import (
    install_hint,
    py_launcher_list,
    pyenv_interpreters,
    satisfies,
    uv_python_find,
)

if TYPE_CHECKING:
    from launcher.settings import Settings

_INTERPRETER_PROBE = (
    "import sys; print('ROBO_EXE=' + sys.executable); "
    "print('ROBO_VERSION=%d.%d.%d' % sys.version_info[:3])"
)
_STORE_ALIAS_EXIT = 9009


def venv_interpreter(settings: Settings) -> Callable[[], Path | None]:
    """A finder (run at most once, and only when a file needs it) for the python that knows the
    backend's grammar: the project venv's when it exists, else the configured `python`, else one
    that fits the project's requires-python (the one the venv will be created with)."""
    return functools.cache(lambda: _grammar_python(settings))


def _grammar_python(settings: Settings) -> Path | None:
    existing = existing_venv_python(settings.venv_path)
    if existing is not None:
        return existing
    if settings.python:
        configured = shutil.which(str(settings.python))
        return Path(configured) if configured else None
    requires = settings.requires_python
    if requires is None:
        return None  # the venv will get an interpreter like ours: it parses no more than we do
    try:
        chosen = find_python(None, PlatformFacts.current(), requires=requires, cwd=settings.project)
    except LauncherError:
        return None
    return Path(chosen.path)


def is_store_alias(path: str) -> bool:
    """True for the Microsoft Store's `python.exe` alias (`…\\WindowsApps\\…`)."""
    parts = re.split(r"[\\/]+", path.lower())
    return "windowsapps" in parts


def python_names(facts: PlatformFacts) -> tuple[str, str]:
    """The commands a Python is found by on PATH, in the order this OS prefers them."""
    return ("python", "python3") if facts.windows else ("python3", "python")


def find_python(
    requested: str | None,
    facts: PlatformFacts,
    *,
    timeout: float = VALIDATE_TIMEOUT,
    requires: str | None = None,
    cwd: Path | None = None,
) -> Interpreter:
    """The interpreter that creates the venv: `requested` (`--python`: a path, a command or a
    version such as 3.12), else the first default candidate that fits `requires` (the project's
    requires-python), then uv's, the `py` launcher's and pyenv's. None fitting is a UsageError
    (exit 2) naming the versions found and how to get one.
    """
    env = scrubbed_env(facts.env)
    errors: list[str] = []
    if requested:
        return _requested(requested, facts, env, timeout, requires, errors)
    seen: set[str] = set()
    rejected: list[Interpreter] = []
    candidates = itertools.chain(_default_candidates(facts), _fitting(requires, facts, cwd))
    for argv, source in candidates:
        found = _probe_new(argv, source, env, timeout, errors, seen)
        if found and satisfies(found.version, requires):
            return found
        if found:
            rejected.append(found)
    if rejected:
        versions = ", ".join(sorted({f"{i.version} ({i.path})" for i in rejected}))
        raise UsageError(
            f"no Python here satisfies the project's requires-python {requires} "
            f"(found: {versions})",
            install_hint(requires or ""),
        )
    raise VenvError(
        "no Python interpreter found to create the venv"
        + (f" ({'; '.join(errors)})" if errors else ""),
        "Install Python 3 from python.org (on Windows tick 'Add python.exe to PATH'; the "
        "Microsoft Store alias does not count), or pass --python PATH.",
    )


def _requested(
    requested: str,
    facts: PlatformFacts,
    env: Mapping[str, str],
    timeout: float,
    requires: str | None,
    errors: list[str],
) -> Interpreter:
    for argv, source in _requested_candidates(requested, facts):
        found = _probe_interpreter(argv, source, env, timeout, errors)
        if found and not satisfies(found.version, requires):
            raise UsageError(
                f"--python {requested} is Python {found.version}, but the project's "
                f"requires-python is {requires}",
                install_hint(requires or "") + " Or change requires-python in pyproject.toml.",
            )
        if found:
            return found
    raise UsageError(
        f"--python {requested}: no usable interpreter ({'; '.join(errors) or 'not found'})",
        "Pass the full path of a Python 3 interpreter, a command on PATH, or a version "
        "such as 3.12.",
    )


def _probe_new(
    argv: list[str],
    source: str,
    env: Mapping[str, str],
    timeout: float,
    errors: list[str],
    seen: set[str],
) -> Interpreter | None:
    """Probe a candidate unless the same interpreter was probed already."""
    key = os.path.realpath(argv[0]) + " ".join(argv[1:])
    if key in seen:
        return None
    seen.add(key)
    return _probe_interpreter(argv, source, env, timeout, errors)


def _fitting(
    requires: str | None, facts: PlatformFacts, cwd: Path | None
) -> Iterator[tuple[list[str], str]]:
    """Where else a Python for `requires` may be: uv's pick, `py -0p`, pyenv's versions."""
    if requires:
        yield from (([p], "uv python find") for p in uv_python_find(requires, facts, cwd))
        yield from (([p], "the py launcher") for p in py_launcher_list(facts))
        yield from (([p], "pyenv") for p in pyenv_interpreters(facts))


def _default_candidates(facts: PlatformFacts) -> list[tuple[list[str], str]]:
    """python3/python on PATH (Store aliases skipped), `py -3` on Windows, the launcher's own."""
    found: list[tuple[list[str], str]] = []
    for name in python_names(facts):
        for path in facts.which_all(name):
            if is_store_alias(path):
                logger.info(f"skipping {path}: the Microsoft Store alias, not a real Python")
                continue
            found.append(([path], f"{name} on PATH"))
    if facts.windows:
        launcher = facts.which("py")
        if launcher and not is_store_alias(launcher):
            found.append(([launcher, "-3"], "py -3"))
    if facts.executable:
        found.append(([facts.executable], "the launcher's own Python"))
    return found


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


# One answer per interpreter and process: `up`'s pre-flight and its venv step ask about the
# same candidates one after the other (a pyenv shim answers in ~0.2 s, a real binary in 20 ms),
# and a cold `up` starts asking about the first one from its entry point (`probe_soon`).
_ANSWERS: dict[tuple[Any, ...], proc.Result] = {}
_ASKING: dict[tuple[Any, ...], threading.Event] = {}


def _probe_key(argv: list[str], env: Mapping[str, str]) -> tuple[Any, ...] | None:
    try:
        info = os.stat(argv[0])
    except OSError:
        return None
    identity = (os.path.realpath(argv[0]), info.st_mtime_ns, info.st_size)
    return (tuple(argv), identity, tuple(sorted(env.items())))


def _run_probe(
    argv: list[str], env: Mapping[str, str], timeout: float, *, quiet: bool = False
) -> proc.Result:
    key = _probe_key(argv, env)
    asking = _ASKING.get(key) if key is not None else None
    if asking is not None:  # the entry point's early probe of the same interpreter
        asking.wait(timeout)
    result = _ANSWERS.get(key) if key is not None else None
    return result if result is not None else _ask(argv, env, timeout, key, quiet=quiet)


def _ask(
    argv: list[str],
    env: Mapping[str, str],
    timeout: float,
    key: tuple[Any, ...] | None,
    *,
    quiet: bool = False,
) -> proc.Result:
    result = proc.run([*argv, "-c", _INTERPRETER_PROBE], env=env, timeout=timeout, quiet=quiet)
    if key is not None and result.ok:
        _ANSWERS[key] = result
    return result


def probe_soon(facts: PlatformFacts) -> None:
    """Start asking the interpreter a new venv would most likely be made from (the first
    python3/python on PATH) in a thread, for a cold `up` whose entry point has nothing else to
    do yet: the launcher's imports and the probe then overlap. Logs nothing (logging is not
    wired yet); find_python collects the answer, or asks again when it needs another one."""
    names = python_names(facts)
    path = next((p for n in names for p in facts.which_all(n) if not is_store_alias(p)), None)
    if path is None:
        return
    env = scrubbed_env(facts.env)
    key = _probe_key([path], env)
    if key is None or key in _ANSWERS or key in _ASKING:
        return
    done = _ASKING[key] = threading.Event()

    def ask() -> None:
        try:
            _ask([path], env, VALIDATE_TIMEOUT, key, quiet=True)
        finally:
            done.set()
            _ASKING.pop(key, None)

    threading.Thread(target=ask, name="probe-python", daemon=True).start()


def _probe_interpreter(
    argv: list[str], source: str, env: Mapping[str, str], timeout: float, errors: list[str]
) -> Interpreter | None:
    result = _run_probe(argv, env, timeout)
    exe = marker(result.stdout, "ROBO_EXE=")
    if result.returncode == _STORE_ALIAS_EXIT or "microsoft store" in result.tail(5).lower():
        logger.info(f"skipping {argv[0]}: the Microsoft Store alias (exit {result.returncode})")
        errors.append(f"{argv[0]} is the Microsoft Store alias")
        return None
    if not result.ok or not exe:
        reason = f"{' '.join(argv)} failed (exit {result.returncode}: {last_line(result.tail(3))})"
        logger.info(f"skipping interpreter: {reason}")
        errors.append(reason)
        return None
    if is_store_alias(exe):
        errors.append(f"{exe} is a Microsoft Store alias")
        return None
    version = marker(result.stdout, "ROBO_VERSION=") or "?"
    logger.debug(f"interpreter {exe} (Python {version}, {source})")
    return Interpreter(exe, version, source)


def installed_python(
    minor: str,
    facts: PlatformFacts,
    *,
    requires: str | None = None,
    cwd: Path | None = None,
    timeout: float = VALIDATE_TIMEOUT,
) -> Interpreter | None:
    """An installed Python `minor` ("3.10") that fits `requires`, or None: `python3.10` on
    PATH, what `uv python find` finds, the `py` launcher's list, pyenv's versions folder."""
    env = scrubbed_env(facts.env)
    seen: set[str] = set()
    errors: list[str] = []
    for argv, source in _installed_candidates(minor, facts, cwd):
        found = _probe_new(argv, source, env, timeout, errors, seen)
        if found and found.version.startswith(minor + ".") and satisfies(found.version, requires):
            return found
    return None


def _installed_candidates(
    minor: str, facts: PlatformFacts, cwd: Path | None
) -> Iterator[tuple[list[str], str]]:
    """Where a Python `minor` may be, the places that cost nothing to list first (uv's search
    asks every Python on PATH, so it comes last and only when nothing else had one)."""
    for path in pyenv_interpreters(facts):
        if f"{os.sep}{minor}." in path:
            yield [path], "pyenv"
    yield from (([p], "the py launcher") for p in py_launcher_list(facts))
    yield from (([p], f"python{minor} on PATH") for p in facts.which_all(f"python{minor}"))
    yield from (([p], "uv python find") for p in uv_python_find(f"=={minor}.*", facts, cwd))
