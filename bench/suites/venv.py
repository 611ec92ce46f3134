"""3. Venv creation through our creator chain against `uv venv`, `python -m venv`, `virtualenv`.

Ours is `launcher.venvs.ensure_venv` on a fresh path in a fresh interpreter: it finds and
probes the interpreter, creates the venv with the first creator that works (uv here), then
validates it by running its python, as `up` does on a first run. Every contender uses the same
base interpreter (the dev venv's base Python) and writes a new folder, deleted afterwards.
`python -m venv` installs pip (its default); uv and ours do not need it (installs go through
uv), so the pip-less `python -m venv --without-pip` is listed too.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

from bench import procs
from bench.harness import BenchError, Context, Figure, Target, benchmark
from bench.hub import hub_env
from bench.workspace import offline_install_env

UV_VENV = "uv venv"
VENV = "python -m venv"
VENV_NOPIP = "python -m venv --without-pip"
VIRTUALENV = "virtualenv"

OURS_CODE = """
import json, sys, time
from pathlib import Path
from launcher.platform import PlatformFacts
from launcher.venvs import ensure_venv
start = time.perf_counter()
info = ensure_venv(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], PlatformFacts.current())
print(json.dumps({"created": info.created, "method": info.method,
                  "call": time.perf_counter() - start}))
"""


def base_python() -> str:
    """The interpreter the dev venv was made from (every creator starts from it)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return str(Path(base).resolve())


@benchmark("venv", "3. Venv creation", order=30)
def venv_creation(ctx: Context) -> list[Figure]:
    python = base_python()
    env = offline_install_env(hub_env("http://127.0.0.1:9"))
    methods: list[str] = []
    calls: list[float] = []

    def fresh(name: str) -> tuple[Path, Path]:
        project = ctx.scratch(f"venv-{name}")
        return project, project / ".venv"

    def timed(name: str, argv_for: object) -> float:
        project, target = fresh(name)
        try:
            argv = argv_for(target)  # type: ignore[operator]
            done = procs.run(argv, env=env, cwd=project, timeout=300)
            if not (target / "pyvenv.cfg").is_file():
                raise BenchError(f"{name} made no venv at {target}")
            if name == "robo-backend":
                report = json.loads(done.output.strip().splitlines()[-1])
                if not report["created"]:
                    raise BenchError(f"ensure_venv reused instead of creating: {report}")
                methods.append(report["method"])
                calls.append(report["call"])
            return done.seconds
        finally:
            shutil.rmtree(project, ignore_errors=True)

    uv = ctx.tool("uv")
    virtualenv = ctx.tool("virtualenv")
    runners = {
        "robo-backend": lambda: timed(
            "robo-backend",
            lambda t: [str(ctx.python), "-c", OURS_CODE, str(t.parent), str(t), python],
        ),
        UV_VENV: lambda: timed(UV_VENV, lambda t: [uv, "venv", "--python", python, str(t)]),
        VENV: lambda: timed(VENV, lambda t: [python, "-m", "venv", str(t)]),
        VENV_NOPIP: lambda: timed(
            VENV_NOPIP, lambda t: [python, "-m", "venv", "--without-pip", str(t)]
        ),
        VIRTUALENV: lambda: timed(VIRTUALENV, lambda t: [virtualenv, "--python", python, str(t)]),
    }
    samples = ctx.interleave(runners)
    kept = len(samples["robo-backend"])
    return [
        Figure(
            name="venv.create",
            label="create a venv on a fresh path",
            unit="s",
            ours=samples["robo-backend"],
            yardsticks={k: samples[k] for k in (UV_VENV, VENV, VENV_NOPIP, VIRTUALENV)},
            baseline=UV_VENV,
            note="ours includes finding and probing the interpreter and validating the new "
            "venv by running it; method used: " + (methods[-1] if methods else "?"),
            details={"methods": methods[-kept:], "call_seconds": calls[-kept:]},
        )
    ]


# ---------------------------------------------------------------------------------------------
# 3b. Cold `up`: no venv, empty model cache, package caches warm


UV_BY_HAND = "uv venv + uv pip install + uvicorn"
EXAMPLE_DEPS = ["fastapi>=0.110", "uvicorn>=0.29", "fastembed>=0.7"]
PLAIN_APP = """
import os
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastembed import TextEmbedding


@asynccontextmanager
async def lifespan(app):
    name = os.environ.get("ROBO_BACKEND_MODEL", "BAAI/bge-small-en-v1.5")
    model = TextEmbedding(name, cache_dir=os.environ.get("FASTEMBED_CACHE_PATH"))
    app.state.dims = len(next(iter(model.embed(["ready?"]))))
    yield


app = FastAPI(lifespan=lifespan)


@app.get("/health")
def health():
    return {"status": "ok", "model_loaded": app.state.dims > 0}
"""


def _require_model(port: int, who: str) -> None:
    """The run only counts when the backend really loaded the model (not degraded)."""
    import urllib.request

    url = f"http://127.0.0.1:{port}/health"
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback
        body = json.loads(answer.read())
    if not body.get("model_loaded"):
        raise BenchError(f"{who}: the backend answered /health without its model: {body}")


@benchmark("cold-up", "3b. Cold `up` to healthy", order=31)
def cold_up(ctx: Context) -> list[Figure]:
    """`up` on a fresh plain fastembed backend (no venv, empty model cache) against doing the
    same by hand with uv: `uv venv`, `uv pip install` of the same dependencies, then
    `python -m uvicorn` with fastembed downloading the model itself from the same hub.
    Both install offline from uv's warm cache; each run gets a fresh project and cache."""
    from bench.hub import hub_process

    race = ColdRace(ctx, hub_process(ctx).url, "cold")
    samples = ctx.interleave({"robo-backend": race.ours, UV_BY_HAND: race.by_hand})
    return [
        Figure(
            name="up.cold",
            label="cold `up` to healthy (no venv, empty model cache, package caches warm)",
            unit="s",
            ours=samples["robo-backend"],
            yardsticks={UV_BY_HAND: samples[UV_BY_HAND]},
            baseline=UV_BY_HAND,
            target=Target("ratio", "<=", 1.2, "≤ 1.2× uv by hand"),
            note="each run a fresh plain backend (FastAPI + fastembed loading the model at start) "
            "and an empty model cache; "
            "both install offline from uv's warm cache and download the model from the same "
            "loopback hub; ours: " + race.method(),
        )
    ]


CAP_PER_CONNECTION = 10_000_000  # a far CDN or a busy Wi-Fi: each connection gets 10 MB/s


@benchmark("cold-up-capped", "3c. Cold `up` on a link capped per connection", order=32)
def cold_up_capped(ctx: Context) -> list[Figure]:
    """The cold race of 3b on a hub that paces every connection at 10 MB/s and serves a model
    of the real one's size: by hand, fastembed downloads it after the install over one
    connection per file; `up` downloads it during the install, the large file in parts."""
    from bench.hub import hub_process

    padding = 15_000_000 if ctx.quick else 66_000_000  # bge-small's ONNX file is 67 MB
    hub = hub_process(ctx, big_bytes=padding, throttle=CAP_PER_CONNECTION)
    race = ColdRace(ctx, hub.url, "capped")
    samples = ctx.interleave({"robo-backend": race.ours, UV_BY_HAND: race.by_hand})
    return [
        Figure(
            name="up.cold_capped_10",
            label=f"cold `up` to healthy, {padding / 1e6 + 0.7:.0f} MB model, "
            "10 MB/s per connection",
            unit="s",
            ours=samples["robo-backend"],
            yardsticks={UV_BY_HAND: samples[UV_BY_HAND]},
            baseline=UV_BY_HAND,
            target=Target("ratio", "<=", 0.5, "≤ 0.5× uv by hand"),
            note="as 3b, on a hub pacing every connection at 10 MB/s; by hand fastembed "
            "downloads the model after the install (one connection per file); ours: "
            + race.method(),
            details={"cap_bytes_per_s": CAP_PER_CONNECTION, "padding_bytes": padding},
        )
    ]


class ColdRace:
    """One contest of cold starts against one hub: ours (`up`) and uv by hand, each run on a
    fresh plain backend with an empty model cache."""

    def __init__(self, ctx: Context, hub_url: str, tag: str) -> None:
        from bench.workspace import warm_project

        warm_project(ctx)  # fills uv's cache with the example's packages (untimed)
        self.ctx, self.tag = ctx, tag
        self.env = offline_install_env(hub_env(hub_url))
        # Both write bytecode as users' Pythons do (the other benchmarks turn that off): the
        # first import of fastembed compiles it, and later imports reuse it.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.python = base_python()
        self.uv = ctx.tool("uv")
        self.methods: list[str] = []

    def method(self) -> str:
        return self.methods[-1] if self.methods else "?"

    def fresh(self, name: str) -> tuple[Path, Path]:
        root = self.ctx.scratch(f"{self.tag}-{name}")
        project = root / "plain backend"
        project.mkdir()
        (project / "main.py").write_text(PLAIN_APP, encoding="utf-8")
        deps = ", ".join(f'"{d}"' for d in EXAMPLE_DEPS)
        (project / "pyproject.toml").write_text(
            f'[project]\nname = "plain"\nversion = "0"\ndependencies = [{deps}]\n',
            encoding="utf-8",
        )
        return root, project

    def ours(self) -> float:
        root, project = self.fresh("ours")
        port = procs.free_port()
        argv = [self.ctx.tool("robo-backend"), "up", "-p", str(project), "--port", str(port)]
        argv += ["--cache-dir", str(root / "models")]
        try:
            with procs.Service(argv, env=self.env, cwd=root, log=root / "up.log") as service:
                seconds = service.wait_ready(port, timeout=600)
                _require_model(port, "up")
                lines = service.output(60).splitlines()
                self.methods.append(next((ln for ln in lines if "venv ready" in ln), "").strip())
                service.stop()
            return seconds
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def by_hand(self) -> float:
        root, project = self.fresh("uv")
        venv = project / ".venv"
        port = procs.free_port()
        started = time.perf_counter()
        env, uv = self.env, self.uv
        try:
            procs.run(
                [uv, "venv", "--quiet", "--python", self.python, str(venv)],
                env=env,
                cwd=project,
                timeout=300,
            )
            python = str(venv / "bin" / "python")
            procs.run(
                [uv, "pip", "install", "--quiet", "--python", python, *EXAMPLE_DEPS],
                env=env,
                cwd=project,
                timeout=600,
            )
            server_env = dict(env, FASTEMBED_CACHE_PATH=str(root / "models"), VIRTUAL_ENV=str(venv))
            server_env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
            argv = [python, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", str(port)]
            with procs.Service(argv, env=server_env, cwd=project, log=root / "uv.log") as server:
                server.wait_ready(port, timeout=600)
                seconds = time.perf_counter() - started
                _require_model(port, "uv by hand")
                server.stop()
            return seconds
        finally:
            shutil.rmtree(root, ignore_errors=True)
