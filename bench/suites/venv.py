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
from pathlib import Path

from bench import procs
from bench.harness import BenchError, Context, Figure, benchmark
from bench.hub import hub_env
from bench.workspace import offline_install_env

UV_VENV = "uv venv"
VENV = "python -m venv"
VENV_NOPIP = "python -m venv --without-pip"
VIRTUALENV = "virtualenv"

OURS_CODE = """
import json, sys, time
from pathlib import Path
from launcher.shells import PlatformFacts
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
