"""Delete cached models (all, one, or only broken ones), the old temp cache, and stamps."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from launcher.commands.options import CacheDir, Json, Project

if TYPE_CHECKING:
    from launcher.cleanup import Plan
    from launcher.settings import Settings


def command(
    ctx: typer.Context,
    project: Project = Path("."),
    model: Annotated[
        str | None,
        typer.Option("--model", help="Only this model (e.g. BAAI/bge-small-en-v1.5).",
                     show_default=False),
    ] = None,
    broken: Annotated[
        bool, typer.Option("--broken", help="Only partial or corrupt models.")
    ] = False,
    legacy: Annotated[
        bool, typer.Option("--legacy", help="Also the old fastembed cache in the temp folder.")
    ] = False,
    everything: Annotated[
        bool,
        typer.Option("--all", help="Everything: models, old temp cache, stale locks, the "
                     "project's dependency stamp."),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")
    ] = False,
    cache_dir: CacheDir = None,
    json_output: Json = False,
) -> None:
    """Plan, show, confirm, delete. Exit 2 when it would have to ask but cannot."""
    from launcher import console
    from launcher.cleanup import Selection, execute, model_lock_now, plan_cleanup
    from launcher.commands.startup import path_flag, start
    from launcher.deps import STAMP_FILE
    from launcher.errors import UsageError
    from launcher.models.cache import legacy_cache_dir
    from launcher.settings import resolve_settings

    started = start(ctx, project)
    env = started.env
    settings = resolve_settings(project, {"cache_dir": path_flag(cache_dir)}, env)
    root, source = cache_root(settings, env)
    stamp = settings.state_dir / STAMP_FILE
    plan = plan_cleanup(
        root,
        Selection(
            models=(model,) if model else (),
            broken=broken,
            legacy=legacy,
            everything=everything,
        ),
        project=settings.project,
        home=Path.home(),
        legacy_root=legacy_cache_dir(),
        stamp_files=[stamp],
        configured_models=[m for m in (settings.model, settings.fallback_model) if m],
    )
    plan.dry_run = dry_run
    if not json_output:
        show_plan(plan, source)
    pending = [e for e in plan.entries if e.action == "would-delete"]
    if pending and not dry_run and not yes:
        from launcher.cleanup import format_bytes

        what = f"{len(pending)} entr{'y' if len(pending) == 1 else 'ies'} " \
               f"({format_bytes(plan.planned_bytes)})"
        if not sys.stdin.isatty():
            raise UsageError(
                f"not deleting {what}: no terminal to confirm on",
                "Re-run with --yes to delete them, or with --dry-run to only list them.",
            )
        if not typer.confirm(f"Delete {what}?", default=False, err=True):
            console.info("Nothing deleted.")
            raise typer.Exit(1)
    if pending and not dry_run:
        execute(plan, allowed_extra=[stamp], lock=model_lock_now)
    if json_output:
        console.emit_json(plan.to_json())
    else:
        show_result(plan)


def cache_root(settings: Settings, env: Mapping[str, str]) -> tuple[Path, str]:
    """The cache folder to clear and where that choice came from.

    A folder the user named (cache_dir, FASTEMBED_CACHE_PATH) is taken as given, never swapped
    for a fallback: clearing a folder they did not name would be a surprise. Without one, the
    same resolution as `up` (platformdirs default, with its fallbacks).
    """
    from launcher.models.cache import configured_cache_dir, resolve_cache_dir

    configured = configured_cache_dir(settings)
    if configured:
        return Path(os.path.abspath(Path(configured).expanduser())), settings.source("cache_dir")
    named = env.get("FASTEMBED_CACHE_PATH", "").strip()
    if named:
        return Path(os.path.abspath(Path(named).expanduser())), "FASTEMBED_CACHE_PATH"
    location = resolve_cache_dir(None, "default", env)
    return Path(location.path), location.source


def _label(entry_action: str, dry_run: bool) -> str:
    if entry_action == "would-delete":
        return "would delete" if dry_run else "delete"
    return entry_action


def show_plan(plan: Plan, source: str) -> None:
    from rich.text import Text

    from launcher import console
    from launcher.cleanup import format_bytes

    out = console.get_console()
    out.print(Text(f"Cache root: {plan.root} (from {source})"))
    for extra in plan.roots[1:]:
        out.print(Text(f"Old fastembed cache: {extra}"))
    if not plan.entries:
        out.print(Text("Nothing to delete."))
        return
    styles: dict[str, Any] = {"would-delete": None, "skipped": "yellow"}
    for entry in plan.entries:
        label = _label(entry.action, plan.dry_run)
        row = Text(f"  {label:<12} {format_bytes(entry.bytes):>9}  ", style=styles[entry.action])
        row.append(str(entry.path))
        row.append(f"  ({entry.reason})", style="dim")
        out.print(row)


def show_result(plan: Plan) -> None:
    from rich.text import Text

    from launcher import console
    from launcher.cleanup import format_bytes

    out = console.get_console()
    if plan.dry_run:
        planned = [e for e in plan.entries if e.action == "would-delete"]
        if planned:
            count = f"{len(planned)} entr{'y' if len(planned) == 1 else 'ies'}"
            out.print(Text(f"Dry run: would free {format_bytes(plan.planned_bytes)} "
                           f"({count}); nothing was deleted."))
        return
    deleted = [e for e in plan.entries if e.action == "deleted"]
    failed = [e for e in plan.entries if e.action == "skipped" and e.reason.startswith(
        ("could not delete", "no longer inside"))]
    for entry in failed:
        console.warn(f"{entry.path}: {entry.reason}")
    if deleted:
        out.print(Text(f"Deleted {len(deleted)} entr{'y' if len(deleted) == 1 else 'ies'}, "
                       f"freed {format_bytes(plan.freed_bytes)}."))
