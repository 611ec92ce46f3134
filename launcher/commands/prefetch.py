"""Download and verify the embedding model into the cache (for CI and Docker image builds)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from launcher.commands.params import (
    CacheDir,
    FallbackModel,
    Json,
    Model,
    Offline,
    Project,
    RequireModel,
    Retries,
    RetryDelay,
)

if TYPE_CHECKING:
    from launcher.settings import Flags


def command(
    ctx: typer.Context,
    project: Project = Path("."),
    model: Model = None,
    fallback_model: FallbackModel = None,
    cache_dir: CacheDir = None,
    retries: Retries = None,
    retry_delay: RetryDelay = None,
    offline: Offline = None,
    require_model: RequireModel = None,
    json_output: Json = False,
) -> None:
    from launcher.commands.startup import path_flag, start
    from launcher.discover.adopt import adopt_hardwired
    from launcher.model_step import decide_cache, make_model_ready
    from launcher.settings import resolve_settings
    from launcher.ui import console
    from launcher.venvs.interpreters import venv_interpreter
    from launcher.venvs.pyvenv import existing_venv_python

    started = start(ctx, project)
    flags: Flags = {
        "model": model,
        "fallback_model": fallback_model,
        "cache_dir": path_flag(cache_dir),
        "retries": retries,
        "retry_delay": retry_delay,
        "offline": offline,
        "require_model": require_model,
    }
    env = started.env
    # with the model and cache_dir the backend's code hard-wires
    explicit = resolve_settings(project, flags, env)
    settings = adopt_hardwired(explicit, venv_interpreter(explicit))
    venv = settings.venv_path
    cache = decide_cache(settings, env)
    # laid out as the venv's fastembed names the models (no venv yet: the built-in table)
    ready = make_model_ready(
        settings, env, cache, venv, existing_venv_python(venv), starts_backend=False
    )
    result = ready.result
    if ready.switch is not None:
        console.warn(ready.switch.warning())
    if json_output:  # the status file's model object (settled: changed_from, last_used)
        from launcher.models.statusfile import read_status

        recorded = (read_status(settings.status_file) or {}).get("model")
        console.emit_json(recorded if isinstance(recorded, dict) else result.to_json())
    error = result.error()
    if error is not None:
        raise error
    if not json_output:  # with --json, stdout carries the document alone
        _render(result)


def _render(result: Any) -> None:
    from launcher.ui import console

    location = result.location
    where = f"{result.cache_dir} ({location.source})" if location is not None else result.cache_dir
    if result.state == "ready":
        how = {"cache": "already in the cache", "legacy-cache": "copied from the old temp cache"}
        detail = how.get(result.source, "downloaded")
        console.line("ok", f"Model ready: {result.resolved}", detail, report=True)
    elif result.state == "fallback":
        console.line(
            "warn",
            f"Model ready: {result.resolved} (fallback; {result.requested} is unavailable)",
            report=True,
        )
    else:
        console.line("warn", "No embedding model: the backend will run degraded", report=True)
    console.info(f"  cache: {where}", report=True)
    if result.path:
        console.info(f"  path:  {result.path}", report=True)
