"""A prefetch killed with SIGKILL at random points, ten times: the next run resumes each time
(HTTP Range from the partial's size), nothing unverified is ever promoted, and the last run
ends with a model fastembed loads."""

from __future__ import annotations

import hashlib
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from launcher.models.condition import inspect_model
from tests.fakehub.fixtures import BGE_FILE, BGE_MODEL, BGE_REPO
from tests.fakehub.server import FakeHub
from tests.helpers.cli import CliRunner, launcher_argv
from tests.models.conftest import (
    REPO_ROOT,
    fastembed_embeds,
    hub_requests,
    subprocess_env,
)

pytestmark = pytest.mark.e2e

KILLS = 10
RATE = 2_500_000  # bytes/s: a multi-MB model takes ~2 s, so there is room to kill it


def _onnx_gets(hub: FakeHub) -> list:
    return hub_requests(hub, lambda r: r.method == "GET" and r.path.endswith(BGE_FILE), at_least=1)


@pytest.mark.timeout(180)
def test_sigkill_ten_times_then_resume(
    fake_hub: FakeHub, big_model_files: dict[str, bytes], tmp_path: Path, run_cli: CliRunner
) -> None:
    fake_hub.add_repo(BGE_REPO, big_model_files)
    fake_hub.throttle(RATE)
    data = big_model_files[BGE_FILE]
    size = len(data)
    etag = hashlib.sha256(data).hexdigest()
    cache = tmp_path / "cache"
    blobs = cache / "models--Qdrant--bge-small-en-v1.5-onnx-Q" / "blobs"
    partial, blob = blobs / f"{etag}.incomplete", blobs / etag
    project = tmp_path / "project"
    project.mkdir()
    argv = launcher_argv("prefetch", "-p", str(project), "--cache-dir", str(cache))
    argv += ["--fallback-model", "", "--retry-delay", "0.05"]
    env = subprocess_env(tmp_path, fake_hub.url)
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    sent = 0
    before = 0

    for kill in range(KILLS):
        fake_hub.reset_log()
        target = before + int((size - before) * rng.uniform(0.05, 0.25))
        proc = subprocess.Popen(
            argv, env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 30
            while not partial.exists() or partial.stat().st_size < target:
                assert proc.poll() is None, f"run {kill} ended before its kill (seed {seed})"
                assert time.monotonic() < deadline, f"run {kill} made no progress (seed {seed})"
                time.sleep(0.005)
            proc.send_signal(signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL

        after = partial.stat().st_size
        assert before <= after < size, f"run {kill} restarted or finished (seed {seed})"
        assert not blob.exists()  # nothing unverified was promoted
        assert inspect_model(cache, BGE_MODEL).state == "partial"
        gets = _onnx_gets(fake_hub)
        expected_range = f"bytes={before}-" if before else None
        assert [g.range for g in gets] == [expected_range], f"run {kill} (seed {seed})"
        sent += sum(g.bytes_sent for g in gets)
        before = after

    fake_hub.reset_log()
    final = run_cli(*argv[3:], env={"HF_ENDPOINT": fake_hub.url}, timeout=60)

    assert final.returncode == 0, final.stderr
    gets = _onnx_gets(fake_hub)
    assert [g.range for g in gets] == [f"bytes={before}-"] and gets[0].status == 206
    sent += sum(g.bytes_sent for g in gets)
    # Resuming costs only what was in flight at each kill; restarting would cost ~KILLS/2 files.
    assert sent < size * 1.5, (sent, size, seed)
    assert inspect_model(cache, BGE_MODEL, deep=True).ok
    assert not partial.exists()
    assert len(fastembed_embeds(cache, BGE_MODEL, tmp_path)) == 4
