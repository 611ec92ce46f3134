"""Options shared by several commands, declared once as Annotated aliases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

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
    Optional[str], typer.Option("--model", help="Embedding model to use.", show_default=False)
]
FallbackModel = Annotated[
    Optional[str],
    typer.Option("--fallback-model", help="Model used when the first one fails.", show_default=False),
]
CacheDir = Annotated[
    Optional[Path],
    typer.Option("--cache-dir", help="Model cache folder.", show_default=False),
]
Retries = Annotated[
    Optional[int], typer.Option("--retries", help="Download attempts per model.", show_default=False)
]
RetryDelay = Annotated[
    Optional[float],
    typer.Option("--retry-delay", help="Seconds between download attempts.", show_default=False),
]
Offline = Annotated[
    Optional[bool],
    typer.Option("--offline", help="Use the cache only; never touch the network.", show_default=False),
]
RequireModel = Annotated[
    Optional[bool],
    typer.Option(
        "--require-model",
        help="Fail (exit 1) instead of running degraded when no model can be made ready.",
        show_default=False,
    ),
]
Shell = Annotated[
    Optional[str],
    typer.Option(
        "--shell",
        help="Shell to assume: powershell, pwsh, cmd, bash, zsh, fish, nu, sh, git-bash.",
        show_default=False,
    ),
]
