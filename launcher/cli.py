"""The Typer registry: global options, the commands of `launcher/commands/`, the error boundary.

Nothing heavy is imported here: `robo-backend --help` must stay close to `import typer`.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

from launcher import __version__
from launcher.commands import activate, clear_cache, doctor, prefetch, up
from launcher.errors import EXIT_INTERRUPTED, LauncherError

app = typer.Typer(
    name="robo-backend",
    help=(
        "Run a FastAPI + fastembed backend on any shell: venv, dependencies, model prefetch "
        "and a supervised server, in one command."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)


def _debug() -> bool:
    return os.environ.get("ROBO_BACKEND_DEBUG", "") not in {"", "0", "false", "no"}


def boundary(func: Callable[..., Any]) -> Callable[..., Any]:
    """The one error boundary: LauncherError → two lines + exit code; Ctrl-C → 130."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LauncherError as exc:
            if _debug():
                raise
            from launcher import console

            console.error(exc.message, exc.hint)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            if _debug():
                raise
            from launcher import console

            console.error("interrupted", "")
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        typer.echo(f"robo-backend {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show debug output and setting sources.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Global options; logging is wired by each command when it starts."""
    ctx.obj = {"verbose": verbose, "quiet": quiet}


for _name, _module in (
    ("up", up),
    ("prefetch", prefetch),
    ("doctor", doctor),
    ("clear-cache", clear_cache),
    ("activate", activate),
):
    app.command(_name, help=_module.__doc__)(boundary(_module.command))


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    app(args=argv if argv is not None else sys.argv[1:], prog_name="robo-backend")
