"""The dependency step of `up`: uvicorn named first, the sync, a retry on another Python.

Before the install, a source that certainly lacks uvicorn stops `up` and one that may lack it
warns; after it, the venv must hold uvicorn. An install that failed for lack of wheels is tried
once more in a venv of the nearest installed Python that fits and has them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from loguru import logger

from launcher.deps.declared import FRAMEWORK, SERVER, declared, line_to_add, venv_has
from launcher.deps.sources import DependencySource, find_source
from launcher.deps.sync import DepsResult, InstallFailed, sync_dependencies
from launcher.deps.wheels import MissingWheel, has_wheels
from launcher.errors import DependencyError
from launcher.platform import PlatformFacts, find_uv

if TYPE_CHECKING:
    from launcher.settings import Settings
    from launcher.venvs.info import Interpreter, VenvInfo


def sync_for_up(
    settings: Settings, venv: VenvInfo, facts: PlatformFacts, env: Mapping[str, str]
) -> tuple[VenvInfo, DepsResult]:
    """The venv holding the project's dependencies (another venv when the retry made one)."""
    project, state = settings.project, settings.state_path
    uv = find_uv(PlatformFacts.local(env))
    source = find_source(project, uv=uv is not None)
    try:
        result = sync_dependencies(
            project,
            venv.python,
            settings.install,
            state,
            env,
            before_install=lambda chosen: name_missing_packages(chosen, venv),
            timeout=settings.install_timeout,
        )
    except InstallFailed as failed:
        if failed.missing is None:
            raise
        venv, result = _retry(settings, venv, facts, env, failed, failed.missing)
    require_server(venv, source)
    return venv, result


def name_missing_packages(source: DependencySource, venv: VenvInfo) -> None:
    """Before an install: stop when `source` certainly lacks uvicorn (and the venv has not got
    it, or uv sync would remove it), warn when it may lack uvicorn or fastapi."""
    server = declared(source, SERVER)
    kept = source.kind != "uv.lock" and venv_has(venv.path, SERVER)
    if server.state == "missing" and not kept:
        raise DependencyError(
            f"the project's dependencies ({server.where}) do not include {SERVER}, which "
            f"`up` runs the backend with (python -m {SERVER})",
            line_to_add(source, SERVER),
        )
    for package in (SERVER, FRAMEWORK):
        found = declared(source, package)
        if found.state in ("missing", "unsure"):
            maybe = " (it may come with another package)" if found.state == "unsure" else ""
            logger.warning(
                f"{package} is not among the dependencies in {found.where}{maybe}: "
                f"{line_to_add(source, package)}"
            )


def require_server(venv: VenvInfo, source: DependencySource) -> None:
    """After the sync: the venv must hold uvicorn, or the backend cannot start."""
    if venv_has(venv.path, SERVER):
        return
    raise DependencyError(
        f"{SERVER} is not installed in {venv.path}: nothing in the project's dependencies "
        f"({source.label}) brings it, and `up` runs the backend with python -m {SERVER}",
        line_to_add(source, SERVER),
    )


def _retry(
    settings: Settings,
    venv: VenvInfo,
    facts: PlatformFacts,
    env: Mapping[str, str],
    failed: InstallFailed,
    missing: MissingWheel,
) -> tuple[VenvInfo, DepsResult]:
    """Once more on the nearest other Python that fits and has the wheel, or a clear error."""
    from launcher.venvs import ensure_venv, remove_venv
    from launcher.venvs.project_lock import env_lock

    project, state, requires = settings.project, settings.state_path, settings.requires_python
    uv = find_uv(PlatformFacts.local(env))
    picked = None if settings.python else _other_python(missing, venv, facts, env, requires, uv)
    if picked is None:
        raise _no_wheel_error(settings, venv, env, failed, missing, requires, uv)
    other, known = picked
    logger.warning(
        f"{missing.pin} has no wheel for Python {venv.version} and {missing.why}; trying once "
        f"more in a venv on Python {other.version} ({other.path}, found by {other.source}), "
        + ("which has one" if known else "which may have one")
    )
    with env_lock(state, "recreating the venv on another Python"):
        remove_venv(venv.path)
        made = ensure_venv(
            project, settings.venv_path, other.path, facts, state_dir=state, requires=requires
        )
        try:
            result = sync_dependencies(
                project, made.python, settings.install, state, env, timeout=settings.install_timeout
            )
        except DependencyError as again:
            raise DependencyError(
                f"on Python {other.version} too (tried because {missing.pin} has no wheel for "
                f"Python {venv.version}), {again.message}",
                again.hint,
            ) from None
    because = f"{missing.pin} has no wheel for Python {venv.version}"
    made = replace(made, notes=(*made.notes, f"made with Python {made.version}: {because}"))
    return made, replace(result, reason=f"{result.reason}; on Python {made.version}: {because}")


def _other_python(
    missing: MissingWheel,
    venv: VenvInfo,
    facts: PlatformFacts,
    env: Mapping[str, str],
    requires: str | None,
    uv: str | None,
) -> tuple[Interpreter, bool] | None:
    """The nearest installed Python that fits `requires` and has a wheel of the pin, and
    whether uv said so (False: uv could not tell, and no nearer one is known to have one)."""
    from launcher.venvs.interpreters import installed_python

    maybe: Interpreter | None = None
    for minor in _candidates(missing, venv, requires):
        found = installed_python(minor, facts, requires=requires, cwd=venv.path.parent)
        if found is None:
            continue
        wheels = (
            True
            if missing.tags
            else has_wheels(missing, uv, env, venv.path.parent, python=found.path)
        )
        if wheels:
            return found, True
        if wheels is None and maybe is None:
            maybe = found
        logger.debug(f"Python {found.version}: a wheel of {missing.pin}? {wheels}")
    return (maybe, False) if maybe is not None else None


def _candidates(missing: MissingWheel, venv: VenvInfo, requires: str | None) -> list[str]:
    from launcher.venvs.requires import fitting_minors

    minors = fitting_minors(requires, venv.version)
    tagged = missing.minors_with_wheels()
    return [m for m in minors if m in tagged] if tagged else minors


def _would_work(
    missing: MissingWheel,
    venv: VenvInfo,
    env: Mapping[str, str],
    requires: str | None,
    uv: str | None,
) -> str | None:
    """The nearest Python version that fits and has a wheel of the pin (None: none known)."""
    for minor in _candidates(missing, venv, requires):
        python = str(venv.python)
        if missing.tags or has_wheels(
            missing, uv, env, venv.path.parent, python=python, version=minor
        ):
            return minor
    return None


def _no_wheel_error(
    settings: Settings,
    venv: VenvInfo,
    env: Mapping[str, str],
    failed: InstallFailed,
    missing: MissingWheel,
    requires: str | None,
    uv: str | None,
) -> DependencyError:
    """No other Python to try: say which one would work, and how to get it."""
    minor = _would_work(missing, venv, env, requires, uv)
    output = failed.message.split("\n", 1)[1] if "\n" in failed.message else ""
    fits = f" that fits requires-python {requires}" if requires else ""
    if minor is None:
        message = (
            f"{missing.pin} has no wheel for Python {venv.version} and {missing.why}, and no "
            f"Python version{fits} has a wheel of it"
        )
        hint = (
            f"Lock a newer {missing.package} (one with wheels for Python {venv.version}), or "
            "make its source build work here (a compiler and its build dependencies)."
        )
    elif settings.python:
        message = (
            f"{missing.pin} has no wheel for Python {venv.version} (--python "
            f"{settings.python}) and {missing.why}; Python {minor} has one"
        )
        hint = f"Pass --python {minor} (`uv python install {minor}` if it is not installed)."
    else:
        message = (
            f"{missing.pin} has no wheel for Python {venv.version} and {missing.why}; "
            f"Python {minor} has one, and no Python {minor} is installed"
        )
        hint = (
            f"Install it: `uv python install {minor}` (or on Windows `py install {minor}`), "
            "then run `robo-backend up` again: the launcher finds it and uses it."
        )
    return DependencyError(message + (":\n" + output if output else ""), hint)
