"""Checks of the project itself: the app `up` would serve (app), its health route
(health-path) and the launcher's state folder (state-dir)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from launcher.checks.core import Check, DoctorContext
from launcher.checks.probes import DISK_FULL, existing_ancestor, write_probe_in
from launcher.errors import LauncherError
from launcher.settings import Source

MOVE_STATE_HINT = (
    "Move the state folder with state_dir in [tool.robo-backend] or ROBO_BACKEND_STATE_DIR "
    "(a folder you can write, e.g. one in your home folder)."
)


def check_app(ctx: DoctorContext) -> Check:
    """The app `up` would serve, found exactly as `up` finds it (a failure stops `up`, exit 2)."""
    from launcher.discover import discover_app
    from launcher.venvs.interpreters import venv_interpreter

    settings = ctx.settings
    try:
        target = discover_app(
            settings.project,
            settings.app,
            venv_interpreter(settings),
            source=settings.origin("app").detail,
        )
    except LauncherError as exc:
        return Check("app", "fail", exc.message, exc.hint, {"configured": settings.app})
    details = {
        "spec": target.spec,
        "configured": settings.app,
        "origin": target.origin,
        "not_used": list(target.notes),
    }
    if target.notes:
        summary = f"app {target.described}; " + "; ".join(target.notes)
        hint = f'Fix that statement, or set app = "{target.spec}" in [tool.robo-backend].'
        return Check("app", "warn", summary, hint, details)
    return Check("app", "ok", f"app {target.described}", "", details)


def _route_in_code(project: Path, path: str) -> str | None:
    """The project file (relative) whose code names the route `path` in quotes, or None."""
    from launcher.discover.files import project_sources

    quoted = [f'"{path}"'.encode(), f"'{path}'".encode()]
    for source in project_sources(project):
        try:
            text = source.read_bytes()
        except OSError:
            continue
        if any(q in text for q in quoted):
            return source.relative_to(project).as_posix()
    return None


def check_health_path(ctx: DoctorContext) -> Check:
    """A health path someone set must be a route of the app, or `up` waits out ready_timeout."""
    settings = ctx.settings
    path = str(settings.health_path)
    origin = settings.origin("health_path")
    source = origin.detail
    details: dict[str, Any] = {"path": path, "source": source}
    if origin.source is Source.DEFAULT:
        summary = f"health path {path} (when the app has none, `up` finds its route itself)"
        return Check("health-path", "ok", summary, "", details)
    route = path.split("?", 1)[0]
    found = _route_in_code(settings.project, route)
    details["found_in"] = found
    if found is None:
        return Check(
            "health-path",
            "warn",
            f"health path {path} (from {source}) is not a route in the project's code: "
            f"`up` would wait {settings.ready_timeout:g} s for it, then stop",
            "Set health_path to a route the app answers 200 on (e.g. /health), or unset "
            "it to let `up` find the route.",
            details,
        )
    return Check("health-path", "ok", f"health path {path} (route in {found})", "", details)


def check_state_dir(ctx: DoctorContext) -> Check:
    """The state folder (status file, run file, locks) must be writable before `up` installs."""
    settings = ctx.settings
    folder = settings.state_path
    details: dict[str, Any] = {"path": str(folder), "source": settings.origin("state_dir").detail}
    if os.path.lexists(folder) and not folder.is_dir():
        return Check(
            "state-dir",
            "fail",
            f"the state folder {folder} is a file, not a folder",
            f"Move or delete that file, or: {MOVE_STATE_HINT}",
            details,
        )
    probe_in = folder if folder.is_dir() else existing_ancestor(folder)
    error = write_probe_in(probe_in) if probe_in.is_dir() else "not a folder"
    details["writable"] = error is None
    if error is not None:
        return Check(
            "state-dir",
            "fail",
            f"the state folder {folder} cannot be written ({probe_in}: {error})",
            f"Free some space on the drive of {probe_in}, or: {MOVE_STATE_HINT}"
            if error.endswith(DISK_FULL)
            else f"Give your user write access to {probe_in}, or: {MOVE_STATE_HINT}",
            details,
        )
    return Check("state-dir", "ok", f"state folder {folder} writable", "", details)


def check_running(ctx: DoctorContext) -> Check:
    """Is this project's backend already running (the run file of an earlier `up`)?"""
    from launcher.server.runfile import RunState, inspect_run, read_run, run_file

    state_dir = ctx.settings.state_path
    record = read_run(state_dir)
    state = inspect_run(record)
    details: dict[str, Any] = {"run_file": str(run_file(state_dir)), "state": state.value}
    if record is None or state in (RunState.NONE, RunState.STALE):
        return Check("running", "ok", "no backend of this project is running", "", details)
    details.update(url=record.url, launcher_pid=record.launcher_pid, pid=record.backend_pid)
    if state is RunState.ORPHAN:
        summary = (
            f"an earlier backend still runs at {record.url} (pid {record.backend_pid}) without "
            "its launcher: `up` stops it before starting"
        )
        return Check("running", "warn", summary, "", details)
    # Our own backend running is not a problem with the machine or the project: said as it is.
    summary = (
        f"this project's backend is running at {record.url} (pid {record.backend_pid}, started "
        f"{record.started_clock} by pid {record.launcher_pid}); `robo-backend status` shows it, "
        "and `up` says so instead of starting a second one"
    )
    return Check("running", "ok", summary, "", details)
