"""Options shared by several commands, declared once as Annotated aliases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def integer(text: str) -> int:
    """A whole-number option (Typer's `parser=`): `'2.5' is not a valid integer` otherwise."""
    try:
        return int(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a valid integer") from None


def number(text: str) -> float:
    """A number option (Typer's `parser=`): `'soon' is not a valid number` otherwise."""
    try:
        return float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a valid number") from None


Project = Annotated[
    Path,
    typer.Option(
        "--project",
        "-p",
        help="The backend project folder (default: the current directory).",
        show_default=False,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
Model = Annotated[
    str | None, typer.Option("--model", help="Embedding model to use.", show_default=False)
]
FallbackModel = Annotated[
    str | None,
    typer.Option(
        "--fallback-model", help="Model used when the first one fails.", show_default=False
    ),
]
CacheDir = Annotated[
    Path | None,
    typer.Option("--cache-dir", help="Model cache folder.", show_default=False),
]
Retries = Annotated[
    int | None,
    typer.Option(
        "--retries", help="Download attempts per model.", show_default=False, parser=integer
    ),
]
RetryDelay = Annotated[
    float | None,
    typer.Option(
        "--retry-delay",
        help="Seconds between download attempts.",
        show_default=False,
        parser=number,
    ),
]
Offline = Annotated[
    bool | None,
    typer.Option(
        "--offline", help="Use the cache only; never touch the network.", show_default=False
    ),
]
RequireModel = Annotated[
    bool | None,
    typer.Option(
        "--require-model",
        help="Fail (exit 1) instead of running degraded when no model can be made ready.",
        show_default=False,
    ),
]
Shell = Annotated[
    str | None,
    typer.Option(
        "--shell",
        help="Shell to assume: powershell, pwsh, cmd, bash, zsh, fish, nu, sh, git-bash.",
        show_default=False,
    ),
]
