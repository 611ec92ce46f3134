"""7. Warm cache check (time and requests) and `doctor` without a network.

Warm check: `launcher.models.fetch.prefetch()` on a cache holding a valid, real-sized model,
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
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

from bench import procs
from bench.harness import BenchError, Context, Figure, Target, benchmark
from bench.hub import BGE_MODEL, BGE_REPO, big_model_files, hub_env, in_process_hub
from bench.workspace import warm_project

OURS_CODE = """
import json, sys, time
from pathlib import Path
from launcher.models.fetch import PrefetchOptions, prefetch
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
FASTEMBED_CODE = """
import sys
from fastembed import TextEmbedding
TextEmbedding(sys.argv[1], cache_dir=sys.argv[2])
"""
SNAPSHOT = "snapshot_download(local_files_only)"
FASTEMBED = "fastembed warm start"
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
    # A stock cache for the yardsticks, filled by plain fastembed (untimed).
    hf_cache = root / "hf-cache"
    fastembed_argv = [str(ctx.python), "-c", FASTEMBED_CODE, BGE_MODEL, str(hf_cache)]
    procs.run(fastembed_argv, env=env, timeout=300)
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

    def fastembed_warm() -> float:
        """Plain fastembed on its warm cache: how many requests it still sends the hub."""
        hub.reset_log()
        procs.run(fastembed_argv, env=env, timeout=120)
        return float(len(hub.requests))

    samples = ctx.interleave(
        {"robo-backend": ours, SNAPSHOT: yardstick, "command": command}, repeats=ctx.repeats * 2
    )
    stock_requests = ctx.interleave({FASTEMBED: fastembed_warm}, warmup=0)[FASTEMBED]
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
            note="prefetch() on a valid cache, first call in a fresh interpreter (lazy imports "
            "included); the yardstick only checks that files exist, and most of its time is "
            "the huggingface_hub submodules the call imports",
        ),
        Figure(
            name="warm.requests",
            label="hub requests during warm checks",
            unit="requests",
            ours=requests[-kept:],
            yardsticks={FASTEMBED: stock_requests},
            target=Target("value", "<=", 0, "0 requests"),
            note="the in-process hub's request log, emptied before each run (ours: the call and "
            "the command); fastembed: `TextEmbedding(...)` on its own warm cache",
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
    # A free port for its port check: another program on 8000 would add a process scan.
    base = {**warm.env, "ROBO_BACKEND_PORT": str(procs.free_port())}
    refused_env = {**base, "HF_ENDPOINT": _refused_url()}
    silent_env = {**base, "HF_ENDPOINT": hole.url}
    argv = [robo, "doctor", "-p", str(warm.project), "--cache-dir", str(warm.cache)]
    findings: dict[str, str] = {}

    def run(name: str, env: dict[str, str]) -> float:
        done = procs.run(argv, env=env, cwd=warm.project, timeout=60, check=False)
        if done.returncode not in (0, 1):
            raise BenchError(f"doctor exited {done.returncode}:\n{done.tail()}")
        hub_line = next((ln for ln in done.output.splitlines() if " hub http" in ln), "")
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


# ---------------------------------------------------------------------------------------------
# 7c. The launcher's installed size


MIB = 1024 * 1024


def _du(path: Path) -> int:
    """Bytes on disk under `path` (what `du` reports: allocated blocks, links counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                info = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            total += info.st_blocks * 512
    return total


@benchmark("size", "7c. Installed size", order=77)
def installed_size(ctx: Context) -> list[Figure]:
    """`pip install <repo>` into a fresh venv (runtime dependencies only, uv included), the
    venv measured like `du` before and after; the difference is what the launcher adds."""
    from bench.harness import REPO_ROOT

    root = ctx.scratch("size")
    venv = root / "venv"
    base = getattr(sys, "_base_executable", None) or sys.executable
    procs.run([base, "-m", "venv", str(venv)], timeout=300)
    before = _du(venv)
    pip = venv / "bin" / "pip"
    procs.run(
        [str(pip), "install", "--quiet", "--disable-pip-version-check", str(REPO_ROOT)], timeout=900
    )
    after = _du(venv)
    uv_path = venv / "bin" / "uv"
    uv_binary = uv_path.stat().st_blocks * 512 if uv_path.exists() else 0
    shutil.rmtree(root, ignore_errors=True)
    added = (after - before) / MIB
    return [
        Figure(
            name="size.installed",
            label="installed size of the launcher (runtime dependencies, uv included)",
            unit="MiB",
            ours=[added],
            target=Target("value", "<=", 80, "≤ 80 MiB"),
            note=f"fresh venv {before / MIB:.0f} MiB before, {after / MIB:.0f} MiB after "
            f"`pip install .`; uv's binary alone {uv_binary / MIB:.0f} MiB",
            details={
                "before_mib": before / MIB,
                "after_mib": after / MIB,
                "uv_mib": uv_binary / MIB,
            },
        )
    ]
