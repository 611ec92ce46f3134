"""The start-up every command shares: logging, the project's secrets, flag values as settings.

Each command calls `start(ctx, project)` first, so logging is wired the same way everywhere
(`-v`/`-q` given before or after the subcommand) and the values of the project's `.env` are
registered as secrets before anything can print them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import typer


@dataclass(frozen=True)
class Startup:
    """What a command knows once it has started: the global options and the environment."""

    verbose: bool
    quiet: bool
    env: dict[str, str]


def start(ctx: typer.Context, project: Path) -> Startup:
    """Wire logging, register the project's `.env` values as secrets, snapshot the environment."""
    from launcher.redact import dotenv_secrets, register_secrets
    from launcher.ui import console

    options = ctx.obj or {}  # -v/-q given before or after the subcommand
    verbose, quiet = bool(options.get("verbose")), bool(options.get("quiet"))
    console.setup_logging(verbose=verbose, quiet=quiet)
    register_secrets(dotenv_secrets(project.expanduser() / ".env"))
    return Startup(verbose=verbose, quiet=quiet, env=dict(os.environ))


def path_flag(value: Path | None) -> str | None:
    """A path flag as a settings value (None: not given, so lower layers apply)."""
    return str(value) if value is not None else None
