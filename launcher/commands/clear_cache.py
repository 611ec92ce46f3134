"""Delete cached models (all, one, or only broken ones), the old temp cache, and stamps."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from launcher.commands.params import CacheDir, Json, Project

if TYPE_CHECKING:
    from launcher.cleanup import CacheRoot, Entry, Plan


def command(
    ctx: typer.Context,
    project: Project = Path("."),
    only_model: Annotated[  # not named `model`: that setting's default does not apply here
        str | None,
        typer.Option(
            "--model",
            help="Only this model (e.g. BAAI/bge-small-en-v1.5); without it, every model.",
            show_default=False,
        ),
    ] = None,
    broken: Annotated[
        bool, typer.Option("--broken", help="Only partial or corrupt models.")
    ] = False,
    legacy: Annotated[
        bool, typer.Option("--legacy", help="Also the old fastembed cache in the temp folder.")
    ] = False,
    everything: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Everything: models, old temp cache, stale locks, the project's dependency stamp.",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    cache_dir: CacheDir = None,
    json_output: Json = False,
) -> None:
    """Plan, show, confirm, delete. Exit 2 when it would have to ask but cannot."""
    from launcher.cleanup import Selection, execute, model_lock_now, plan_for_project, stamp_files
    from launcher.commands.startup import path_flag, start
    from launcher.settings import resolve_settings
    from launcher.ui import console

    started = start(ctx, project)
    settings = resolve_settings(project, {"cache_dir": path_flag(cache_dir)}, started.env)
    selection = Selection(
        models=(only_model,) if only_model else (),
        broken=broken,
        legacy=legacy,
        everything=everything,
    )
    plan, root = plan_for_project(settings, started.env, selection, dry_run=dry_run)
    if not json_output:
        show_plan(plan, root)
    if plan.pending and not dry_run:
        if not yes:
            confirm(plan)
        execute(plan, allowed_extra=stamp_files(settings), lock=model_lock_now)
    if json_output:
        console.emit_json(plan.to_json())
    else:
        show_result(plan)


def confirm(plan: Plan) -> None:
    """Ask before deleting; no terminal to ask on is a usage error (exit 2), "no" exits 1."""
    from launcher.cleanup import count
    from launcher.errors import UsageError
    from launcher.ui import console
    from launcher.values import format_bytes

    what = f"{count(len(plan.pending))} ({format_bytes(plan.planned_bytes)})"
    if not sys.stdin.isatty():
        raise UsageError(
            f"not deleting {what}: no terminal to confirm on",
            "Re-run with --yes to delete them, or with --dry-run to only list them.",
        )
    if not typer.confirm(f"Delete {what}?", default=False, err=True):
        console.info("Nothing deleted.")
        raise typer.Exit(1)


def _label(entry: Entry, dry_run: bool) -> str:
    from launcher.cleanup import Action

    if entry.action == Action.WOULD_DELETE:
        return "would delete" if dry_run else "delete"
    return str(entry.action.value)


def show_plan(plan: Plan, root: CacheRoot) -> None:
    """The plan as the report's first lines, on stdout: root, then one row per entry."""
    from rich.text import Text

    from launcher.cleanup import Action
    from launcher.ui import console
    from launcher.values import format_bytes

    out = console.get_report_console()
    out.print(Text(f"Cache root: {plan.root} (from {root.source})"))
    for extra in plan.roots[1:]:
        out.print(Text(f"Old fastembed cache: {extra}"))
    if not plan.entries:
        out.print(Text("Nothing to delete."))
        return
    for entry in plan.entries:
        style = "yellow" if entry.action == Action.SKIPPED else ""
        label = _label(entry, plan.dry_run)
        row = Text(f"  {label:<12} {format_bytes(entry.bytes):>9}  ", style=style)
        row.append(str(entry.path))
        row.append(f"  ({entry.reason})", style="dim")
        out.print(row)


def show_result(plan: Plan) -> None:
    """The outcome: what a dry run would free, or what was deleted; failures as warnings."""
    from rich.text import Text

    from launcher.cleanup import Action, count
    from launcher.ui import console
    from launcher.values import format_bytes

    out = console.get_report_console()
    if plan.dry_run:
        what = f"{format_bytes(plan.planned_bytes)} ({count(len(plan.pending))})"
        if plan.pending:
            out.print(Text(f"Dry run: would free {what}; nothing was deleted."))
        return
    for entry in plan.failures:
        console.warn(f"{entry.path}: {entry.reason}")
    deleted = plan.with_action(Action.DELETED)
    if deleted:
        out.print(Text(f"Deleted {count(len(deleted))}, freed {format_bytes(plan.freed_bytes)}."))
