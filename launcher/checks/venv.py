"""Checks of the interpreter that would create the venv (python) and of the venv itself.

They share the venv facts (which venv this platform uses, its health), computed once through
the context's memo even when both checks run at the same time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from launcher.checks.core import Check, DoctorContext, Status
from launcher.errors import LauncherError

# A cold interpreter start under an antivirus scan can take seconds: a short timeout here would
# report a working Python as broken, so interpreters get longer (they answer in ~20 ms usually).
INTERPRETER_TIMEOUT = 10.0


def _venv_target(ctx: DoctorContext) -> tuple[Path, Path | None, str]:
    """(the venv this platform uses, another OS's venv left alone or None, why)."""
    from launcher.venvs import venv_for_platform

    return ctx.memo(  # type: ignore[no-any-return]
        "venv-target", lambda: venv_for_platform(ctx.settings.venv_path, ctx.facts)
    )


def _venv_health(ctx: DoctorContext) -> Any:
    from launcher.venvs import inspect_venv

    target, _, _ = _venv_target(ctx)
    return ctx.memo(
        "venv-health", lambda: inspect_venv(target, ctx.facts, timeout=INTERPRETER_TIMEOUT)
    )


def _venv_usable(ctx: DoctorContext) -> bool:
    """Will `up` reuse the venv as it is (so no interpreter is needed to create one)?

    The pre-flight (`quick`) answers from the files alone, without starting the venv's python:
    `up` starts it right after anyway.
    """
    if not ctx.quick:
        return bool(_venv_health(ctx).valid)
    from launcher.venvs import read_pyvenv_cfg, venv_python

    target, _, _ = _venv_target(ctx)
    cfg = read_pyvenv_cfg(target)
    home = (cfg or {}).get("home", "")
    return bool(cfg) and bool(home) and Path(home).is_dir() and venv_python(target).exists()


def check_python(ctx: DoctorContext) -> Check:
    from launcher.venvs import find_python, is_store_alias
    from launcher.venvs.interpreters import python_names
    from launcher.venvs.requires import satisfies

    requested = ctx.settings.python
    if ctx.quick and _venv_usable(ctx):
        # The pre-flight of a warm `up`: the venv is reused, no interpreter is started for it.
        return Check(
            "python",
            "ok",
            "the venv exists: no interpreter needed to create one",
            "",
            {"requested": requested},
        )
    aliases = sorted(
        {p for n in python_names(ctx.facts) for p in ctx.facts.which_all(n) if is_store_alias(p)}
    )
    details: dict[str, Any] = {"requested": requested, "store_aliases_skipped": aliases}
    skipped = (
        f"; skipped the Microsoft Store alias {aliases[0]}" if aliases and not requested else ""
    )
    # doctor asks for an interpreter that fits requires-python; `up`'s pre-flight leaves that
    # to the venv step, which stops with exit 2 (and the versions found) when none fits.
    requires = None if ctx.quick else ctx.settings.requires_python
    details["requires_python"] = requires
    try:
        found = find_python(
            requested,
            ctx.facts,
            timeout=INTERPRETER_TIMEOUT,
            requires=requires,
            cwd=ctx.settings.project,
        )
    except LauncherError as exc:
        details["error"] = exc.message
        if _venv_usable(ctx) and _venv_fits(ctx, requires):
            return Check(
                "python",
                "warn",
                f"{exc.message}; the existing venv works, so nothing needs it now",
                f"Needed only when the venv is (re)created. {exc.hint}",
                details,
            )
        return Check("python", "fail", exc.message + skipped, exc.hint, details)
    details.update(path=found.path, version=found.version, source=found.source)
    summary = f"Python {found.version} at {found.path} ({found.source}){skipped}"
    if not satisfies(found.version, ">=3.9,<4"):
        return Check(
            "python",
            "warn",
            summary + ": too old for fastembed (needs 3.9 or newer)",
            'Install Python 3.10+ and pass it with --python (or python = "…" in '
            "[tool.robo-backend]).",
            details,
        )
    return Check("python", "ok", summary, "", details)


def _venv_fits(ctx: DoctorContext, requires: str | None) -> bool:
    """Does the existing venv's Python satisfy requires-python (so `up` keeps it)?"""
    if not requires:
        return True
    from launcher.venvs.requires import satisfies

    return satisfies(_venv_health(ctx).version or "", requires)


def check_venv(ctx: DoctorContext) -> list[Check]:
    """The venv this platform uses, whether its dependencies are in sync and from which
    source, a half-installed venv, and a lock left by a process that died."""
    return [check for check in (_venv_check(ctx), _lock_check(ctx)) if check is not None]


def _lock_check(ctx: DoctorContext) -> Check | None:
    from launcher.venvs.project_lock import lock_is_held, read_holder, stale_holder

    state = ctx.settings.state_path
    stale = stale_holder(state)
    if stale is not None:
        return Check(
            "venv-lock",
            "warn",
            f"a stale venv lock: {stale.describe()} died while setting up the venv",
            "`up` takes the lock over and repairs what that process left unfinished.",
            {"pid": stale.pid, "purpose": stale.purpose, "stale": True},
        )
    if lock_is_held(state):
        holder = read_holder(state)
        who = holder.describe() if holder else "another process"
        return Check(
            "venv-lock",
            "warn",
            f"the venv is being set up right now by {who}",
            "`up` waits for it, then reuses the venv.",
            {"pid": holder.pid if holder else None, "stale": False},
        )
    return None


def _venv_check(ctx: DoctorContext) -> Check:
    from launcher.venvs import display_path

    target, foreign, why = _venv_target(ctx)
    health = _venv_health(ctx)
    details: dict[str, Any] = health.to_json()
    details["foreign"] = str(foreign) if foreign else None
    details["deps"] = None
    name = display_path(target, ctx.settings.project)
    note = f" ({foreign.name} belongs to another OS and is left alone)" if foreign else ""
    if target.is_symlink() and not target.exists():  # `up` stops there too (venvs/ensure.py)
        link = f"{name} is a symbolic link to {os.readlink(target)}, which does not exist"
        hint = f"Delete the link (`rm {target}`) and `up` creates the venv there, or restore it."
        return Check("venv", "fail", link, hint, details)
    if not health.valid:
        problem = health.problems[0]
        status: Status = "fail" if problem.code == "not-a-venv" else "warn"
        if problem.code == "missing":
            summary = f"no venv at {name} yet{note}"
            hint = (
                why
                or f"Run `robo-backend up -p {ctx.settings.project}`: it creates the venv "
                "(with uv, else python -m venv) and installs the dependencies."
            )
        else:
            summary = problem.message
            hint = problem.hint
        return Check("venv", status, summary, hint, details)
    from launcher.venvs.ensure import copied_from
    from launcher.venvs.marker import interrupted_install

    moved = copied_from(target)
    if moved is not None:
        details["copied_from"] = str(moved)
        summary = f"venv {name} was copied or moved from {moved} (its scripts still point there)"
        return Check("venv", "warn", summary, "`up` recreates it in place.", details)
    half = interrupted_install(target)
    if half is not None:
        details["half_installed"] = half
        return Check(
            "venv",
            "warn",
            f"venv {name} is half-installed: {half}",
            "`up` recreates it and installs the dependencies again.",
            details,
        )
    return _deps_check(ctx, health, name + note, details)


def _deps_check(ctx: DoctorContext, health: Any, name: str, details: dict[str, Any]) -> Check:
    from launcher.deps import detect_source, stamp_state

    try:
        source = detect_source(ctx.settings.project, ctx.env)
        deps = stamp_state(ctx.settings.project, health.python, ctx.settings.state_path, source)
    except LauncherError as exc:
        details["deps"] = "error"
        return Check("venv", "fail", f"venv {name} is fine, but {exc.message}", exc.hint, details)
    details["deps"] = deps
    details["deps_source"] = source.kind
    if source.warning:
        details["deps_warning"] = source.warning
    base = f"venv {name} (Python {health.version})"
    origin = f" (from {source.label})" if not source.empty else ""
    hint = f"Note: {source.warning}." if source.warning else ""
    if deps == "in-sync":
        status: Status = "warn" if source.warning else "ok"
        return Check("venv", status, f"{base}, dependencies in sync{origin}", hint, details)
    if deps == "changed":
        return Check(
            "venv",
            "warn",
            f"{base}: the dependencies changed since the last install{origin}",
            "`up` installs them (or: robo-backend up --install always). " + hint,
            details,
        )
    return Check(
        "venv",
        "warn",
        f"{base}: dependencies not installed by robo-backend yet{origin}",
        "`up` installs them on its next run. " + hint,
        details,
    )
