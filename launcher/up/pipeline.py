"""The `up` pipeline: settings → pre-flight → venv → dependencies → activation → model → server.

Each stage is one function and one step line with a mark and its duration; the stages
themselves live in their own modules, this file only sequences them and builds the backend's
environment (the launcher-to-backend contract).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from launcher.settings import Settings, resolve_settings
from launcher.ui import console
from launcher.up.background import BackgroundModel

if TYPE_CHECKING:
    from launcher.discover import AppTarget
    from launcher.models.fetch import PrefetchResult
    from launcher.models.location import CacheLocation
    from launcher.platform import PlatformFacts
    from launcher.shells.detect import ShellInfo
    from launcher.shells.strategies import ActivationResult
    from launcher.up.early import EarlyStart, Launch
    from launcher.venvs import VenvInfo


@dataclass
class UpRequest:
    project: Path
    flags: dict[str, Any]
    env: dict[str, str]
    verbose: bool = False
    quiet: bool = False


@dataclass
class UpRun:
    """What the steps have found so far; each step reads the earlier ones' results."""

    request: UpRequest
    settings: Settings
    app: AppTarget
    facts: PlatformFacts
    shell: ShellInfo
    cache: CacheLocation
    port: int = 0
    venv: VenvInfo | None = None
    activation: ActivationResult | None = None
    model: PrefetchResult | None = None
    early: EarlyStart | None = None  # a backend started before the checks (early_start.py)
    early_key: str | None = None  # this command line's early-start record key (None: none)
    # [recover] the model download overlapping the install, then the recovery while degraded
    background: BackgroundModel = field(default_factory=BackgroundModel)

    @property
    def url(self) -> str:
        host = self.settings.host
        url_host = f"[{host}]" if ":" in host else host
        return f"http://{url_host}:{self.port}"


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
    """The launcher-to-backend contract (on top of the activated venv env).

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
        return (
            "no model: the backend runs DEGRADED, search answers 503; once "
            "`robo-backend prefetch` succeeds, restart `up`: the model is loaded at start"
        )
    return f"{resolved} ({state})"


def resolve(request: UpRequest) -> UpRun:
    """Step 1: settings, the app to serve, the platform facts, the shell, the cache."""
    from launcher.discover import discover_app
    from launcher.discover.adopt import adopt_hardwired, venv_interpreter
    from launcher.model_step import settings_cache_dir
    from launcher.platform import PlatformFacts
    from launcher.shells.detect import detect_shell

    with console.step("settings", "settings resolved") as current:
        settings = resolve_settings(request.project, request.flags, request.env)
        interpreter = venv_interpreter(settings)  # parses what the launcher's Python cannot
        adopt_hardwired(settings, interpreter)
        app = discover_app(
            settings.project, settings.app, interpreter, source=settings.source("app")
        )
        current.detail = f"{settings.project}, app {app.described}"
    if request.verbose:
        show_settings(settings)
    facts = PlatformFacts.current()
    shell = detect_shell(facts, settings.shell, source=settings.source("shell"))
    cache = settings_cache_dir(settings, request.env)
    return UpRun(request, settings, app, facts, shell, cache)


def check(run: UpRun) -> None:
    """Step 2: the pre-flight checks and the port."""
    from launcher.checks import preflight
    from launcher.server import check_port, pick_free_port

    settings = run.settings
    with console.step("pre-flight checks", "pre-flight checks passed") as current:
        previous_run(run)
        run.port = settings.port or pick_free_port(settings.host)
        preflight(settings, cache=run.cache, port=run.port, facts=run.facts)
        if run.early is None:  # else the early start found it free and its backend binds it
            check_port(settings.host, run.port)
        wsl = " (WSL)" if run.shell.wsl else ""
        current.detail = f"shell {run.shell.name}{wsl}, port {run.port} free"
    run.background.start_download(settings, run.request.env, run.cache)  # [recover]


def previous_run(run: UpRun) -> None:
    """Take the project's claim (another `up` holding it: refuse, naming it), then look at the
    run file left by an earlier `up`: still running (refuse), an orphan whose launcher is gone
    (stop it, it is ours), or stale (forget it)."""
    from launcher.server import kill_tree
    from launcher.server.claim import already_running, claim_project, release
    from launcher.server.runfile import RunState, inspect_run, read_run, remove_run

    state_dir = run.settings.state_dir
    claim_project(state_dir, windows=run.facts.windows)
    record = read_run(state_dir)
    state = inspect_run(record)
    if record is None or state is RunState.NONE:
        return
    if state is RunState.RUNNING:  # a launcher that takes no claim (an older version)
        release(state_dir)
        raise already_running(record, windows=run.facts.windows)
    if state is RunState.ORPHAN:
        console.warn(
            f"the backend of an earlier `up` is still running at {record.url} (pid "
            f"{record.backend_pid}) but its launcher (pid {record.launcher_pid}) is gone: "
            "stopping it"
        )
        kill_tree(record.backend_pid, windows=run.facts.windows)
    remove_run(state_dir)


def make_venv(run: UpRun) -> None:
    """Step 3: find or create the venv."""
    from launcher.venvs import ensure_venv

    settings = run.settings
    with console.step("venv", "venv ready") as current:
        run.venv = ensure_venv(
            settings.project,
            settings.venv_path,
            settings.python,
            run.facts,
            state_dir=settings.state_dir,  # its lock lives in the (movable) state folder
        )
        current.detail = run.venv.method


def sync(run: UpRun) -> None:
    """Step 4: the project's dependencies in the venv."""
    from launcher.deps import sync_dependencies

    assert run.venv is not None
    settings = run.settings
    with console.step("dependencies", "dependencies in sync") as current:
        deps = sync_dependencies(
            settings.project, run.venv.python, settings.install, settings.state_dir, run.request.env
        )
        current.detail = deps.reason


def activate(run: UpRun) -> None:
    """Step 5: how the server is launched inside the venv."""
    from launcher.shells.strategies import choose_activation

    assert run.venv is not None
    with console.step("activation", "venv activated") as current:
        forced = None if run.settings.activation == "auto" else run.settings.activation
        run.activation = choose_activation(run.venv, run.shell, run.facts, forced)
        current.detail = f"{run.activation.strategy} strategy"


def fetch_model(run: UpRun) -> None:
    """Step 6: the embedding model in the cache (or a degraded start)."""
    from launcher.model_step import lay_out_as_backend, prefetch_options
    from launcher.models.location import CacheLocation

    assert run.activation is not None and run.venv is not None
    settings = run.settings
    options = prefetch_options(settings, env=run.request.env, cache=run.cache)
    if not settings.prefetch:
        options.offline = True
    with console.step("model", "model ready") as current:
        # laid out the way the venv's own fastembed names the models (remembered per install)
        lay_out_as_backend(settings, options, run.venv.path, run.venv.python, run.request.env)
        if isinstance(options.cache, CacheLocation):
            run.cache = options.cache
        # [recover] waits for the background download instead of downloading again
        result, switch = run.background.settle(settings, options, run.activation.to_json())
        current.detail = run.background.detail or model_summary(result.resolved, result.state)
        error = result.error()
        if error is not None:
            raise error
        if result.state == "degraded" or switch is not None:
            current.status = "warn"
    if switch is not None:
        console.warn(switch.warning())
    run.model = result


def server_argv(run: UpRun) -> list[str]:
    """uvicorn's command line, wrapped by the activation strategy."""
    from launcher.shells.strategies import wrap_argv

    assert run.venv is not None and run.activation is not None
    settings = run.settings
    argv = [str(run.venv.python), "-m", "uvicorn", *run.app.uvicorn_args()]
    argv += ["--host", settings.host, "--port", str(run.port)]
    if settings.reload:
        argv.append("--reload")
    return wrap_argv(run.activation, argv)


def server_env(run: UpRun) -> dict[str, str]:
    """The backend's environment: the activated venv plus the launcher's contract."""
    from launcher.shells.strategies import run_env
    from launcher.venvs import activated_env

    assert run.venv is not None and run.activation is not None and run.model is not None
    base = backend_env(
        activated_env(run.venv, run.request.env),
        cache_dir=run.cache.path,
        model=run.model.resolved,
        status_file=run.settings.status_file,
    )
    return run_env(run.activation, base)


def start_server(run: UpRun) -> int:
    """Step 7: the supervised server, until it exits or the launcher is told to stop; the
    run file says which launcher runs it while it runs."""
    from functools import partial

    from launcher.redact import redact
    from launcher.server import ServeTarget, serve
    from launcher.server.claim import release, remove_own_run
    from launcher.server.runfile import make_record, write_run
    from launcher.up.view import ConsoleEvents

    settings = run.settings
    argv = server_argv(run)
    env = server_env(run)
    launch = _launch(run, argv, env)
    started, guard = _adopt_early(run, launch)
    target = ServeTarget(
        url=run.url,
        health_url=run.url + settings.health_path,
        ready_timeout=settings.ready_timeout,
        bind=(settings.host, run.port),
        discover_health=settings.source("health_path") == "default",
        own_listener=run.activation is None or run.activation.strategy != "wsl",
    )
    command = [redact(arg) for arg in argv]

    def record(pid: int, health_url: str = "") -> None:
        entry = make_record(pid, run.url, run.port, command)
        if health_url:
            entry = replace(entry, health_url=health_url)
        write_run(settings.state_dir, entry)

    view = ConsoleEvents(also_started=[record])
    view.also_ready.append(lambda url, pid: record(pid, view.health_url))
    view.also_ready.append(lambda url, pid: _remember_launch(run, launch))
    try:  # [recover] serve again, restarted onto a model that arrived in the background
        return run.background.serve(
            partial(serve, argv, cwd=settings.project, target=target, events=view.events()),
            env=env,
            guard=guard,
            started=started,
            env_for=lambda model: server_env(replace(run, model=model)),
        )
    finally:
        remove_own_run(settings.state_dir)
        release(settings.state_dir)


def run_up(request: UpRequest) -> int:
    """Run the whole pipeline; returns the backend's exit code (130 on Ctrl-C).

    The caller (`commands/up.py`, through `commands/startup.start`) has already wired logging
    and registered the project's `.env` values as secrets. A backend the entry point started
    early (early_start.py) is confirmed by these steps, or stopped."""
    from launcher.up.early import take

    key, early = take()
    if early is not None:
        logger.debug(f"early start: the backend (pid {early.popen.pid}) loads while the checks run")
    run: UpRun | None = None
    try:
        run = resolve(request)
        run.early, run.early_key, early = early, key, None
        for step in (check, make_venv, sync, activate, fetch_model):
            step(run)
        return start_server(run)
    finally:
        if run is not None:  # [recover] Ctrl-C, a failed step: the background work stops
            run.background.stop()
        for leftover in (early, run.early if run is not None else None):
            if leftover is not None:  # the checks failed or were interrupted: stop it
                leftover.abandon()


def _launch(run: UpRun, argv: list[str], env: dict[str, str]) -> Launch:
    from launcher.up.early import Launch

    return Launch(argv, env, str(run.settings.project), run.settings.host, run.port)


def _adopt_early(run: UpRun, launch: Launch) -> tuple[Any, Any]:
    """(the early backend, its guard) when the checks decided exactly what it runs; else the
    early backend is stopped and (None, None): serve() starts the right one."""
    early, run.early = run.early, None
    if early is None:
        return None, None
    if early.confirmed(launch):
        logger.debug(f"early start confirmed: supervising pid {early.popen.pid}")
        return early.popen, early.guard
    logger.debug("early start not confirmed (something changed): starting the backend anew")
    early.abandon()
    return None, None


def _remember_launch(run: UpRun, launch: Launch) -> None:
    """After a healthy start with the model in place and a fixed port: what the next `up` of
    the same command may start early, and the files whose change would make it wrong."""
    from launcher.up.early import forget, remember

    settings, model, key = run.settings, run.model, run.early_key
    if key is None:
        return  # not started through the entry point: nothing to key a record on
    if model is None or model.state == "degraded" or not model.path or not settings.port:
        forget(settings.state_dir)
        return
    remember(settings.state_dir, key, launch, run.request.env, _depended_on(run, model.path))


def _depended_on(run: UpRun, model_path: str) -> list[str]:
    """The files a warm start's checks read to decide: project and dependency files, the
    venv's config and interpreter, the stamps, the model's files."""
    from launcher.deps.stamp import stamp_path
    from launcher.fastembed.probe import ANSWER_FILE

    assert run.venv is not None
    project, state = run.settings.project, run.settings.state_dir
    names = ("pyproject.toml", ".env", "uv.lock", "pylock.toml", "poetry.lock")
    paths = [project / name for name in names]
    paths += sorted(project.glob("requirements*.txt"))
    paths += [run.venv.path / "pyvenv.cfg", run.venv.python]
    paths += [stamp_path(state), state / ANSWER_FILE, Path(model_path)]
    with contextlib.suppress(OSError):
        paths += sorted(Path(model_path).iterdir())
    return [str(path) for path in paths]
