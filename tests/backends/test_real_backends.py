"""The real `up`, unchanged backends shaped like public ones, the loopback hub: healthy, then
Ctrl-C (exit 130) with no survivor.

Each backend gets its own venv (built by `up` with uv; uv's cache is shared across tests and
sessions) and the default model cache of the isolated home. One run checks several facts.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends.shapes import (
    hardcoded_cache_backend,
    py312_backend,
    qdrant_backend,
    seed_backend,
)
from tests.fakehub.fixtures import build_standard_models, serve_standard_models
from tests.fakehub.server import FakeHub
from tests.helpers.up_run import UpRun, free_port, http_json, launcher_env

pytestmark = pytest.mark.e2e

COLD = 600.0
WARM = 120.0
# Read at import, before the isolation fixture points HOME into tmp: uv's real cache is shared.
UV_CACHE = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")
PY312 = sorted(glob.glob("/root/.pyenv/versions/3.1[2-9]*/bin/python3.1[2-9]"))


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeHub]:
    models = build_standard_models(tmp_path_factory.mktemp("backends-models"))
    with FakeHub() as fake:
        serve_standard_models(fake, models)
        yield fake


def start(project: Path, hub: FakeHub, logs: Path, *args: str) -> UpRun:
    env = launcher_env(hub.url, str(logs), UV_CACHE_DIR=UV_CACHE)
    return UpRun(["-v", "up", "-p", str(project), "--port", str(free_port()), *args], env)


def status_model(project: Path) -> dict[str, object]:
    document = json.loads((project / ".robo-backend" / "status.json").read_text())
    model = document["model"]
    assert isinstance(model, dict)
    return model


def stop(run: UpRun) -> None:
    code, survivors = run.interrupt()
    assert code == 130, run.output
    assert survivors == [], f"survivors: {survivors}"


def test_seed_layout_on_fastembed_07_cold_then_with_the_hub_refusing(
    hub: FakeHub, tmp_path: Path
) -> None:
    project = seed_backend(tmp_path / "seed" / "backend", "fastembed==0.7.4")
    run = start(project, hub, tmp_path / "logs")
    try:
        url = run.ready_url(COLD)
        out = run.output
        assert "app src.main:app" in out
        assert "model = 'BAAI/bge-small-en-v1.5'  (code: src/config.py:10)" in out
        status, health = http_json(url + "/health")
        assert status == 200, health
        assert health == {"status": "healthy", "model": "BAAI/bge-small-en-v1.5", "dim": 384}
        cache = Path(str(status_model(project)["cache_dir"]))
        assert (cache / "models--qdrant--bge-small-en-v1.5-onnx-q").is_dir()
        stop(run)
    finally:
        run.kill()
    answer = project / ".robo-backend" / "fastembed-probe.json"
    assert json.loads(answer.read_text())["answer"]["fastembed"] == "0.7.4"
    probed_at = answer.stat().st_mtime_ns

    hub.refuse_all()
    hub.reset_log()
    warm = start(project, hub, tmp_path / "logs")
    try:
        url = warm.ready_url(WARM)
        assert http_json(url + "/health")[0] == 200
        assert "Downloading" not in warm.output
        stop(warm)
    finally:
        warm.kill()
        hub.clear_faults()
    assert hub.requests == []
    assert answer.stat().st_mtime_ns == probed_at, "a warm start must not probe fastembed again"


def test_qdrant_client_fastembed_integration(hub: FakeHub, tmp_path: Path) -> None:
    project = qdrant_backend(tmp_path / "qdrant")
    run = start(project, hub, tmp_path / "logs")
    try:
        url = run.ready_url(COLD)
        assert "model = 'BAAI/bge-small-en-v1.5'  (code: main.py:5)" in run.output
        assert http_json(url + "/health") == (200, {"status": "ok", "points": 2})
        status, found = http_json(url + "/search?q=how%20does%20a%20humanoid%20keep%20balance")
        assert status == 200 and "balance" in found["top"]
        stop(run)
    finally:
        run.kill()


def test_hard_coded_cache_dir_is_where_the_model_goes(hub: FakeHub, tmp_path: Path) -> None:
    project = hardcoded_cache_backend(tmp_path / "hardcoded")
    run = start(project, hub, tmp_path / "logs")
    try:
        url = run.ready_url(COLD)
        cache = project / "cache" / "models"
        assert f"cache_dir = '{cache}'  (code: app.py:4)" in run.output
        assert http_json(url + "/health") == (200, {"status": "ok", "dim": 384})
        assert (cache / "models--Qdrant--bge-small-en-v1.5-onnx-Q").is_dir()
        assert status_model(project)["cache_dir"] == str(cache)
        stop(run)
    finally:
        run.kill()


@pytest.mark.skipif(not PY312, reason="no Python 3.12+ interpreter here (looked in ~/.pyenv)")
def test_backend_on_python_312_syntax(
    hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No flag: requires-python >=3.12 picks the interpreter (pyenv's, as its users have it),
    and that interpreter reads the code the launcher's own Python cannot parse."""
    monkeypatch.setenv("PYENV_ROOT", str(Path(PY312[-1]).parents[3]))
    project = py312_backend(tmp_path / "modern")
    run = start(project, hub, tmp_path / "logs")
    try:
        url = run.ready_url(COLD)
        out = run.output
        assert "app main:app" in out
        cache = project / "models-312"
        assert f"cache_dir = '{cache}'  (code: main.py:9)" in out
        assert http_json(url + "/health") == (200, {"status": "ok", "mean": 2.0})
        assert (cache / "models--Qdrant--bge-small-en-v1.5-onnx-Q").is_dir()
        stop(run)
    finally:
        run.kill()
