"""9. Warm `up` of a real-shaped backend (the seed layout on fastembed 0.7.4), against the same
uvicorn started by hand.

The backend is written the way its users write it (tests/backends/shapes.py): `src.main:app`,
bge loaded at import by the name in its settings, no robo-backend contract. One untimed cold
`up` builds its venv (packages from uv's cache, offline) and prefetches the model in the layout
its fastembed opens (`models--qdrant--…-onnx-q`), asking that fastembed once; every timed `up`
is warm, so it must read the remembered answer and start no probe. The yardstick runs the same
server command with the environment `up` gives the backend, polled the same way.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

from bench import procs
from bench.harness import BenchError, Context, Figure, Target, benchmark
from bench.hub import hub_env, hub_process
from bench.workspace import COLD_TIMEOUT, offline_install_env
from launcher.faststart import fast_start

OURS, BY_HAND = "robo-backend", "uvicorn direct"
READY_TIMEOUT = 120.0


class Seed:
    def __init__(self, ctx: Context) -> None:
        from tests.backends.shapes import seed_backend

        self.ctx = ctx
        root = ctx.scratch("seed")
        self.project = seed_backend(root / "textbook rag" / "backend")
        self.cache = root / "models"
        self.env = offline_install_env(hub_env(hub_process(ctx).url))
        self.count = 0
        # One port for every start, as a user runs the same `up` again (which lets a warm `up`
        # start the backend early, launcher/up/early.py); each run ends before the next.
        self.port = procs.free_port()

    def up_argv(self, port: int) -> list[str]:
        return [
            self.ctx.tool("robo-backend"), "up", "-p", str(self.project), "--port", str(port),
            "--cache-dir", str(self.cache),
        ]  # fmt: skip

    def by_hand_argv(self, port: int) -> list[str]:
        python = self.project / ".venv" / "bin" / "python"
        return [str(python), "-m", "uvicorn", "src.main:app", "--host", "127.0.0.1",
                "--port", str(port)]  # fmt: skip

    def by_hand_env(self) -> dict[str, str]:
        from launcher.up.contract import backend_env

        venv = self.project / ".venv"
        base = dict(self.env, VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}:{self.env['PATH']}")
        status = self.project / ".robo-backend" / "status.json"
        return backend_env(
            base, cache_dir=self.cache, model="BAAI/bge-small-en-v1.5", status_file=status
        )

    def start(self, who: str, timeout: float = READY_TIMEOUT) -> float:
        port = self.port
        self.count += 1
        log = self.project.parent / f"start-{self.count}.log"
        argv, env = (
            (self.up_argv(port), self.env)
            if who == OURS
            else (self.by_hand_argv(port), self.by_hand_env())
        )
        with procs.Service(argv, env=env, cwd=self.project, log=log) as svc:
            ready = svc.wait_ready(port, timeout=timeout)
            if who == OURS:  # untimed: let it finish its start, as a user's does
                svc.wait_for_text("Backend ready at")
            code = svc.stop(signal.SIGINT, timeout=30)
        if code is None:
            raise BenchError(f"{who} did not exit within 30 s of SIGINT")
        log.unlink(missing_ok=True)
        return float(ready)

    def answer_mtime(self) -> int:
        answer: Path = self.project / ".robo-backend" / "fastembed-probe.json"
        if not answer.is_file():
            raise BenchError("the cold `up` did not remember the fastembed answer")
        if json.loads(answer.read_text())["answer"]["fastembed"] != "0.7.4":
            raise BenchError(f"unexpected fastembed answer in {answer}")
        return answer.stat().st_mtime_ns


@benchmark(
    "adoption", "9. Warm `up` of a real-shaped backend (seed layout, fastembed 0.7.4)", order=90
)
def seed_warm_up(ctx: Context) -> list[Figure]:
    seed = Seed(ctx)
    ctx.log("   cold `up` of the seed backend (venv, deps from uv's cache, probe, model)")
    seed.start(OURS, timeout=COLD_TIMEOUT)
    probed = seed.answer_mtime()
    samples = ctx.interleave({OURS: lambda: seed.start(OURS), BY_HAND: lambda: seed.start(BY_HAND)})
    if fast_start(seed.env) and seed.answer_mtime() != probed:  # off, a warm `up` asks again
        raise BenchError("a warm `up` asked fastembed again (the answer file was rewritten)")
    asked, read, remembered = _probe_costs(ctx, seed)
    return [
        Figure(
            name="adoption.fastembed_answer",
            label="how the venv's fastembed names the model: remembered vs read vs asked",
            unit="s",
            ours=remembered,
            yardsticks={"read from its source (cold)": read, "asked (one process)": asked},
            note="`describe_models` as `up` calls it in its model step; remembered = what every "
            "warm start pays (one JSON read); read = after fastembed changed (its source files "
            "parsed, no process); asked = the fallback when the source cannot be read (the "
            "venv's python imports fastembed; page cache warm, a brand-new venv pays ~3 s)",
        ),
        Figure(
            name="adoption.seed_ready",
            label="warm start to the first health answer, seed backend",
            unit="s",
            ours=samples[OURS],
            yardsticks={BY_HAND: samples[BY_HAND]},
            baseline=BY_HAND,
            target=Target("ratio", "<=", 1.1, "≤ 1.1× uvicorn direct"),
            note="spawn to /health 200; the backend loads bge at import; the warm `up` reads "
            "the remembered fastembed answer (checked: the answer file is not rewritten)",
        ),
    ]


def _probe_costs(ctx: Context, seed: Seed) -> tuple[list[float], list[float], list[float]]:
    """Seconds for the fastembed answer: asked (the venv's python imports fastembed), read from
    its source (answer file removed), remembered (what every warm start pays)."""
    import time

    from launcher.fastembed.probe import ANSWER_FILE, ask_fastembed, describe_models

    state = seed.project / ".robo-backend"
    venv = seed.project / ".venv"
    python = venv / "bin" / "python"
    names = ["BAAI/bge-small-en-v1.5", "sentence-transformers/all-MiniLM-L6-v2"]

    def once(fresh: bool) -> float:
        if fresh:
            (state / ANSWER_FILE).unlink(missing_ok=True)
        started = time.perf_counter()
        specs = describe_models(
            venv, python, names, cache=seed.cache, state_dir=state, env=seed.env
        )
        took = time.perf_counter() - started
        if specs["baai/bge-small-en-v1.5"].repo != "qdrant/bge-small-en-v1.5-onnx-q":
            raise BenchError(f"unexpected answer: {specs}")
        return took

    def asked() -> float:
        started = time.perf_counter()
        answer = ask_fastembed(venv, python, names, cache=seed.cache, env=seed.env)
        took = time.perf_counter() - started
        described = answer.describe(names[0]) if answer is not None else None
        if described is None or described.repo != "qdrant/bge-small-en-v1.5-onnx-q":
            raise BenchError(f"unexpected answer: {answer}")
        return took

    from loguru import logger

    logger.disable("launcher")  # the probe's debug lines would flood the bench's progress
    try:
        asking = [asked() for _ in range(3)]
        read = [once(True) for _ in range(max(ctx.repeats, 5))]
        remembered = [once(False) for _ in range(max(ctx.repeats, 5))]
    finally:
        logger.enable("launcher")
    return asking, read, remembered
