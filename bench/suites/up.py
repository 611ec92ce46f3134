"""2. Warm `up` to ready, against the same uvicorn started directly and through `uv run`.

Warm: the venv, the dependencies (stamp) and the model are all present (bench/workspace.py made
them with one untimed cold `up`). Each contender is spawned, `/health` is polled from spawn
(every 20 ms) until it answers 200, then SIGINT and wait. The yardsticks run the very same
server command with the environment `up` gives the backend, so the backend does the same work
(it loads the model and embeds its passages before answering): the difference is the launcher.

- `<venv python> -m uvicorn main:app` — what `up` runs, started by hand;
- `uv run --no-project --python <venv python> uvicorn main:app` — uv as the runner (plain
  `uv run` would lock and sync the project first; `--no-project` makes it a pure runner).

Also measured on the same runs: the launcher's own RSS while the backend runs (against `uv
run`'s own process, the other supervisor) and the time from SIGINT to exit.
"""

from __future__ import annotations

import json
import signal
import time

from bench import procs
from bench.harness import BenchError, Context, Figure, Target, benchmark
from bench.workspace import WarmProject, warm_project

UVICORN = "uvicorn direct"
UV_RUN = "uv run"
MIB = 1024 * 1024
READY_TIMEOUT = 120.0


class Starts:
    """Spawn-to-ready samples plus RSS and stop times, per contender."""

    def __init__(self, ctx: Context, warm: WarmProject) -> None:
        self.ctx = ctx
        self.warm = warm
        self.rss: dict[str, list[float]] = {"robo-backend": [], UV_RUN: []}
        self.stop: dict[str, list[float]] = {"robo-backend": [], UVICORN: [], UV_RUN: []}
        self.count = 0

    def _argv(self, who: str, port: int) -> list[str]:
        server = ["main:app", "--host", "127.0.0.1", "--port", str(port)]
        if who == "robo-backend":
            return self.warm.up_argv(self.ctx, port)
        if who == UVICORN:
            return [str(self.warm.python), "-m", "uvicorn", *server]
        uv = self.ctx.tool("uv")
        return [uv, "run", "--no-project", "--python", str(self.warm.python), "uvicorn", *server]

    def run(self, who: str) -> float:
        port = procs.free_port()
        env = self.warm.env if who == "robo-backend" else self.warm.backend_env()
        self.count += 1
        log = self.warm.project.parent / f"start-{self.count}.log"
        with procs.Service(self._argv(who, port), env=env, cwd=self.warm.project, log=log) as svc:
            ready = svc.wait_ready(port, timeout=READY_TIMEOUT)
            health = _health(port)
            if health.get("status") != "healthy":
                raise BenchError(f"{who}: /health says {health} (expected healthy)")
            if who in self.rss:
                own = []
                for _ in range(3):  # a few samples while the backend serves
                    own.append(procs.tree_rss(svc.pid)[0])
                    time.sleep(0.1)
                self.rss[who].append(max(own) / MIB)
            asked = time.perf_counter()
            code = svc.stop(signal.SIGINT, timeout=30)
            self.stop[who].append(time.perf_counter() - asked)
        log.unlink(missing_ok=True)
        if code is None:
            raise BenchError(f"{who} did not exit within 30 s of SIGINT")
        return ready


def _health(port: int) -> dict[str, object]:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as response:
        return json.loads(response.read())


@benchmark("up", "2. Warm `up` to ready", order=20)
def up_ready(ctx: Context) -> list[Figure]:
    warm = warm_project(ctx)
    starts = Starts(ctx, warm)
    samples = ctx.interleave({who: (lambda w=who: starts.run(w)) for who in starts.stop})
    kept = len(samples["robo-backend"])
    for side in (starts.rss, starts.stop):
        for who in side:
            side[who] = side[who][-kept:]  # drop the warm-up round's
    return [
        Figure(
            name="up.ready",
            label="warm start to /health 200",
            unit="s",
            ours=samples["robo-backend"],
            yardsticks={UVICORN: samples[UVICORN], UV_RUN: samples[UV_RUN]},
            baseline=UVICORN,
            target=Target("ratio", "<=", 1.3, "≤ 1.3× uvicorn direct"),
            note="spawn to the first 200 from /health (polled every 20 ms); the backend loads "
            "its model and embeds 12 passages before it answers, for every contender",
        ),
        Figure(
            name="up.launcher_rss",
            label="launcher RSS while the backend runs",
            unit="MiB",
            ours=starts.rss["robo-backend"],
            yardsticks={UV_RUN: starts.rss[UV_RUN]},
            target=Target("value", "<=", 80.0, "≤ 80 MiB"),
            note="the supervising process only (the backend excluded); uv run's own process "
            "is the other supervisor",
        ),
        Figure(
            name="up.stop",
            label="SIGINT to exit (whole tree)",
            unit="s",
            ours=starts.stop["robo-backend"],
            yardsticks={UVICORN: starts.stop[UVICORN], UV_RUN: starts.stop[UV_RUN]},
            baseline=UVICORN,
            note="GUIDE promise: the tree is gone within 10 s",
        ),
    ]
