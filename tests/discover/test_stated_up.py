"""The real `up` of a backend that states its app only in its Dockerfile and names its model
through an import: healthy with that app and that model, then Ctrl-C with no survivor."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends.shapes import dockerfile_package_backend
from tests.fakehub.server import FakeHub
from tests.fakehub.standard import serve_standard_models, shipped_models
from tests.helpers.up_run import UpRun, free_port, http_json, launcher_env

pytestmark = pytest.mark.e2e

COLD = 600.0
# Read at import, before the isolation fixture points HOME into tmp: uv's real cache is shared.
UV_CACHE = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")


@pytest.fixture(scope="module")
def hub() -> Iterator[FakeHub]:
    with FakeHub() as fake:
        serve_standard_models(fake, shipped_models())
        yield fake


def test_package_module_app_from_the_dockerfile_with_its_model_from_config(
    hub: FakeHub, tmp_path: Path
) -> None:
    project = dockerfile_package_backend(tmp_path / "search")
    env = launcher_env(hub.url, str(tmp_path / "logs"), UV_CACHE_DIR=UV_CACHE)
    run = UpRun(["-v", "up", "-p", str(project), "--port", str(free_port())], env)
    try:
        url = run.ready_url(COLD)
        out = run.output
        assert "app pkg.service:app (from Dockerfile CMD)" in out
        assert "model = 'sentence-transformers/all-MiniLM-L6-v2'  (code: config.py:3)" in out
        status, health = http_json(url + "/health")
        assert (status, health) == (
            200,
            {"status": "ok", "model": "sentence-transformers/all-MiniLM-L6-v2", "dim": 384},
        )
        assert http_json(url + "/admin/ping") == (200, "pong")
        document = json.loads((project / ".robo-backend" / "status.json").read_text())
        assert document["model"]["resolved"] == "sentence-transformers/all-MiniLM-L6-v2"
        code, survivors = run.interrupt()
        assert code == 130, run.output
        assert survivors == [], f"survivors: {survivors}"
    finally:
        run.kill()
