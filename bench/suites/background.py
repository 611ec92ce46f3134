"""6c. Back from degraded by itself: from the hub's return to a backend serving the model.

The warm example project (venv and dependencies there) is started by `up` with an empty model
cache while the loopback hub refuses every connection: `up` starts the backend degraded and
keeps trying in the background. After `dwell` seconds (long enough for the back-off to reach
its longest wait, as when the network comes back "a minute later") the hub listens again;
the figure is the time from that moment to the first `/health` that says the model is loaded
(the backend downloaded, verified, and restarted onto it), polled every 50 ms. No yardstick:
without `up` nothing happens until someone notices.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request

from bench import procs
from bench.harness import BenchError, Context, Figure, Target, benchmark
from bench.workspace import warm_project

RECOVERY_TIMEOUT = 120.0


def _model_loaded(port: int) -> bool | None:
    """What /health says of the model (None: no answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:  # noqa: S310
            return bool(json.loads(answer.read()).get("model_loaded"))
    except (OSError, ValueError, urllib.error.URLError):
        return None


def _hub(ctx: Context) -> object:
    """A hub of its own (in-process, for refuse_all): the other groups' hubs stay up."""
    from tests.fakehub.fixtures import build_standard_models, serve_standard_models
    from tests.fakehub.server import FakeHub

    hub = FakeHub().start()
    ctx.stack.callback(hub.stop)
    serve_standard_models(hub, build_standard_models(ctx.scratch("recovery-models")))
    return hub


@benchmark("recovery", "6c. Back from degraded by itself", order=67)
def recovery(ctx: Context) -> list[Figure]:
    warm = warm_project(ctx)
    hub = _hub(ctx)
    dwell = 5.0 if ctx.quick else 20.0
    env = dict(warm.env, HF_ENDPOINT=hub.url)  # type: ignore[attr-defined]
    tries: list[int] = []

    def once() -> float:
        root = ctx.scratch("recovery")
        port = procs.free_port()
        argv = [ctx.tool("robo-backend"), "up", "-p", str(warm.project), "--port", str(port)]
        argv += ["--cache-dir", str(root / "models")]
        hub.refuse_all()  # type: ignore[attr-defined]
        try:
            with procs.Service(argv, env=env, cwd=root, log=root / "up.log") as service:
                service.wait_ready(port, timeout=300)
                if _model_loaded(port) is not False:
                    raise BenchError("`up` did not start degraded:\n" + service.output())
                time.sleep(dwell)
                hub.clear_faults()  # type: ignore[attr-defined]
                back = time.perf_counter()
                while _model_loaded(port) is not True:
                    if time.perf_counter() - back > RECOVERY_TIMEOUT:
                        raise BenchError("no model after the hub came back:\n" + service.output())
                    if service.process.poll() is not None:
                        raise BenchError("`up` exited:\n" + service.output())
                    time.sleep(0.05)
                seconds = time.perf_counter() - back
                status = json.loads(warm.status_file.read_text(encoding="utf-8"))
                tries.append(int(status["model"]["background"]["tries"]))
                if service.stop() != 130:
                    raise BenchError("`up` did not exit 130 after SIGINT:\n" + service.output())
            return seconds
        finally:
            hub.clear_faults()  # type: ignore[attr-defined]
            shutil.rmtree(root, ignore_errors=True)

    samples = ctx.interleave({"robo-backend": once}, warmup=0)
    return [
        Figure(
            name="recovery.degraded",
            label=f"hub back after {dwell:g} s of refused connections: to /health with the model",
            unit="s",
            ours=samples["robo-backend"],
            target=Target("value", "<=", 30.0, "≤ 30 s after the hub answers again"),
            note="warm venv, empty model cache, default settings; the background tries back off "
            "from 2 s to 10 s; the time includes the download, the stop of the degraded backend "
            "and the start of the new one (model load included)",
            details={"dwell_s": dwell, "background_tries": tries},
        )
    ]
