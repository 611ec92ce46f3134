"""A warm project: a copy of examples/textbook-backend whose venv, dependencies and model are
all present, made by one cold `robo-backend up` (untimed) and shared by the benchmarks that
need it (up, deps, doctor).

Installs run with `UV_OFFLINE=1` / `PIP_NO_INDEX=1` and every proxy pointed at a dead loopback
port, so the benchmark sends no traffic off the machine: packages come from uv's cache, which
the e2e tests (or any earlier `up`) filled. An empty cache is reported, with what to run.
"""

from __future__ import annotations

import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

from bench import procs
from bench.harness import REPO_ROOT, BenchError, Context
from bench.hub import BGE_MODEL, hub_env, hub_process

EXAMPLE = REPO_ROOT / "examples" / "textbook-backend"
COLD_TIMEOUT = 900.0


@dataclass(frozen=True)
class WarmProject:
    project: Path
    cache: Path
    venv: Path
    env: dict[str, str]  # the launcher's environment (hub, offline installers, no proxies out)

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def status_file(self) -> Path:
        return self.project / ".robo-backend" / "status.json"

    def up_argv(self, ctx: Context, port: int) -> list[str]:
        return [
            ctx.tool("robo-backend"), "up", "-p", str(self.project), "--port", str(port),
            "--cache-dir", str(self.cache),
        ]  # fmt: skip

    def backend_env(self) -> dict[str, str]:
        """What `up` gives the backend (README, "What the backend receives"), for starting the
        same server without us: the launcher's own `backend_env` over the activated venv's PATH
        and VIRTUAL_ENV."""
        from launcher.up.contract import backend_env

        base = dict(self.env)
        base["VIRTUAL_ENV"] = str(self.venv)
        base["PATH"] = f"{self.venv / 'bin'}:{base.get('PATH', '')}"
        base.pop("PYTHONHOME", None)
        return backend_env(
            base, cache_dir=self.cache, model=BGE_MODEL, status_file=self.status_file
        )


def offline_install_env(base: dict[str, str]) -> dict[str, str]:
    env = dict(base)
    env.update({"UV_OFFLINE": "1", "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    return env


def warm_project(ctx: Context) -> WarmProject:
    return ctx.shared("warm-project", _build)


def _build(ctx: Context) -> WarmProject:
    hub = hub_process(ctx)
    root = ctx.scratch("warm")
    project = root / "textbook backend"  # a space in the path, as users have
    shutil.copytree(
        EXAMPLE, project, ignore=shutil.ignore_patterns(".venv*", ".robo-backend", "__pycache__")
    )
    warm = WarmProject(
        project=project,
        cache=root / "models",
        venv=project / ".venv",
        env=offline_install_env(hub_env(hub.url)),
    )
    ctx.log("   cold `up` to build the warm project (venv, deps from uv's cache, model)")
    for attempt in ("cold", "warm-up"):
        port = procs.free_port()
        with procs.Service(
            warm.up_argv(ctx, port), env=warm.env, cwd=root, log=root / f"up-{attempt}.log"
        ) as service:
            try:
                service.wait_ready(port, timeout=COLD_TIMEOUT)
            except BenchError as exc:
                text = str(exc).lower()
                if "offline" in text or "no solution" in text or "not found in the cache" in text:
                    raise BenchError(
                        "the example backend's dependencies are not in uv's cache, and the "
                        "benchmark installs offline; run the e2e tests once "
                        "(.venv/bin/python -m pytest tests/e2e) to fill it\n" + str(exc)
                    ) from None
                raise
            code = service.stop(signal.SIGINT, timeout=30)
        if code != 130:
            raise BenchError(f"`up` exited {code} after SIGINT (expected 130)")
    if not warm.python.exists():
        raise BenchError(f"no venv python at {warm.python} after `up`")
    return warm
