"""The server-packages check: do the project's dependencies bring uvicorn and fastapi?

A source that certainly lacks uvicorn fails (`up` runs `python -m uvicorn`); one that may lack it,
or lacks fastapi, warns. Each finding says the line to add, in the project's format.
"""

from __future__ import annotations

from typing import Any

from launcher.checks.core import Check, DoctorContext, Status
from launcher.errors import LauncherError


def check_server_packages(ctx: DoctorContext) -> Check:
    from launcher.deps import detect_source
    from launcher.deps.declared import FRAMEWORK, SERVER, declared, line_to_add, venv_has
    from launcher.venvs import venv_for_platform

    try:
        source = detect_source(ctx.settings.project, ctx.env)
    except LauncherError as exc:
        return Check("server-packages", "fail", exc.message, exc.hint, {})
    venv, _, _ = venv_for_platform(ctx.settings.venv_path, ctx.facts)
    details: dict[str, Any] = {"source": source.kind}
    findings: list[tuple[Status, str, str]] = []
    for package in (SERVER, FRAMEWORK):
        found = declared(source, package)
        installed = venv_has(venv, package)
        details[package] = {"state": found.state, "in_venv": installed}
        if found.state in ("locked", "declared"):
            continue
        if found.state == "unsure" and installed:
            continue  # another package brought it
        status: Status = "warn"
        if package == SERVER and found.state == "missing":
            status = "warn" if installed and source.kind != "uv.lock" else "fail"
        summary = f"{package} is not among the dependencies in {found.where}"
        if found.state == "unsure":
            summary += " and the venv has none (another package may still bring it)"
        elif installed:
            summary += " (the venv has it from an earlier install; a new venv will not)"
        if package == SERVER:
            summary += f": `up` runs the backend with python -m {SERVER}"
        findings.append((status, summary, line_to_add(source, package)))
    if not findings:
        summary = f"{SERVER} and {FRAMEWORK} are dependencies"
        return Check("server-packages", "ok", summary, "", details)
    worst: Status = "fail" if any(s == "fail" for s, _, _ in findings) else "warn"
    summary = "; ".join(text for _, text, _ in findings)
    hint = " ".join(fix for _, _, fix in findings)
    return Check("server-packages", worst, summary, hint, details)
