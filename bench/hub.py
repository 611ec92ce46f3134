"""The loopback hub for the download benchmarks (tests/fakehub/), as a process or in-process.

Throughput runs use the process runner (`python -m tests.fakehub`), so the server has its own
interpreter and GIL and the harness's RSS sampler never slows it; the resume and warm-check
runs use an in-process `FakeHub`, whose fault injection and request log they need.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.harness import REPO_ROOT, BenchError, Context
from bench.procs import kill_tree

BGE_MODEL = "BAAI/bge-small-en-v1.5"
BGE_REPO = "Qdrant/bge-small-en-v1.5-onnx-Q"
BGE_FILE = "model_optimized.onnx"
DEAD_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens, connects are refused
START_TIMEOUT = 120.0  # building a 60 MB padded model takes a few seconds on a busy box


@dataclass(frozen=True)
class RepoFile:
    name: str
    size: int


class HubProcess:
    """`python -m tests.fakehub --serve-standard [--big-bytes N] [--throttle BPS]`."""

    def __init__(self, *, big_bytes: int = 0, throttle: float = 0) -> None:
        argv = [sys.executable, "-m", "tests.fakehub", "--port", "0", "--serve-standard"]
        if big_bytes:
            argv += ["--big-bytes", str(big_bytes)]
        if throttle:
            argv += ["--throttle", str(throttle)]
        self.process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        self.url = self._read_url()

    def _read_url(self) -> str:
        box: list[str] = []
        assert self.process.stdout is not None
        stdout = self.process.stdout
        reader = threading.Thread(target=lambda: box.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=START_TIMEOUT)
        if not box or not box[0].startswith("http://127.0.0.1:"):
            self.stop()
            raise BenchError("the fake hub process did not print its url")
        return box[0].strip()

    def files(self, repo: str = BGE_REPO) -> list[RepoFile]:
        """The repo's files and sizes, from the hub's model-info endpoint."""
        with urllib.request.urlopen(f"{self.url}/api/models/{repo}?blobs=true", timeout=10) as r:
            info = json.loads(r.read())
        return [RepoFile(s["rfilename"], int(s["size"])) for s in info["siblings"]]

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        kill_tree(self.process)
        if self.process.stdout is not None:
            self.process.stdout.close()


def hub_process(ctx: Context, *, big_bytes: int = 0, throttle: float = 0) -> HubProcess:
    """A hub process shared by the benchmarks that ask for the same kind; stopped at the end."""

    def start(context: Context) -> HubProcess:
        context.log(f"starting fake hub (big_bytes={big_bytes}, throttle={throttle})")
        hub = HubProcess(big_bytes=big_bytes, throttle=throttle)
        context.stack.callback(hub.stop)
        return hub

    return ctx.shared(f"hub:{big_bytes}:{throttle}", start)


def hub_env(url: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment for a client of the hub: HF_* pointed at it, nothing inherited that
    would change where caches go or silence/alter the tools."""
    env = dict(base if base is not None else os.environ)
    dropped = ("PYTHONPATH", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT", "VIRTUAL_ENV")
    kept = ("ROBO_BACKEND_FAST_START",)  # measuring with the speed devices off (docs/benchmarks.md)
    for key in list(env):
        prefixes = ("HF_", "ROBO_BACKEND_", "FASTEMBED_", "HUGGINGFACE_")
        if (key.startswith(prefixes) and key not in kept) or key in dropped:
            del env[key]
    env.update(
        {
            "HF_ENDPOINT": url,
            "HF_HUB_DISABLE_TELEMETRY": "1",
            # Only loopback traffic: anything not for 127.0.0.1/localhost goes to a dead
            # loopback proxy and fails at once instead of leaving the machine.
            "HTTP_PROXY": DEAD_PROXY,
            "HTTPS_PROXY": DEAD_PROXY,
            "ALL_PROXY": DEAD_PROXY,
            "http_proxy": DEAD_PROXY,
            "https_proxy": DEAD_PROXY,
            "all_proxy": DEAD_PROXY,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "NO_COLOR": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


def big_model_files(ctx: Context, padding: int) -> dict[str, bytes]:
    """The bge repo's files with `padding` extra bytes in the ONNX file (built once per size)."""

    def build(context: Context) -> dict[str, bytes]:
        from tests.fakehub.builder import build_embedding_model
        from tests.fakehub.fixtures import STANDARD_DIM

        context.log(f"building a {padding / 1e6:.0f} MB bge stand-in")
        return build_embedding_model(
            context.scratch("model-build"),
            model_file=BGE_FILE,
            dim=STANDARD_DIM,
            padding_bytes=padding,
        )

    return ctx.shared(f"big-model:{padding}", build)


def in_process_hub(ctx: Context, padding: int) -> object:
    """A started in-process FakeHub serving the standard models, bge padded by `padding`."""

    def start(context: Context) -> object:
        from tests.fakehub.fixtures import build_standard_models, serve_standard_models
        from tests.fakehub.server import FakeHub

        hub = FakeHub().start()
        context.stack.callback(hub.stop)
        serve_standard_models(hub, build_standard_models(context.scratch("standard-models")))
        if padding:
            hub.add_repo(BGE_REPO, big_model_files(context, padding))
        return hub

    return ctx.shared(f"inproc-hub:{padding}", start)


def dir_bytes(path: Path) -> int:
    """Bytes of regular files under path (symlinks not followed)."""
    total = 0
    for root, _, names in os.walk(path):
        for name in names:
            with contextlib.suppress(OSError):
                full = Path(root) / name
                if not full.is_symlink():
                    total += full.stat().st_size
    return total
