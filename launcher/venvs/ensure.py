"""The project's venv for this platform: reused when healthy, else (re)created."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from loguru import logger

from launcher.errors import VenvError
from launcher.platform import PlatformFacts, find_uv
from launcher.venvs.creation import CREATE_TIMEOUT, create_venv, remove_venv
from launcher.venvs.info import VenvInfo
from launcher.venvs.inspection import VALIDATE_TIMEOUT, inspect_venv
from launcher.venvs.interpreters import find_python
from launcher.venvs.layout import (
    display_path,
    has_pip,
    health_os,
    os_label,
    venv_for_platform,
    venv_python,
)


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
            method += f" ({foreign.name} belongs to {os_label(health_os(foreign))})"
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
