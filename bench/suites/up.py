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

import contextlib
import json
import os
import signal
import sys
import time

import psutil

from bench import procs
from bench.harness import BenchError, Context, Figure, Target, benchmark
from bench.workspace import WarmProject, warm_project

WATCHDOG = "launcher/server/watchdog.py"

UVICORN = "uvicorn direct"
UV_RUN = "uv run"
MIB = 1024 * 1024
READY_LINE = "Backend ready at"  # `up` remembers a healthy start then (early start)
READY_TIMEOUT = 120.0


class Starts:
    """Spawn-to-ready samples plus RSS and stop times, per contender."""

    def __init__(self, ctx: Context, warm: WarmProject) -> None:
        self.ctx = ctx
        self.warm = warm
        self.rss: dict[str, list[float]] = {"robo-backend": [], UV_RUN: []}
        self.stop: dict[str, list[float]] = {"robo-backend": [], UVICORN: [], UV_RUN: []}
        self.count = 0
        # One port for every start, as a user runs the same `up` again (which lets a warm `up`
        # start the backend early, launcher/up/early.py); each run ends before the next.
        self.port = procs.free_port()

    def _argv(self, who: str, port: int) -> list[str]:
        server = ["main:app", "--host", "127.0.0.1", "--port", str(port)]
        if who == "robo-backend":
            return self.warm.up_argv(self.ctx, port)
        if who == UVICORN:
            return [str(self.warm.python), "-m", "uvicorn", *server]
        uv = self.ctx.tool("uv")
        return [uv, "run", "--no-project", "--python", str(self.warm.python), "uvicorn", *server]

    def run(self, who: str) -> float:
        port = self.port
        env = self.warm.env if who == "robo-backend" else self.warm.backend_env()
        self.count += 1
        log = self.warm.project.parent / f"start-{self.count}.log"
        with procs.Service(self._argv(who, port), env=env, cwd=self.warm.project, log=log) as svc:
            ready = svc.wait_ready(port, timeout=READY_TIMEOUT)
            if who == "robo-backend":  # untimed: let it finish its start, as a user's does
                svc.wait_for_text(READY_LINE)
            health = _health(port)
            if health.get("status") != "healthy":
                raise BenchError(f"{who}: /health says {health} (expected healthy)")
            if who in self.rss:
                own = []
                for _ in range(3):  # a few samples while the backend serves
                    own.append(_supervisor_rss(svc.pid))
                    time.sleep(0.1)
                self.rss[who].append(max(own) / MIB)
            asked = time.perf_counter()
            code = svc.stop(signal.SIGINT, timeout=30)
            self.stop[who].append(time.perf_counter() - asked)
        log.unlink(missing_ok=True)
        if code is None:
            raise BenchError(f"{who} did not exit within 30 s of SIGINT")
        return ready


def _supervisor_rss(pid: int) -> int:
    """RSS of the supervising process plus, for `up`, its watchdog process (bytes)."""
    total = procs.tree_rss(pid)[0]
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process(pid).children():
            if WATCHDOG in " ".join(child.cmdline()):
                total += child.memory_info().rss
    return total


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
            target=Target("ratio", "<=", 1.1, "≤ 1.1× uvicorn direct"),
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
            note="the supervising processes only (the backend excluded): `up` and its "
            "watchdog (which stops the backend if `up` is killed); uv run's own process is the "
            "other supervisor",
        ),
        Figure(
            name="up.stop",
            label="SIGINT to exit (whole tree)",
            unit="s",
            ours=starts.stop["robo-backend"],
            yardsticks={UVICORN: starts.stop[UVICORN], UV_RUN: starts.stop[UV_RUN]},
            baseline=UVICORN,
            note="promise: the tree is gone within 10 s",
        ),
    ]


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    left = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                left.append(process)
    return left


def _cmdline(process: psutil.Process) -> str:
    """The command line, or `WATCHDOG` for a process already gone or a zombie (a short-lived
    child such as the post-ready model check, exited a moment ago): nothing to wait for."""
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return WATCHDOG


def _orphan_sample(ctx: Context, warm: WarmProject, extra: list[str]) -> float:
    """Seconds from SIGKILL of a ready `up` to the last process of its backend gone."""
    port = procs.free_port()
    log = warm.project.parent / "orphan.log"
    argv = [*warm.up_argv(ctx, port), *extra]
    with procs.Service(argv, env=warm.env, cwd=warm.project, log=log) as svc:
        svc.wait_ready(port, timeout=READY_TIMEOUT)
        time.sleep(1.2)  # the launcher re-reads its tree every second
        children = psutil.Process(svc.pid).children(recursive=True)
        backend = [p for p in children if WATCHDOG not in _cmdline(p)]
        if len(backend) < 1 + bool(extra):
            raise BenchError(f"unexpected tree under `up`: {[p.cmdline() for p in children]}")
        killed = time.perf_counter()
        os.kill(svc.pid, signal.SIGKILL)
        while _alive(backend) and time.perf_counter() - killed < 10:
            time.sleep(0.002)
        gone = time.perf_counter() - killed
        if _alive(backend):
            raise BenchError(f"backend processes outlived the launcher by 10 s: {backend}")
    log.unlink(missing_ok=True)
    return gone


@benchmark("orphans", "2b. kill -9 of `up`: the backend dies with it", order=21)
def orphans(ctx: Context) -> list[Figure]:
    if not sys.platform.startswith("linux"):
        raise BenchError("this figure is measured on Linux")
    warm = warm_project(ctx)
    samples = ctx.interleave(
        {
            "plain": lambda: _orphan_sample(ctx, warm, []),
            "--reload": lambda: _orphan_sample(ctx, warm, ["--reload"]),
        }
    )
    return [
        Figure(
            name="up.orphan_gone",
            label="SIGKILL of `up` to the last backend process gone",
            unit="s",
            ours=samples["plain"],
            target=Target("value", "<=", 1.0, "≤ 1 s (Linux)"),
            note="parent-death signal + watchdog; polled every 2 ms with psutil (a zombie "
            "counts as gone)",
        ),
        Figure(
            name="up.orphan_gone_reload",
            label="the same with --reload (the worker is a grandchild)",
            unit="s",
            ours=samples["--reload"],
            target=Target("value", "<=", 1.0, "≤ 1 s (Linux)"),
            note="the reloader and its worker both gone",
        ),
    ]


API_HEALTH_APP = """\
from fastapi import APIRouter, FastAPI

app = FastAPI()
router = APIRouter(prefix="/api")


@router.get("/health")
def health():
    return {"status": "ok"}


app.include_router(router)
"""


def _startup_to_ready(ctx: Context, warm: WarmProject, extra: list[str]) -> float:
    """Seconds between the backend's "Application startup complete" and `up`'s ready line,
    both timed as they arrive on `up`'s output."""
    import subprocess
    import threading

    port = procs.free_port()
    argv = [*warm.up_argv(ctx, port), *extra]
    seen: dict[str, float] = {}
    process = subprocess.Popen(
        argv,
        env=warm.env,
        cwd=warm.project,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            now = time.perf_counter()
            text = raw.decode("utf-8", "replace")
            lines.append(text)
            for key in ("Application startup complete", "Backend ready at"):
                if key in text:
                    seen.setdefault(key, now)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.perf_counter() + READY_TIMEOUT
        while "Backend ready at" not in seen and time.perf_counter() < deadline:
            if process.poll() is not None:
                break
            time.sleep(0.01)
        if "Backend ready at" not in seen or "Application startup complete" not in seen:
            raise BenchError("no ready line from `up`:\n" + "".join(lines[-20:]))
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    finally:
        procs.kill_tree(process)
        reader.join(timeout=5)
    return seen["Backend ready at"] - seen["Application startup complete"]


@benchmark("health-route", "2c. Ready line when the health route is found", order=22)
def health_route(ctx: Context) -> list[Figure]:
    warm = warm_project(ctx)
    (warm.project / "apihealth.py").write_text(API_HEALTH_APP, encoding="utf-8")
    try:
        samples = ctx.interleave(
            {
                "discovered": lambda: _startup_to_ready(ctx, warm, ["--app", "apihealth:app"]),
                "/health": lambda: _startup_to_ready(ctx, warm, []),
            }
        )
    finally:
        (warm.project / "apihealth.py").unlink(missing_ok=True)
    return [
        Figure(
            name="up.health_discovered",
            label="startup complete to ready line, route found in the OpenAPI",
            unit="s",
            ours=samples["discovered"],
            yardsticks={"route at /health": samples["/health"]},
            target=Target("value", "<=", 1.0, "≤ 1 s"),
            note="a FastAPI app whose only health route is /api/health (router prefix): "
            "/health answers 404, /openapi.json is read, /api/health answers 200; both "
            "lines timed as they arrive on `up`'s output",
        )
    ]
