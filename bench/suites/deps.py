"""4. A no-op dependency sync: ours (warm stamp) against `uv pip install` and `pip install`
of the same requirements into the same, already complete venv.

Ours is `launcher.deps.sync_dependencies(..., mode="auto")` in a fresh interpreter (what `up`
pays: the import and the stamp check), the yardsticks are the installers a user would re-run.
The venv was made by `up` with uv, so it has no pip: the pip yardstick runs the dev venv's pip
with `--python <venv python>` (pip ≥ 22.3), which costs one extra interpreter start.
Installers run offline (`UV_OFFLINE`, `PIP_NO_INDEX`): a no-op never needs the index anyway.
"""

from __future__ import annotations

import json
import sys

from bench import procs
from bench.harness import BenchError, Context, Figure, benchmark
from bench.workspace import warm_project

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

UV_PIP = "uv pip install"
PIP = "pip install"

OURS_CODE = """
import json, os, sys, time
from pathlib import Path
from launcher.deps import sync_dependencies
start = time.perf_counter()
project, python, state = (Path(a) for a in sys.argv[1:4])
result = sync_dependencies(project, python, "auto", state, dict(os.environ))
print(json.dumps({"installed": result.installed, "reason": result.reason,
                  "call": time.perf_counter() - start}))
"""


@benchmark("deps", "4. No-op dependency sync", order=40)
def deps_noop(ctx: Context) -> list[Figure]:
    warm = warm_project(ctx)
    data = tomllib.loads((warm.project / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = list(data["project"]["dependencies"])
    state_dir = warm.project / ".robo-backend"
    calls: list[float] = []

    def ours() -> float:
        done = procs.run(
            [str(ctx.python), "-c", OURS_CODE, str(warm.project), str(warm.python), str(state_dir)],
            env=warm.env,
            cwd=warm.project,
            timeout=120,
        )
        report = json.loads(done.output.strip().splitlines()[-1])
        if report["installed"]:
            raise BenchError(f"the warm sync installed something: {report['reason']}")
        calls.append(report["call"])
        return done.seconds

    uv = ctx.tool("uv")
    uv_argv = [uv, "pip", "install", "--python", str(warm.python), *requirements]
    pip_argv = [
        str(ctx.python), "-m", "pip", "--python", str(warm.python), "install",
        "--disable-pip-version-check", *requirements,
    ]  # fmt: skip
    samples = ctx.interleave(
        {
            "robo-backend": ours,
            UV_PIP: lambda: procs.timed(uv_argv, env=warm.env, cwd=warm.project, timeout=300),
            PIP: lambda: procs.timed(pip_argv, env=warm.env, cwd=warm.project, timeout=300),
        }
    )
    return [
        Figure(
            name="deps.noop",
            label=f"no-op sync of {len(requirements)} requirements",
            unit="s",
            ours=samples["robo-backend"],
            yardsticks={UV_PIP: samples[UV_PIP], PIP: samples[PIP]},
            baseline=UV_PIP,
            note="ours: a fresh interpreter importing launcher.deps and comparing the stamp "
            "(the call alone is in the JSON details); pip runs as `pip --python <venv>`",
            details={"call_seconds": calls[-len(samples["robo-backend"]) :]},
        )
    ]
