"""A trivial benchmark that exercises the harness's plumbing (the smoke test runs it)."""

from __future__ import annotations

import sys

from bench import procs
from bench.harness import Context, Figure, Target, benchmark


@benchmark("selftest", "Harness self-test", order=0, hidden=True)
def selftest(ctx: Context) -> list[Figure]:
    """`python -c pass` against itself: the ratio should be near 1, and means nothing."""
    argv = [sys.executable, "-c", "pass"]
    samples = ctx.interleave(
        {
            "ours": lambda: procs.timed(argv, timeout=30),
            "python -c pass": lambda: procs.timed(argv, timeout=30),
        },
        warmup=0,
    )
    return [
        Figure(
            name="selftest.python",
            label="python -c pass",
            unit="s",
            ours=samples["ours"],
            yardsticks={"python -c pass": samples["python -c pass"]},
            target=Target("ratio", "<=", 1000.0, "≤ 1000× itself"),
            note="plumbing check only",
        )
    ]
