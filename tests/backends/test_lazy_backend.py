"""The real `up` and `doctor` on an unchanged backend that loads its model lazily (qdrant-client's
fastembed integration, on the first search) with fastembed 0.7.3, which asks the hub before its
cache: with the loopback hub answering it comes up and searches; with the hub refusing, `up`
says why before the start, the backend still answers its health route ("ready"), and the model
check beside it warns that the model cannot be loaded; `doctor` fails model-load with the fix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends.shapes import lazy_qdrant_backend
from tests.fakehub.fixtures import serve_standard_models
from tests.fakehub.server import FakeHub
from tests.fakehub.standard import shipped_models
from tests.helpers.up_run import UpRun, free_port, http_json, launcher_env

pytestmark = pytest.mark.e2e

COLD = 600.0
WARM = 120.0
# Read at import, before the isolation fixture points HOME into tmp: uv's real cache is shared.
UV_CACHE = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")
PRE_START = "fastembed 0.7.3 in the backend's venv cannot load BAAI/bge-small-en-v1.5"
AFTER_READY = "the backend is up, but its fastembed 0.7.3 cannot load BAAI/bge-small-en-v1.5"
LOADS = "model check: BAAI/bge-small-en-v1.5 loads with the backend's fastembed 0.7.3"


@pytest.fixture(scope="module")
def hub() -> Iterator[FakeHub]:
    with FakeHub() as fake:
        serve_standard_models(fake, shipped_models())
        yield fake


def start(project: Path, hub: FakeHub, logs: Path) -> UpRun:
    env = launcher_env(hub.url, str(logs), UV_CACHE_DIR=UV_CACHE)
    return UpRun(["up", "-p", str(project), "--port", str(free_port())], env)


def stop(run: UpRun) -> None:
    code, survivors = run.interrupt()
    assert code == 130, run.output
    assert survivors == [], f"survivors: {survivors}"


def index_of(run: UpRun, text: str) -> int:
    return next(i for i, line in enumerate(run.lines) if text in line)


def test_a_lazy_backend_is_never_silently_ready_with_a_model_it_cannot_open(
    hub: FakeHub, tmp_path: Path
) -> None:
    project = lazy_qdrant_backend(tmp_path / "lazy")
    logs = tmp_path / "logs"
    run = start(project, hub, logs)
    try:
        url = run.ready_url(COLD)
        run.wait_for(LOADS, WARM)  # with the hub answering, 0.7.3 loads the cached model
        status, found = http_json(url + "/search?q=how%20does%20a%20humanoid%20keep%20balance")
        assert status == 200 and "balance" in found["top"], found
        assert PRE_START not in run.output
        stop(run)
    finally:
        run.kill()
    assert (project / ".robo-backend" / "model-load.json").is_file()

    hub.refuse_all()
    warm = start(project, hub, logs)
    try:
        warm.ready_url(WARM)
        warm.wait_for(AFTER_READY, WARM)
        before, ready = index_of(warm, PRE_START), index_of(warm, "Backend ready at")
        assert before < ready < index_of(warm, AFTER_READY), warm.output
        assert '"fastembed>=0.7.4"' in warm.output
        stop(warm)
    finally:
        warm.kill()

    done = subprocess.run(
        [sys.executable, "-m", "launcher", "doctor", "-p", str(project), "--json"],
        env=launcher_env(hub.url, str(logs)),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    hub.clear_faults()
    assert done.returncode == 1, done.stderr
    checks = {c["id"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["model-load"]["status"] == "fail", checks["model-load"]
    assert "cannot load BAAI/bge-small-en-v1.5" in checks["model-load"]["summary"]
    assert '"fastembed>=0.7.4"' in checks["model-load"]["hint"]
