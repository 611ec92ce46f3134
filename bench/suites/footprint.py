"""7. Warm cache check (time and requests) and `doctor` without a network.

Warm check: `launcher.models.prefetch.prefetch()` on a cache holding a valid, real-sized model,
timed around the call in a fresh interpreter (lazy imports it triggers included), with the hub
in-process so its request log can prove the check sent nothing. The yardstick is the cheapest
"is it cached" a stock tool has: `huggingface_hub.snapshot_download(local_files_only=True)`,
timed the same way (it only stats files; it cannot tell a corrupt model from a good one).
The wall time of the whole `robo-backend prefetch` command on that warm cache is kept too.

doctor: `robo-backend doctor` on the warm project with the hub (a) refusing connections and
(b) silent (accepts, never answers: what a dead network or a captive portal looks like),
against `robo-backend --version`, the floor of any command of ours.
"""

from __future__ import annotations

import json
import shutil
import socket
from typing import Any

from bench import procs
from bench.harness import BenchError, Context, Figure, Target, benchmark
from bench.hub import BGE_REPO, big_model_files, hub_env, in_process_hub
from bench.workspace import warm_project

OURS_CODE = """
import json, sys, time
from pathlib import Path
from launcher.models.prefetch import PrefetchOptions, prefetch
start = time.perf_counter()
options = PrefetchOptions(cache=Path(sys.argv[1]), endpoint=sys.argv[2], retries=1, retry_delay=0)
result = prefetch(options, status_file=Path(sys.argv[3]))
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "state": result.state, "source": result.source}))
"""
HF_CODE = """
import json, sys, time
import huggingface_hub
start = time.perf_counter()
path = huggingface_hub.snapshot_download(sys.argv[1], cache_dir=sys.argv[2], local_files_only=True)
print(json.dumps({"seconds": time.perf_counter() - start, "path": path}))
"""
SNAPSHOT = "snapshot_download(local_files_only)"
VERSION = "robo-backend --version"


def _last_json(output: str) -> dict[str, Any]:
    for line in reversed(output.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise BenchError(f"no JSON in the output:\n{output[-2000:]}")


@benchmark("warm-check", "7a. Warm cache check", order=70)
def warm_check(ctx: Context) -> list[Figure]:
    padding = 15_000_000 if ctx.quick else 60_000_000
    hub: Any = in_process_hub(ctx, padding)
    size = sum(len(b) for b in big_model_files(ctx, padding).values())
    root = ctx.scratch("warm-check")
    cache, project = root / "cache", root / "project"
    project.mkdir()
    env = hub_env(hub.url)
    robo = ctx.tool("robo-backend")
    prefetch_argv = [robo, "prefetch", "-p", str(project), "--cache-dir", str(cache), "--json"]
    procs.run(prefetch_argv, env=env, cwd=project, timeout=300)  # the cold fill, untimed
    # snapshot_download needs the hub's own layout in its cache: fill a second one (untimed).
    hf_cache = root / "hf-cache"
    procs.run(
        [str(ctx.python), "-c", HF_CODE.replace(", local_files_only=True", ""), BGE_REPO,
         str(hf_cache)],
        env=env, timeout=300,
    )  # fmt: skip
    status = project / ".robo-backend" / "status.json"
    requests: list[float] = []

    def ours() -> float:
        hub.reset_log()
        done = procs.run(
            [str(ctx.python), "-c", OURS_CODE, str(cache), hub.url, str(status)],
            env=env,
            cwd=project,
            timeout=60,
        )
        report = _last_json(done.output)
        if report["state"] != "ready" or report["source"] != "cache":
            raise BenchError(f"the warm check did not answer from the cache: {report}")
        requests.append(float(len(hub.requests)))
        return float(report["seconds"])

    def yardstick() -> float:
        done = procs.run(
            [str(ctx.python), "-c", HF_CODE, BGE_REPO, str(hf_cache)], env=env, timeout=60
        )
        return float(_last_json(done.output)["seconds"])

    def command() -> float:
        hub.reset_log()
        seconds = procs.timed(prefetch_argv, env=env, cwd=project, timeout=60)
        requests.append(float(len(hub.requests)))
        return seconds

    samples = ctx.interleave(
        {"robo-backend": ours, SNAPSHOT: yardstick, "command": command}, repeats=ctx.repeats * 2
    )
    versions = ctx.interleave(
        {VERSION: lambda: procs.timed([robo, "--version"], env=env, timeout=60)}, warmup=0
    )
    kept = len(samples["robo-backend"]) * 2
    shutil.rmtree(root, ignore_errors=True)
    label = f"{size / 1e6:.0f} MB model"
    return [
        Figure(
            name="warm.check",
            label=f"warm cache check ({label}), in-process call",
            unit="s",
            ours=samples["robo-backend"],
            yardsticks={SNAPSHOT: samples[SNAPSHOT]},
            target=Target("value", "<=", 0.1, "≤ 100 ms"),
            note="prefetch() on a valid cache, first call in a fresh interpreter; the "
            "yardstick only checks that files exist",
        ),
        Figure(
            name="warm.requests",
            label="hub requests during warm checks",
            unit="requests",
            ours=requests[-kept:],
            yardsticks={},
            target=Target("value", "<=", 0, "0 requests"),
            note="the in-process hub's request log, emptied before each run (call and command)",
        ),
        Figure(
            name="warm.command",
            label=f"`robo-backend prefetch` on the warm cache ({label})",
            unit="s",
            ours=samples["command"],
            yardsticks={VERSION: versions[VERSION]},
            note="the whole command: CLI start-up, settings, the check, the status file",
        ),
    ]


class Blackhole:
    """A loopback port that accepts connections (the kernel's backlog) and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self.sock.close()


def _refused_url() -> str:
    with socket.socket() as sock:  # bound, never listening: connects are refused
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@benchmark("doctor", "7b. `doctor` without a network", order=75)
def doctor(ctx: Context) -> list[Figure]:
    warm = warm_project(ctx)
    robo = ctx.tool("robo-backend")
    hole = Blackhole()
    ctx.stack.callback(hole.close)
    refused_env = {**warm.env, "HF_ENDPOINT": _refused_url()}
    silent_env = {**warm.env, "HF_ENDPOINT": hole.url}
    argv = [robo, "doctor", "-p", str(warm.project), "--cache-dir", str(warm.cache), "--json"]
    findings: dict[str, str] = {}

    def run(name: str, env: dict[str, str]) -> float:
        done = procs.run(argv, env=env, cwd=warm.project, timeout=60, check=False)
        if done.returncode not in (0, 1):
            raise BenchError(f"doctor exited {done.returncode}:\n{done.tail()}")
        hub_line = next((ln for ln in done.output.splitlines() if "hub" in ln.lower()), "")
        findings[name] = hub_line.strip()[:160]
        return done.seconds

    samples = ctx.interleave(
        {
            "refused": lambda: run("refused", refused_env),
            "silent": lambda: run("silent", silent_env),
            VERSION: lambda: procs.timed([robo, "--version"], env=warm.env, timeout=60),
        }
    )
    target = Target("value", "<", 2.0, "< 2 s")
    return [
        Figure(
            name="doctor.refused",
            label="`doctor`, hub refusing connections",
            unit="s",
            ours=samples["refused"],
            yardsticks={VERSION: samples[VERSION]},
            target=target,
            details={"hub_finding": findings.get("refused", "")},
        ),
        Figure(
            name="doctor.silent",
            label="`doctor`, hub silent (no answer)",
            unit="s",
            ours=samples["silent"],
            yardsticks={VERSION: samples[VERSION]},
            target=target,
            note="the hub probe's own budget is 1.5 s",
            details={"hub_finding": findings.get("silent", "")},
        ),
    ]
