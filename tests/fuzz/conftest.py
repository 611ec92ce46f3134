"""One prepared project for the state-file tests, shared by the session: a real venv (uv, local
wheels), a model prefetched from the loopback hub, and a foreign process (the sentinel).

The backend app cannot start (uvicorn is not installed), so `up` runs every step, starts the
server and ends at once with "the backend exited with code 1": the cheapest full `up` there is.
A small `fastembed` wheel makes `up` ask the venv's fastembed and remember its answer, so that
state file exists too. The sentinel is a process no launcher started; it holds a model lock
file (so the lock's `.pid` file is read) and its pid is planted in every pid-valued file: it
must survive every command.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from tests.fakehub.server import FakeHub
from tests.fakehub.standard import serve_standard_models, shipped_models
from tests.helpers.up_run import free_port
from tests.helpers.venvs import base_python
from tests.helpers.wheels import make_wheel

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 60.0  # seconds one command may take; more is a hang
BACKEND_EXITED = "the backend exited with code 1"
HELD_LOCK = "models--fuzz--held.lock"
SENTINEL_CODE = (
    "import fcntl, sys, time\n"
    "handle = open(sys.argv[1], 'a')\n"
    "fcntl.flock(handle, fcntl.LOCK_EX)\n"
    "print('held', flush=True)\n"
    "time.sleep(600)\n"
)


@dataclass
class Result:
    """One finished command: its argv, exit code and output."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Prepared:
    """The shared project, its cache and state folders, and how to run the CLI on it."""

    project: Path
    cache: Path
    outside: Path  # a folder outside the project and the cache (symlink targets)
    env: dict[str, str]
    sentinel: psutil.Process
    held_lock: Path
    pristine: dict[Path, bytes] = field(default_factory=dict)

    @property
    def state(self) -> Path:
        return self.project / ".robo-backend"

    @property
    def venv(self) -> Path:
        return self.project / ".venv"

    @property
    def model(self) -> Path:
        folders = sorted(self.cache.glob("models--*"))
        assert folders, f"no model folder in {self.cache}"
        return folders[0]

    def run(self, *args: str, offline: bool = False) -> Result:
        """`python -m launcher ARGS` on the project, bounded by TIMEOUT (a hang fails)."""
        env = dict(self.env, HF_HUB_OFFLINE="1") if offline else self.env
        try:
            done = subprocess.run(
                [sys.executable, "-m", "launcher", *args],
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=REPO,
                timeout=TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"`{' '.join(args)}` hung (over {TIMEOUT:.0f} s)") from exc
        return Result(tuple(args), done.returncode, done.stdout, done.stderr)

    def up(self, *extra: str, offline: bool = False) -> Result:
        port = str(free_port())
        return self.run("up", "-p", str(self.project), "--port", port, *extra, offline=offline)

    def sentinel_alive(self) -> bool:
        try:
            return self.sentinel.is_running() and self.sentinel.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False


def _project(root: Path, cache: Path) -> Path:
    project = root / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "fuzzed"\nversion = "0"\n'
        'dependencies = ["tinydep==1.0", "fastembed==0.7.4", "uvicorn==0.0.1",'
        ' "fastapi==0.0.1"]\n\n'
        f"[tool.robo-backend]\ncache_dir = {str(cache)!r}\n",
        encoding="utf-8",
    )
    (project / "main.py").write_text("app = None\n", encoding="utf-8")
    return project


def _env(root: Path, hub: FakeHub, wheels: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "ROBO_BACKEND_"))}
    for name in ("FASTEMBED_CACHE_PATH", "VIRTUAL_ENV", "FORCE_COLOR"):
        env.pop(name, None)
    home = root / "home"
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".state"),
        XDG_CONFIG_HOME=str(home / ".config"),
        ROBO_BACKEND_LOG_DIR=str(home / "logs"),
        HF_ENDPOINT=hub.url,
        HF_HUB_DISABLE_TELEMETRY="1",
        NO_COLOR="1",
        COLUMNS="120",
        UV_OFFLINE="1",
        UV_FIND_LINKS=str(wheels),
        UV_PYTHON=base_python(),
    )
    return env


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prepared]:
    if not hasattr(os, "mkfifo"):
        pytest.skip("the state-file fuzz plants FIFOs (POSIX)")
    root = tmp_path_factory.mktemp("fuzz")
    wheels = root / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "tinydep", "1.0")
    make_wheel(wheels, "fastembed", "0.7.4")  # imports, but is no fastembed: asked, remembered
    for server in ("uvicorn", "fastapi"):  # present (the dependency check), but no server:
        make_wheel(wheels, server, "0.0.1")  # `python -m uvicorn` exits 1 at once
    cache = root / "cache"
    outside = root / "outside"
    outside.mkdir()
    held = cache / ".locks" / HELD_LOCK
    held.parent.mkdir(parents=True)
    with FakeHub() as hub:
        serve_standard_models(hub, shipped_models())
        sentinel = subprocess.Popen(
            [sys.executable, "-c", SENTINEL_CODE, str(held)],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert sentinel.stdout is not None
            assert sentinel.stdout.readline().strip() == "held"  # bounded: it prints or dies
            ready = Prepared(
                project=_project(root, cache),
                cache=cache,
                outside=outside,
                env=_env(root, hub, wheels),
                sentinel=psutil.Process(sentinel.pid),
                held_lock=held,
            )
            cold = ready.up()
            assert BACKEND_EXITED in cold.stderr, cold.output
            assert "model ready" in cold.stderr, cold.output
            yield ready
        finally:
            sentinel.kill()
            sentinel.wait(timeout=10)
