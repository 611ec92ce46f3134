"""Options shared by several commands, declared once as Annotated aliases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

T = TypeVar("T")


def _parser(kind: Callable[[str], T], name: str) -> Callable[[str], T]:
    """An option's `parser=`: `'2.5' is not a valid integer` instead of a traceback."""

    def parse(text: str) -> T:
        try:
            return kind(text)
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not a valid {name}") from None

    return parse


integer = _parser(int, "integer")
number = _parser(float, "number")


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
    Path | None, typer.Option("--cache-dir", help="Model cache folder.", show_default=False)
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
