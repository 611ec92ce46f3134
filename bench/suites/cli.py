"""1. CLI start-up: `robo-backend --help` / `--version` against `import typer` and `uv --version`.

`python -c "import typer"` is the floor for any Typer CLI in the same interpreter; `uv --version`
is a native binary, the floor of any CLI at all. Both run through the console script exactly as
a user types it.
"""

from __future__ import annotations

from bench import procs
from bench.harness import Context, Figure, Target, benchmark
from bench.hub import hub_env

TYPER = "import typer"
UV = "uv --version"


@benchmark("cli", "1. CLI start-up", order=10)
def cli_startup(ctx: Context) -> list[Figure]:
    robo = ctx.tool("robo-backend")
    uv = ctx.tool("uv")
    env = hub_env("http://127.0.0.1:9")  # no HF_* leaking in; nothing here touches the network
    cwd = ctx.scratch("cli")

    def run(argv: list[str]) -> float:
        return procs.timed(argv, env=env, cwd=cwd, timeout=60)

    repeats = ctx.repeats * 2  # cheap: more runs, steadier medians
    samples = ctx.interleave(
        {
            "help": lambda: run([robo, "--help"]),
            "version": lambda: run([robo, "--version"]),
            TYPER: lambda: run([str(ctx.python), "-c", "import typer"]),
            UV: lambda: run([uv, "--version"]),
        },
        repeats=repeats,
    )
    yard = {TYPER: samples[TYPER], UV: samples[UV]}
    return [
        Figure(
            name="cli.help",
            label="robo-backend --help",
            unit="s",
            ours=samples["help"],
            yardsticks=yard,
            baseline=TYPER,
            target=Target("ratio", "<=", 1.5, "≤ 1.5× import typer"),
        ),
        Figure(
            name="cli.version",
            label="robo-backend --version",
            unit="s",
            ours=samples["version"],
            yardsticks=yard,
            baseline=TYPER,
        ),
    ]
