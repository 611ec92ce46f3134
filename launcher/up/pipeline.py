"""The `up` pipeline: settings → pre-flight → venv → dependencies → activation → model → server.

Straight-line: each step takes the typed values earlier steps returned and returns its own,
changing none. The stages live in their own modules; this file sequences them and builds the
backend's environment (the launcher-to-backend contract).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

from launcher.settings import Flags, Settings, Source, resolve_settings
from launcher.ui import console

if TYPE_CHECKING:
    from launcher.discover import AppTarget
    from launcher.model_step import CacheChoice, ModelStep
    from launcher.models.location import CacheLocation
    from launcher.models.outcome import PrefetchResult
    from launcher.platform import PlatformFacts
    from launcher.shells.detect import ShellInfo
    from launcher.shells.strategies import ActivationResult
    from launcher.up.background import BackgroundModel
    from launcher.up.early import EarlyStart, Launch
    from launcher.venvs import VenvInfo


@dataclass(frozen=True)
class UpRequest:
    project: Path
    flags: Flags
    env: dict[str, str]
    verbose: bool = False
    quiet: bool = False


@dataclass(frozen=True)
class Resolved:
    """Step 1's answer, which every later step reads: settings (with the code layer), the app,
    the machine, the shell and the cache folder."""

    settings: Settings
    env: dict[str, str]
    app: AppTarget
    facts: PlatformFacts
    shell: ShellInfo
    cache: CacheChoice


@dataclass(frozen=True)
class ServerPlan:
    """What the server step starts, once every other step has answered."""

    resolved: Resolved
    port: int
    venv: VenvInfo
    model: ModelStep
    launch: Launch  # command line, environment, folder, address
    activation: ActivationResult
    own_listener: bool = True  # the listening socket is visible as our child's (not via WSL)

    @property
    def url(self) -> str:
        host = self.resolved.settings.host
        url_host = f"[{host}]" if ":" in host else host
        return f"http://{url_host}:{self.port}"


def resolve(request: UpRequest) -> Resolved:
    """Step 1: settings (the code layer included), the app to serve, the platform facts, the
    shell, and the cache folder as the venv's fastembed last said it looks (no process)."""
    from launcher.discover import discover_app
    from launcher.discover.adopt import adopt_hardwired
    from launcher.model_step import decide_cache
    from launcher.platform import PlatformFacts
    from launcher.shells.detect import detect_shell
    from launcher.up.view import show_settings
    from launcher.venvs.interpreters import venv_interpreter

    with console.step("settings", "settings resolved") as current:
        explicit = resolve_settings(request.project, request.flags, request.env)
        interpreter = venv_interpreter(explicit)  # parses what the launcher's Python cannot
        settings = adopt_hardwired(explicit, interpreter)
        app = discover_app(
            settings.project, settings.app, interpreter, source=settings.origin("app").detail
        )
        current.detail = f"{settings.project}, app {app.described}"
    if request.verbose:
        show_settings(settings)  # every value with where it came from
    facts = PlatformFacts.current()
    shell = detect_shell(facts, settings.shell, source=settings.origin("shell").detail)
    cache = decide_cache(settings, request.env)  # as the venv's fastembed last said it looks
    return Resolved(settings, request.env, app, facts, shell, cache)


def check(resolved: Resolved, early: EarlyStart | None) -> int:
    """Step 2: the pre-flight checks and the port; returns the port the server listens on."""
    from launcher.checks import preflight
    from launcher.server.claim import claim_project
    from launcher.server.port import check_port, pick_free_port

    settings = resolved.settings
    with console.step("pre-flight checks", "pre-flight checks passed") as current:
        # another `up` serving or starting the project: refuse; an earlier one's orphan: stop it
        claim_project(settings.state_path, windows=resolved.facts.windows)
        port = settings.port or pick_free_port(settings.host)
        preflight(settings, cache=resolved.cache.location, port=port, facts=resolved.facts)
        if early is None:  # else the early start found it free and its backend binds it
            check_port(settings.host, port)
        wsl = " (WSL)" if resolved.shell.wsl else ""
        current.detail = f"shell {resolved.shell.name}{wsl}, port {port} free"
    return port


def make_venv(resolved: Resolved) -> VenvInfo:
    """Step 3: find or create the venv."""
    from launcher.venvs import ensure_venv

    settings = resolved.settings
    with console.step("venv", "venv ready") as current:
        venv = ensure_venv(
            settings.project,
            settings.venv_path,
            settings.python,
            resolved.facts,
            state_dir=settings.state_path,  # its lock lives in the (movable) state folder
            requires=settings.requires_python,
        )
        current.detail = venv.method
    return venv


def sync(resolved: Resolved, venv: VenvInfo) -> VenvInfo:
    """Step 4: the project's dependencies in the venv; returns the venv that holds them (a
    missing uvicorn is named before anything is installed, and an install that fails for lack
    of wheels remakes the venv once on another Python that fits)."""
    from launcher.deps import sync_for_up

    with console.step("dependencies", "dependencies in sync") as current:
        venv, deps = sync_for_up(resolved.settings, venv, resolved.facts, resolved.env)
        current.detail = deps.reason
    return venv


def activate(resolved: Resolved, venv: VenvInfo) -> ActivationResult:
    """Step 5: how the server is launched inside the venv."""
    from launcher.shells.strategies import choose_activation

    forced = resolved.settings.activation
    with console.step("activation", "venv activated") as current:
        activation = choose_activation(
            venv, resolved.shell, resolved.facts, None if forced == "auto" else forced
        )
        current.detail = f"{activation.strategy} strategy"
    return activation


def fetch_model(
    resolved: Resolved, venv: VenvInfo, activation: ActivationResult, background: BackgroundModel
) -> ModelStep:
    """Step 6: the embedding model in the cache (or a degraded start), after the download that
    ran in the background during the install (never a second one)."""
    from launcher.checks import preflight
    from launcher.model_step import make_model_ready
    from launcher.up.view import model_summary

    settings, facts = resolved.settings, resolved.facts

    def recheck(cache: CacheLocation) -> None:  # the pre-flight's check, on a folder decided since
        preflight(settings, cache=cache, port=settings.port, facts=facts, only=["cache-dir"])

    with console.step("model", "model ready") as current:
        model = make_model_ready(
            settings,
            resolved.env,
            resolved.cache,
            venv.path,
            venv.python,
            download=settings.prefetch,
            environment=activation.to_json(),
            recheck=recheck,
            settle=background.settle,
        )
        result = model.result
        current.detail = background.detail or model_summary(result.resolved, result.state)
        error = result.error()
        if error is not None:
            raise error
        if result.state == "degraded" or model.switch is not None:
            current.status = "warn"
    if model.switch is not None:
        console.warn(model.switch.warning())
    return model


def plan_server(
    resolved: Resolved,
    port: int,
    venv: VenvInfo,
    activation: ActivationResult,
    model: ModelStep,
) -> ServerPlan:
    """uvicorn's command line, wrapped by the activation strategy, and the backend's
    environment: the activated venv plus the launcher's contract."""
    from launcher.shells.strategies import wrap_argv
    from launcher.up.early import Launch

    settings = resolved.settings
    argv = [str(venv.python), "-m", "uvicorn", *resolved.app.uvicorn_args()]
    argv += ["--host", settings.host, "--port", str(port)]
    if settings.reload:
        argv.append("--reload")
    launch = Launch(
        wrap_argv(activation, argv),
        backend_environment(resolved, venv, activation, model.result.resolved, model.cache.path),
        str(settings.project),
        settings.host,
        port,
    )
    own = activation.strategy != "wsl"
    return ServerPlan(resolved, port, venv, model, launch, activation, own_listener=own)


def backend_environment(
    resolved: Resolved, venv: VenvInfo, activation: ActivationResult, model: str | None, cache: Path
) -> dict[str, str]:
    """The backend's environment: the activated venv plus the launcher's contract for `model`
    (also when the backend is restarted onto a model that arrived in the background)."""
    from launcher.shells.strategies import run_env
    from launcher.up.contract import backend_env, backend_hub
    from launcher.venvs import activated_env

    settings = resolved.settings
    hub = backend_hub(venv, model, resolved.env, settings.offline)
    base = backend_env(
        activated_env(venv, resolved.env),
        cache_dir=cache,
        model=model,
        status_file=settings.status_file,
        hub=hub,
    )
    return run_env(activation, base)


def start_server(
    plan: ServerPlan, early: EarlyStart | None, key: str | None, background: BackgroundModel
) -> int:
    """Step 7: the supervised server (the early one when the steps confirmed it), until it
    exits or the launcher is told to stop; the run file says which launcher runs it, and the
    project's claim is released only after it is gone."""
    from functools import partial

    from launcher.redact import redact
    from launcher.server.claim import release
    from launcher.server.runfile import make_record, write_run
    from launcher.server.supervise import ServeTarget, serve
    from launcher.up.loadcheck import after_ready
    from launcher.up.view import ConsoleEvents

    started, guard = early.adopt(plan.launch) if early is not None else (None, None)
    settings, launch = plan.resolved.settings, plan.launch
    target = ServeTarget(
        url=plan.url,
        health_url=plan.url + settings.health_path,
        ready_timeout=settings.ready_timeout,
        bind=(settings.host, plan.port),
        discover_health=settings.source("health_path") is Source.DEFAULT,
        own_listener=plan.own_listener,
    )
    command = [redact(arg) for arg in launch.argv]

    def record(pid: int, health_url: str = "") -> None:
        entry = make_record(pid, plan.url, plan.port, command)
        if health_url:
            entry = replace(entry, health_url=health_url)
        write_run(settings.state_path, entry)

    degraded = plan.model.result.state == "degraded"
    view = ConsoleEvents(also_started=[record], degraded=degraded)
    view.also_ready.append(lambda url, pid: record(pid, view.health_url))
    view.also_ready.append(lambda url, pid: _remember_launch(plan, key))
    load_check = after_ready(plan)  # the model, loaded as the backend will (up/loadcheck.py)
    view.also_ready.append(load_check.on_ready)
    resolved, venv, activation = plan.resolved, plan.venv, plan.activation

    def env_for(model: PrefetchResult) -> dict[str, str]:  # a restart onto an arrived model
        return backend_environment(
            resolved, venv, activation, model.resolved, plan.model.cache.path
        )

    try:  # serve again, restarted onto a model that arrived in the background (up/background.py)
        return background.serve(
            partial(serve, launch.argv, cwd=settings.project, target=target, events=view.events()),
            env=launch.env,
            guard=guard,
            started=started,
            env_for=env_for,
        )
    finally:
        load_check.stop()
        release(settings.state_path)  # and the run file, when this launcher wrote it


def run_up(request: UpRequest) -> int:
    """Run the whole pipeline; returns the backend's exit code (130 on Ctrl-C).

    The caller (`commands/up.py`, through `commands/startup.start`) has already wired logging
    and registered the project's `.env` values as secrets. A backend the entry point started
    early (up/early.py) is confirmed by these steps, or stopped."""
    from launcher.up.background import BackgroundModel
    from launcher.up.early import take

    key, early = take()
    if early is not None:
        logger.debug(f"early start: the backend (pid {early.popen.pid}) loads while the checks run")
    background: BackgroundModel | None = None
    try:
        resolved = resolve(request)
        port = check(resolved, early)
        background = BackgroundModel()  # the model download overlaps the venv and the install
        background.start_download(resolved.settings, resolved.env, resolved.cache.location)
        venv = make_venv(resolved)
        venv = sync(resolved, venv)
        activation = activate(resolved, venv)
        model = fetch_model(resolved, venv, activation, background)
        plan = plan_server(resolved, port, venv, activation, model)
    except BaseException:
        if early is not None:  # the checks failed or were interrupted: stop it
            early.abandon()
        if background is not None:
            background.stop()
        raise
    try:
        return start_server(plan, early, key, background)
    finally:
        background.stop()  # Ctrl-C, the end: the recovery stops with the backend


def _remember_launch(plan: ServerPlan, key: str | None) -> None:
    """After a healthy start with the model in place and a fixed port: what the next `up` of
    the same command may start early, and the files whose change would make it wrong."""
    from launcher.up.early import depended_on, forget, remember

    settings, result = plan.resolved.settings, plan.model.result
    if key is None:
        return  # not started through the entry point: nothing to key a record on
    if result.state == "degraded" or not result.path or not settings.port:
        forget(settings.state_path)
        return
    paths = depended_on(
        settings.project, settings.state_path, plan.venv.path, plan.venv.python, result.path
    )
    remember(settings.state_path, key, plan.launch, plan.resolved.env, paths)
