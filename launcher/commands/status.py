"""Show whether the project's backend is running: its URL, health and model (exit 1 if not up)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from launcher.commands.params import Json, Project

if TYPE_CHECKING:
    from launcher.server.report import BackendStatus


def command(ctx: typer.Context, project: Project = Path("."), json_output: Json = False) -> None:
    """Report from the run file, one health request and the status file; `--json` for scripts.

    Exit 0 when the backend runs and its health route answers 200, else 1.
    """
    from launcher.commands.startup import start
    from launcher.server.report import backend_status
    from launcher.settings import resolve_settings
    from launcher.ui import console

    started = start(ctx, project)
    settings = resolve_settings(project, {}, started.env)
    report = backend_status(
        settings.project, settings.state_path, settings.status_file, settings.health_path
    )
    if json_output:
        console.emit_json(report.to_json())
    else:
        render(report)
    if not report.healthy:
        raise typer.Exit(1)


def _backend_line(report: BackendStatus) -> tuple[str, str]:
    from launcher.server.runfile import RunState

    record = report.record
    if report.starting is not None:
        holder = report.starting
        return "warn", (
            f"starting: `up` (pid {holder.pid}) has been setting up since {holder.since_clock}; "
            "nothing serves yet"
        )
    if record is None or not report.running:
        return "fail", "not running"
    text = (
        f"running at {record.url} (pid {record.backend_pid}, started {record.started_clock} "
        f"by pid {record.launcher_pid})"
    )
    if report.state is RunState.ORPHAN:
        return "warn", text + "; its launcher is gone: the next `up` stops it"
    return "ok", text


def _health_line(report: BackendStatus) -> tuple[str, str]:
    if not report.running:
        return "fail", "-"
    if report.health_status is None:
        return "fail", f"no answer from {report.health_url}"
    mark = "ok" if report.health_status == 200 else "fail"
    return mark, f"{report.health_status} from {report.health_url}"


def _model_line(report: BackendStatus) -> tuple[str, str]:
    model = report.model
    if not model:
        return "warn", "unknown (no status file: `up` has not run here)"
    state = str(model.get("state", "unknown"))
    name = model.get("resolved") or "no model"
    mark = {"ready": "ok", "fallback": "warn"}.get(state, "fail")
    changed = f"; changed from {model['changed_from']}" if model.get("changed_from") else ""
    return mark, f"{name} ({state}{changed}){_background_note(model.get('background'))}"


def _background_note(background: object) -> str:
    """What `up` does about the main model in the background (the status file's
    `model.background`), for the model line."""
    if not isinstance(background, dict) or not background.get("model"):
        return ""
    wanted, state = background["model"], background.get("state")
    if state == "retrying":
        tries = background.get("tries") or 0
        error = f", the last: {background['last_error']}" if background.get("last_error") else ""
        return f"; downloading {wanted} in the background ({tries} failed tries{error})"
    if state == "arrived":
        after = f" after {background['after']}" if background.get("after") else ""
        return f"; downloaded in the background{after}, the backend restarted onto it"
    if state == "refused":
        return (
            f"; {wanted} was downloaded in the background but not switched to "
            "(allow_model_switch = false)"
        )
    return ""


def render(report: BackendStatus) -> None:
    """The human report on stdout: one line per fact, with a mark."""
    from rich.text import Text

    from launcher.redact import redact
    from launcher.ui import console

    out = console.get_report_console()
    out.print(Text(redact(f"project {report.project}")))
    styles = {"ok": "green", "warn": "yellow", "fail": "red"}
    for label, (mark, text) in (
        ("backend", _backend_line(report)),
        ("health", _health_line(report)),
        ("model", _model_line(report)),
    ):
        line = Text()
        line.append(f"[{console.symbol(mark, report=True)}] ", style=styles[mark])
        line.append(f"{label:<8}", style="bold")
        line.append(redact(text))
        out.print(line)
