"""The Typer registry: global options, the commands of `launcher/commands/`, the error boundary.

Nothing heavy is imported here: `robo-backend --help` must stay close to `import typer`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperOption
from typer.exceptions import TyperException

from launcher import __version__
from launcher.commands import activate, clear_cache, doctor, prefetch, status, up
from launcher.errors import EXIT_FAILURE, EXIT_INTERRUPTED, LauncherError
from launcher.settings import SPEC_BY_NAME
from launcher.values import truthy

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
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command
)


def _debug() -> bool:
    return truthy(os.environ.get("ROBO_BACKEND_DEBUG"))


def boundary(func: Callable[..., Any]) -> Callable[..., Any]:
    """The one error boundary: LauncherError → two lines + exit code; Ctrl-C → 130; a bug →
    two lines (exit 1) and its traceback in the log file (raised as is with ROBO_BACKEND_DEBUG)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LauncherError as exc:
            if _debug():
                raise
            from launcher.ui import console

            console.error(exc.message, exc.hint)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            if _debug():
                raise
            from launcher.ui import console

            console.error("interrupted", "")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except (typer.Exit, typer.Abort, TyperException):
            raise  # Typer's own ways out: exit codes and usage errors
        except Exception as exc:  # a bug: reported (redacted), its traceback in the log file
            if _debug():
                raise
            _report_bug(exc)
            raise typer.Exit(EXIT_FAILURE) from None

    return wrapper


def _report_bug(exc: Exception) -> None:
    """A bug is not hidden, but its text goes through the secret filter like everything else:
    the traceback is written (redacted) to the log file, the console gets the two lines."""
    from loguru import logger

    from launcher.ui import console

    logger.opt(exception=exc).debug(f"internal error: {type(exc).__name__}")
    log = console.log_dir() / "robo-backend.log"
    with contextlib.suppress(OSError):  # a console that is gone cannot be told
        console.error(
            f"internal error (a bug in robo-backend): {type(exc).__name__}: {exc}",
            f"The traceback is in {log}; ROBO_BACKEND_DEBUG=1 shows it here. Please report it.",
        )


VERBOSE_HELP = "Show debug output and setting sources."
QUIET_HELP = "Only warnings and errors."
# What `--help` says for settings whose built-in default is "decided at run time".
_DEFAULT_TEXT = {
    "app": "discovered",
    "cache_dir": "the user cache folder",
    "python": "found automatically",
    "shell": "detected",
}


def _set_global(ctx: typer.Context, param: typer.CallbackParam, value: bool) -> bool:
    if value:
        ctx.ensure_object(dict)[param.name or ""] = True
    return value


def _global_params() -> list[Any]:
    """`-v`/`-q` once more on every subcommand, so they work after it too (as in uv)."""

    def options(
        verbose: Annotated[
            bool, typer.Option("--verbose", "-v", help=VERBOSE_HELP, callback=_set_global)
        ] = False,
        quiet: Annotated[
            bool, typer.Option("--quiet", "-q", help=QUIET_HELP, callback=_set_global)
        ] = False,
    ) -> None:
        """Only here to let Typer build the two options."""

    holder = typer.Typer(add_completion=False)
    holder.command()(options)
    params = list(typer.main.get_command(holder).params)
    for param in params:
        param.expose_value = False  # the callback records them; commands do not take them
    return params


def _default_text(name: str) -> str | None:
    """The default `--help` shows for a setting's flag (None: not a setting, or nothing to say)."""
    if name in _DEFAULT_TEXT:
        return _DEFAULT_TEXT[name]
    spec = SPEC_BY_NAME.get(name)
    if spec is None or spec.default is None:
        return None
    if isinstance(spec.default, bool):
        return "on" if spec.default else "off"
    return str(spec.default)


class Command(TyperCommand):
    """A subcommand: takes the global options too, and its `--help` shows each setting's default."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            text = _default_text(param.name or "")
            if isinstance(param, TyperOption) and text is not None and param.default is None:
                param.help = f"{param.help or ''}  [default: {text}]".strip()
        self.params.extend(_global_params())


def _version(value: bool) -> None:
    if value:
        typer.echo(f"robo-backend {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help=VERBOSE_HELP)] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help=QUIET_HELP)] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
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
    ("status", status),
):
    app.command(_name, help=_module.__doc__, cls=Command)(boundary(_module.command))


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    app(args=argv if argv is not None else sys.argv[1:], prog_name="robo-backend")
