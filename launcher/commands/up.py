"""Set up and run the backend: venv, dependencies, model prefetch, then a supervised server."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from launcher.commands.params import (
    CacheDir,
    FallbackModel,
    Model,
    Offline,
    Project,
    RequireModel,
    Retries,
    RetryDelay,
    Shell,
    integer,
    number,
)

if TYPE_CHECKING:
    from launcher.settings import Flags


def command(
    ctx: typer.Context,
    project: Project = Path("."),
    app: Annotated[
        str | None, typer.Option("--app", help="ASGI app as module:attr.", show_default=False)
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Interface to bind.", show_default=False)
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            help="Port to listen on; 0 picks a free one.",
            show_default=False,
            parser=integer,
        ),
    ] = None,
    reload: Annotated[
        bool | None, typer.Option("--reload", help="Restart on code changes.", show_default=False)
    ] = None,
    venv: Annotated[
        str | None,
        typer.Option("--venv", help="Venv folder, relative to the project.", show_default=False),
    ] = None,
    python: Annotated[
        str | None,
        typer.Option("--python", help="Interpreter used to create the venv.", show_default=False),
    ] = None,
    model: Model = None,
    fallback_model: FallbackModel = None,
    cache_dir: CacheDir = None,
    retries: Retries = None,
    retry_delay: RetryDelay = None,
    offline: Offline = None,
    no_prefetch: Annotated[
        bool, typer.Option("--no-prefetch", help="Skip the download; use what the cache holds.")
    ] = False,
    no_background_model: Annotated[
        bool,
        typer.Option(
            "--no-background-model",
            help="Download the model only in its own step, and never retry it while degraded.",
        ),
    ] = False,
    ready_timeout: Annotated[
        float | None,
        typer.Option(
            "--ready-timeout",
            help="Seconds to wait for the health endpoint.",
            show_default=False,
            parser=number,
        ),
    ] = None,
    require_model: RequireModel = None,
    shell: Shell = None,
    activation: Annotated[
        str | None,
        typer.Option(
            "--activation",
            help="Force an activation strategy: direct, powershell, cmd, wsl, posix.",
            show_default=False,
        ),
    ] = None,
    install: Annotated[
        str | None,
        typer.Option(
            "--install", help="Dependency install: auto, always or never.", show_default=False
        ),
    ] = None,
) -> None:
    from launcher.commands.startup import path_flag, start
    from launcher.up.pipeline import UpRequest, run_up

    started = start(ctx, project)
    flags: Flags = {
        "app": app,
        "host": host,
        "port": port,
        "reload": reload,
        "venv": venv,
        "python": python,
        "model": model,
        "fallback_model": fallback_model,
        "cache_dir": path_flag(cache_dir),
        "retries": retries,
        "retry_delay": retry_delay,
        "offline": offline,
        "prefetch": False if no_prefetch else None,
        "background_model": False if no_background_model else None,
        "ready_timeout": ready_timeout,
        "require_model": require_model,
        "shell": shell,
        "activation": activation,
        "install": install,
    }
    code = run_up(
        UpRequest(
            project=project,
            flags=flags,
            env=started.env,
            verbose=started.verbose,
            quiet=started.quiet,
        )
    )
    raise typer.Exit(code)
