"""The project's venv for this platform: reused when healthy and fitting, else (re)created."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from loguru import logger

from launcher.errors import VenvError
from launcher.fileops import clear_empty_dir, read_state_text, write_state_text
from launcher.platform import PlatformFacts, find_uv
from launcher.settings import STATE_DIR
from launcher.venvs.creation import create_venv, remove_venv
from launcher.venvs.info import VenvInfo
from launcher.venvs.inspection import VALIDATE_TIMEOUT, VenvHealth, inspect_venv
from launcher.venvs.interpreters import find_python
from launcher.venvs.marker import interrupted_install
from launcher.venvs.project_lock import env_lock
from launcher.venvs.pyvenv import (
    display_path,
    has_pip,
    health_os,
    os_label,
    venv_for_platform,
    venv_python,
)
from launcher.venvs.requires import satisfies

CREATING = "creating-venv"
"""Marker in the state folder while a venv is being made (holds the target path)."""


def ensure_venv(
    project: Path,
    venv_path: Path,
    python: str | None,
    facts: PlatformFacts,
    create: bool = True,
    *,
    creators: Sequence[str] | None = None,
    validate_timeout: float = VALIDATE_TIMEOUT,
    state_dir: Path | None = None,
    requires: str | None = None,
) -> VenvInfo:
    """The project's venv for this platform: reused when healthy, else (re)created.

    `python` (`--python`) picks the interpreter for a new venv; a venv whose version does not fit
    `requires` (the project's requires-python), or that is half-installed, is recreated.
    Creation holds the project's lock in `state_dir`, so a second `up` waits, then reuses. With
    `create=False` nothing is created or deleted: a missing or broken venv is a VenvError.
    `creators` overrides the creator chain.
    """
    project = Path(project)
    venv_path = venv_path if venv_path.is_absolute() else project / venv_path
    target, foreign, why = venv_for_platform(venv_path, facts)
    plan = _Plan(project, target, foreign, why, python, requires, facts, validate_timeout)
    if foreign is not None:
        if target.exists():
            logger.debug(why)
        elif create:
            logger.warning(why)  # explained once: the next runs find the sibling and stay quiet
    if not create:
        return _existing(plan)
    state = state_dir or project / STATE_DIR
    with env_lock(state, "creating the venv"):
        return _ensure(plan, creators, state)


@dataclass
class _Plan:
    project: Path
    target: Path
    foreign: Path | None
    why: str
    python: str | None
    requires: str | None
    facts: PlatformFacts
    timeout: float

    @property
    def name(self) -> str:
        return display_path(self.target, self.project)

    def reused(self, health: VenvHealth) -> VenvInfo:
        method = f"reused {self.name}"
        if self.foreign is not None:
            method += f" ({self.foreign.name} belongs to {os_label(health_os(self.foreign))})"
        return VenvInfo(
            path=self.target,
            python=health.python or venv_python(self.target),
            created=False,
            method=method,
            version=health.version or "?",
            notes=(self.why,) if self.why else (),
            has_pip=has_pip(self.target),
            uv=find_uv(self.facts),
            foreign=self.foreign,
        )


def _existing(plan: _Plan) -> VenvInfo:
    """The venv as it is (nothing created or deleted), or a VenvError saying what is wrong."""
    health = inspect_venv(plan.target, plan.facts, timeout=plan.timeout)
    if health.valid:
        return plan.reused(health)
    if health.exists:
        problem = health.problems[0]
        raise VenvError(problem.message, problem.hint)
    hint = "Run `robo-backend up` once to create it."
    if plan.foreign is not None:
        hint = f"{plan.why} Run `robo-backend up` here once to create {plan.target.name}."
    raise VenvError(f"no venv at {plan.target}", hint)


def _dangling_link(target: Path) -> None:
    """A venv path that is a symbolic link to nothing: said as it is (it is the user's link,
    so it is neither followed into a folder that does not exist nor deleted)."""
    if target.is_symlink() and not target.exists():
        raise VenvError(
            f"{target} is a symbolic link to {os.readlink(target)}, which does not exist",
            f"Delete the link (`rm {target}`) and `up` creates the venv there, or restore the "
            "folder it points to.",
        )


def _ensure(plan: _Plan, creators: Sequence[str] | None, state_dir: Path) -> VenvInfo:
    _dangling_link(plan.target)
    creating = state_dir / CREATING
    if creating.exists():
        _discard_unfinished(plan, creating)
    health = inspect_venv(plan.target, plan.facts, timeout=plan.timeout)
    recreate = _recreate_reason(plan, health, plan.requires)
    if health.valid and recreate is None:
        return plan.reused(health)
    # The interpreter first: when none fits, the old venv stays as it was (exit 2).
    interpreter = find_python(
        plan.python, plan.facts, timeout=plan.timeout, requires=plan.requires, cwd=plan.project
    )
    said = None
    if recreate is not None:
        said = recreate if health.valid else health.problems[0].message
        logger.warning(f"{plan.name}: {said}; recreating it")
        remove_venv(plan.target)
    try:
        plan.target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VenvError(
            f"cannot create the folder for the venv {plan.target}: {exc}",
            "Check the venv setting and that the project folder is writable.",
        ) from None
    write_state_text(creating, str(plan.target))
    try:
        info = create_venv(
            plan.target,
            interpreter,
            plan.facts,
            creators=creators,
            cwd=plan.project if plan.project.is_dir() else plan.target.parent,
        )
    except VenvError:  # every creator failed and cleaned up after itself: nothing unfinished
        creating.unlink(missing_ok=True)
        raise
    creating.unlink(missing_ok=True)
    method = info.method if recreate is None else f"re{info.method} ({recreate})"
    notes: tuple[str, ...] = (plan.why,) if plan.why else ()
    if said is not None:
        notes += (f"recreated: {said}",)
    return replace(info, method=method, notes=notes + info.notes, foreign=plan.foreign)


def _discard_unfinished(plan: _Plan, creating: Path) -> None:
    """A creation was interrupted (the marker outlived its process, which held the lock):
    remove what it left at the target unless that is a working venv."""
    said = read_state_text(creating, limit=65536)  # untrusted: any bytes, a FIFO, a folder
    target = Path(said.strip()) if said and "\0" not in said else plan.target
    unfinished = target == plan.target and os.path.lexists(target) and not target.is_symlink()
    if unfinished and not inspect_venv(target, plan.facts, timeout=plan.timeout).valid:
        logger.warning(f"{plan.name}: its creation was interrupted; making it again")
        shutil.rmtree(target, ignore_errors=True)
    clear_empty_dir(creating)
    with contextlib.suppress(OSError):  # a folder with things in it: the write below says so
        creating.unlink(missing_ok=True)


def _recreate_reason(plan: _Plan, health: VenvHealth, requires: str | None) -> str | None:
    """Why an existing venv must be made again (None: reuse it, or there is none)."""
    if not health.exists:
        return None
    if not health.valid:
        problem = health.problems[0]
        if problem.code in {"not-a-venv", "foreign-os", "timeout"}:
            raise VenvError(problem.message, problem.hint)
        return (
            "the old one's base interpreter was gone"
            if problem.code == "base-missing"
            else "the old one's python did not run"
        )
    half = interrupted_install(plan.target)
    if half is not None:
        return half
    moved = copied_from(plan.target)
    if moved is not None:
        return f"it was copied or moved from {moved} (its scripts still point there)"
    if health.version and not satisfies(health.version, requires):
        return f"its Python {health.version} does not satisfy requires-python {requires}"
    return None


# `VIRTUAL_ENV=/the/venv` in the activate script (quoted or not; a computed value is skipped)
_ACTIVATE_HOME = re.compile(r"""^\s*(?:export\s+)?VIRTUAL_ENV=["']?([^"'$\n]+?)["']?\s*$""", re.M)
_LOOK_AT = 64  # scripts read at most (a venv's bin/ holds a few dozen)


def copied_from(venv: Path) -> Path | None:
    """The folder a copied or moved venv was made at, else None.

    A venv cannot move: its activate script and the shebangs of its console scripts keep the
    path it was made at, so after a copy `uvicorn` or `pip` would run another folder's Python
    (or none). Only a recorded path with the venv's own folder name counts (a shebang of
    `/usr/bin/python3` is not a venv's)."""
    here = os.path.realpath(venv)
    for folder in (venv / "bin", venv / "Scripts"):
        for recorded in _recorded_homes(folder):
            if recorded.name == venv.name and os.path.realpath(recorded) != here:
                return recorded
    return None


def _recorded_homes(folder: Path) -> Iterator[Path]:
    """The venv folders that `folder`'s scripts name: activate's VIRTUAL_ENV, then each
    `#!<venv>/bin/python` shebang's venv."""
    try:
        entries = sorted(folder.iterdir())[:_LOOK_AT] if folder.is_dir() else []
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_symlink() or not entry.is_file() or entry.stat().st_size > 65536:
                continue
            head = entry.read_bytes()[:65536].decode("utf-8", errors="replace")
        except OSError:
            continue
        if entry.name == "activate":
            yield from (Path(found) for found in _ACTIVATE_HOME.findall(head))
        elif head.startswith("#!") and head[2:].strip():
            interpreter = Path(head[2:].splitlines()[0].strip().split()[0])
            yield interpreter.parent.parent
