"""After "ready", load the backend's model as the backend will, beside it; warn loudly on failure.

It runs in a background thread that never delays the ready line, once per change of what decides
the load (`model-load.json` in the state folder); the child is stopped when `up` ends.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

from launcher.ui import console

if TYPE_CHECKING:
    from launcher.fastembed.trial import LoadResult
    from launcher.up.pipeline import ServerPlan

STOP_WAIT = 5.0  # seconds to wait for the thread once the child is killed


class ModelLoadCheck:
    """One background load of `model` by the venv's `python`, started when the backend is ready."""

    def __init__(
        self,
        *,
        python: Path,
        model: str,
        env: Mapping[str, str],
        cwd: Path,
        state_dir: Path,
        key: str,
        windows: bool,
        timeout: float | None = None,
    ) -> None:
        from launcher.fastembed.trial import LOAD_TIMEOUT

        self.python, self.model, self.env, self.cwd = python, model, dict(env), cwd
        self.state_dir, self.key, self.windows = state_dir, key, windows
        self.timeout = LOAD_TIMEOUT if timeout is None else timeout
        self.result: LoadResult | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None

    def on_ready(self, url: str = "", pid: int = 0) -> None:
        """Start the load in the background (a ServeEvents `ready` hook: returns at once)."""
        if self._thread is not None or self._stopped.is_set():
            return
        self._thread = threading.Thread(target=self._run, name="model-load-check", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """`up` is ending: stop the child (if any) and the thread; nothing more is said."""
        self._stopped.set()
        with self._lock:
            child = self._child
        if child is not None and child.poll() is None:
            with contextlib.suppress(OSError):
                child.kill()
        if self._thread is not None:
            self._thread.join(STOP_WAIT)

    def wait(self, timeout: float) -> bool:
        """Wait for the check to finish (for tests and the end of a run); True when it did."""
        if self._thread is None:
            return False
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        from launcher.fastembed.trial import remember_ok

        try:
            result = self._load()
        except Exception as exc:  # a check that cannot run must never disturb the backend
            logger.debug(f"model load check could not run: {type(exc).__name__}: {exc}")
            return
        if result is None or self._stopped.is_set():
            return
        self.result = result
        if result.ok:
            remember_ok(self.state_dir, self.key, result)
            console.line(
                "ok",
                f"model check: {self.model} loads with the backend's fastembed "
                f"{result.fastembed} ({result.seconds:.1f} s)",
            )
            return
        console.warn(self._failure(result), self._hint(result))

    def _load(self) -> LoadResult | None:
        from launcher import proc
        from launcher.fastembed.trial import load_argv, read_result

        argv = load_argv(self.python, self.model, timeout=self.timeout)
        with self._lock:
            if self._stopped.is_set():
                return None
            child = proc.spawn(argv, env=self.env, cwd=self.cwd, windows=self.windows)
            self._child = child
        try:
            output, _ = child.communicate(timeout=self.timeout + 5)
        except subprocess.TimeoutExpired:
            child.kill()
            output, _ = child.communicate()
        text = (output or b"").decode("utf-8", errors="replace")
        return read_result(self.model, child.returncode, text, "")

    def _failure(self, result: LoadResult) -> str:
        offline = "offline" if self.env.get("HF_HUB_OFFLINE") == "1" else "with the hub"
        which = f"fastembed {result.fastembed}" if result.fastembed else "fastembed"
        return (
            f"the backend is up, but its {which} cannot load {self.model} with the environment "
            f"`up` gave it ({offline}), so every use of the model will fail: {result.reason()}"
        )

    def _hint(self, result: LoadResult) -> str:
        from launcher.fastembed.offline import asks_hub_first, decide

        if asks_hub_first(result.fastembed) and self.env.get("HF_HUB_OFFLINE") == "1":
            return decide(result.fastembed, False, model=self.model).hint
        return (
            f'Load it by hand to see more: `{self.python} -c "from fastembed import '
            f"TextEmbedding; TextEmbedding('{self.model}')\"`; `robo-backend doctor` runs the "
            "same load (model-load)."
        )


class NoLoadCheck:
    """Nothing to check: the hooks do nothing."""

    result: LoadResult | None = None

    def on_ready(self, url: str = "", pid: int = 0) -> None:
        return None

    def stop(self) -> None:
        return None


def after_ready(plan: ServerPlan) -> ModelLoadCheck | NoLoadCheck:
    """The check for this run's backend (with exactly its environment); a `NoLoadCheck` when
    there is nothing to check (no model, no fastembed in the venv, a backend run inside WSL) or
    the same load already worked. Never raises: the check must not stand in the backend's way."""
    try:
        return _after_ready(plan)
    except Exception as exc:
        logger.debug(f"model load check not prepared: {type(exc).__name__}: {exc}")
        return NoLoadCheck()


def _after_ready(plan: ServerPlan) -> ModelLoadCheck | NoLoadCheck:
    from launcher.fastembed.offline import ST_PREFIX, venv_fastembed_version
    from launcher.fastembed.trial import load_key, remembered_ok
    from launcher.settings import Source

    venv, model, settings = plan.venv, plan.model.result, plan.resolved.settings
    env = plan.launch.env
    if not model.resolved or model.resolved.startswith(ST_PREFIX):
        return NoLoadCheck()
    if not plan.own_listener:
        return NoLoadCheck()  # the venv's python runs on the Linux side (WSL): not ours to start
    if venv_fastembed_version(venv.path) is None:
        return NoLoadCheck()
    name = model.resolved
    if model.state == "fallback" and settings.source("model") is Source.CODE:
        name = settings.model  # its code names the model it loads, not the fallback
    key = load_key(venv.path, name, model.path, env)
    state_dir = settings.state_path
    if remembered_ok(state_dir, key):
        logger.debug(f"model check: {name} loaded before with the same fastembed and env")
        return NoLoadCheck()
    return ModelLoadCheck(
        python=venv.python,
        model=name,
        env=env,
        cwd=settings.project,
        state_dir=state_dir,
        key=key,
        windows=plan.resolved.facts.windows,
    )
