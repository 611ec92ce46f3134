"""The `up` pipeline: settings → pre-flight → shell → venv → dependencies → model → server.

Each stage is a step line with a tick and its duration. The stages themselves live in their
own modules; this file only sequences them and builds the backend's environment (GUIDE §1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from launcher import console
from launcher.redact import register_secret_file
from launcher.settings import Settings, resolve_settings


@dataclass
class UpRequest:
    project: Path
    flags: dict[str, Any]
    env: dict[str, str]
    verbose: bool = False
    quiet: bool = False


@dataclass
class BackendLaunch:
    """Everything needed to start the server, built by the pipeline before the server step."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    url: str
    health_url: str
    extra: dict[str, Any] = field(default_factory=dict)


def show_settings(settings: Settings) -> None:
    for name, value, source in settings.as_table():
        console.info(f"  {name} = {value!r}  ({source})")


def backend_env(
    base: Mapping[str, str],
    *,
    cache_dir: Path,
    model: str | None,
    status_file: Path,
) -> dict[str, str]:
    """The launcher-to-backend contract of GUIDE §1 (on top of the activated venv env).

    HF_HUB_DISABLE_PROGRESS_BARS is deliberately not set: the backend runs offline, so it has no
    bars to show, and fastembed's `enable_progress_bars()` warns at every load when it is set.
    """
    env = dict(base)
    env.update(
        {
            "FASTEMBED_CACHE_PATH": str(cache_dir),
            "HF_HUB_OFFLINE": "1",
            "ROBO_BACKEND_MODEL": model or "",
            "ROBO_BACKEND_STATUS_FILE": str(status_file),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def model_summary(resolved: str | None, state: str) -> str:
    if state == "degraded" or not resolved:
        return "no model: the backend runs DEGRADED (search answers 503)"
    return f"{resolved} ({state})"


def run_up(request: UpRequest) -> int:
    """Run the whole pipeline; returns the backend's exit code (130 on Ctrl-C)."""
    console.setup_logging(verbose=request.verbose, quiet=request.quiet)
    with console.step("settings resolved") as current:
        settings = resolve_settings(request.project, request.flags, request.env)
        register_secret_file(settings.project / ".env")
        from launcher.apps import discover_app

        target = discover_app(settings.project, settings.app)
        current.detail = f"{settings.project}, app {target.spec}"
    if request.verbose:
        show_settings(settings)

    from launcher.launch_strategies import choose_activation, run_env, wrap_argv
    from launcher.checks import preflight
    from launcher.deps import sync_dependencies
    from launcher.models.cache import settings_cache_dir
    from launcher.models.prefetch import PrefetchOptions, prefetch
    from launcher.server import check_port, pick_free_port, serve
    from launcher.platform import PlatformFacts
    from launcher.shells import detect_shell
    from launcher.venvs import activated_env, ensure_venv

    facts = PlatformFacts.current()
    shell = detect_shell(facts, settings.shell, source=settings.source("shell"))
    cache = settings_cache_dir(settings, request.env)

    with console.step("pre-flight checks passed") as current:
        port = settings.port
        if port == 0:
            port = pick_free_port(settings.host)
        preflight(settings, cache=cache, port=port, facts=facts)
        check_port(settings.host, port)
        current.detail = f"shell {shell.name}{' (WSL)' if shell.wsl else ''}, port {port} free"

    with console.step("venv ready") as current:
        venv = ensure_venv(settings.project, settings.venv_path, settings.python, facts)
        current.detail = venv.method

    with console.step("dependencies in sync") as current:
        deps = sync_dependencies(
            settings.project, venv.python, settings.install, settings.state_dir, request.env
        )
        current.detail = deps.reason

    with console.step("venv activated") as current:
        forced = None if settings.activation == "auto" else settings.activation
        activation = choose_activation(venv, shell, facts, forced)
        current.detail = f"{activation.strategy} strategy"
    environment = activation.to_json()

    options = PrefetchOptions.from_settings(settings, env=request.env, cache=cache)
    if not settings.prefetch:
        options.offline = True
    with console.step("model ready") as current:
        result = prefetch(options, status_file=settings.status_file, environment=environment)
        current.detail = model_summary(result.resolved, result.state)
        error = result.error()
        if error is not None:
            raise error
        if result.state == "degraded":
            current.status = "warn"

    host = settings.host
    url_host = f"[{host}]" if ":" in host else host
    url = f"http://{url_host}:{port}"
    argv = [str(venv.python), "-m", "uvicorn", *target.uvicorn_args(), "--host", host]
    argv += ["--port", str(port)]
    if settings.reload:
        argv.append("--reload")
    env = run_env(
        activation,
        backend_env(
            activated_env(venv, request.env),
            cache_dir=cache.path,
            model=result.resolved,
            status_file=settings.status_file,
        ),
    )

    def on_ready(ready_url: str, pid: int) -> None:
        console.line("ok", f"Backend ready at {ready_url} (pid {pid})")

    return serve(
        wrap_argv(activation, argv),
        env=env,
        cwd=settings.project,
        url=url,
        health_url=url + settings.health_path,
        ready_timeout=settings.ready_timeout,
        on_ready=on_ready,
    )
