"""Check the machine and the project: shell, Python, venv, cache, models, hub, port, settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from launcher.commands.params import CacheDir, Json, Project

if TYPE_CHECKING:
    from launcher.checks import Check


def command(
    ctx: typer.Context,
    project: Project = Path("."),
    cache_dir: CacheDir = None,
    json_output: Json = False,
) -> None:
    """Run every check; exit 1 when one fails. `--json` prints one document on stdout."""
    from launcher.checks import DoctorContext, document, overall_ok, run_checks
    from launcher.commands.startup import path_flag, start
    from launcher.ui import console

    started = start(ctx, project)
    context = DoctorContext.build(
        project, flags={"cache_dir": path_flag(cache_dir)}, env=started.env
    )
    checks = run_checks(context)
    if json_output:
        console.emit_json(document(checks))
    else:
        render(checks, verbose=started.verbose, quiet=started.quiet)
    if not overall_ok(checks):
        raise typer.Exit(1)


def render(checks: list[Check], *, verbose: bool, quiet: bool) -> None:
    """flutter-doctor style: `[✓] summary`, `[!] summary`, `[✗] summary`, fix indented below."""
    from rich.text import Text

    from launcher.redact import redact
    from launcher.ui import console

    out = console.get_report_console()
    styles = {"ok": "green", "warn": "yellow", "fail": "red"}
    for check in checks:
        if quiet and check.status == "ok":
            continue
        line = Text()
        line.append(f"[{console.symbol(check.status, report=True)}] ", style=styles[check.status])
        line.append(console.as_run(redact(check.summary)))
        out.print(line)
        if check.status != "ok" and check.hint:
            for hint_line in console.as_run(redact(check.hint)).splitlines():
                out.print(Text("    " + hint_line, style="dim"))
        if verbose and check.details:
            for detail in detail_lines(check):
                out.print(Text("    " + redact(detail), style="dim"))
    failures = sum(c.status == "fail" for c in checks)
    warnings = sum(c.status == "warn" for c in checks)
    if failures or warnings:
        counts = ((failures, "failing check"), (warnings, "warning"))
        verdict = " and ".join(f"{n} {word}{'s' * (n != 1)}" for n, word in counts if n)
        tail = (
            "`up` will stop until the failing ones are fixed."
            if failures
            else "`up` copes with these, but read the hints."
        )
        out.print(Text(f"\n{verdict}: {tail}"))
    elif not quiet:
        out.print(Text("\nNo issues found."))


def detail_lines(check: Check) -> list[str]:
    """`-v`: the facts behind a finding, one per line (settings as `name = value  (source)`)."""
    if check.id == "settings":
        values = check.details.get("values", {})
        return [f"{name} = {e['value']!r}  ({e['source']})" for name, e in values.items()]
    lines = []
    for key, value in check.details.items():
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value) or "-"
        lines.append(f"{key}: {value}")
    return lines
