"""A fallback, then a return to bge, by the real `up` on the example backend: each switch is a
warning line, `model.changed_from` in /health, a doctor warning; allow_model_switch = false
refuses the switch (exit 1, the backend never starts)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakehub.fixtures import (
    BGE_MODEL,
    BGE_REPO,
    MINILM_MODEL,
    build_standard_models,
    serve_standard_models,
)
from tests.fakehub.server import FakeHub
from tests.helpers.cli import CLI
from tests.helpers.up_run import UpRun, free_port, http_json, launcher_env

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "textbook-backend"
UV_CACHE = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")
COLD, WARM = 600.0, 120.0


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeHub]:
    models = build_standard_models(tmp_path_factory.mktemp("switch-models"))
    with FakeHub() as fake:
        serve_standard_models(fake, models)
        yield fake


def serve_once(
    project: Path, env: dict[str, str], cache: Path, timeout: float
) -> tuple[str, dict[str, Any]]:
    """`up` to healthy, then Ctrl-C (exit 130, no survivor): its output and the /health body."""
    run = UpRun(
        ["up", "-p", str(project), "--port", str(free_port()), "--cache-dir", str(cache)], env
    )
    try:
        url = run.ready_url(timeout)
        status, health = http_json(url + "/health")
        assert status == 200, health
        code, survivors = run.interrupt()
        assert code == 130 and survivors == [], run.output
    finally:
        run.kill()
    return run.output, health


def test_fallback_then_back_to_bge_is_loud_and_can_be_refused(hub: FakeHub, tmp_path: Path) -> None:
    project = tmp_path / "textbook backend"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".venv*", ".robo-backend"))
    env = launcher_env(hub.url, str(tmp_path / "logs"), UV_CACHE_DIR=UV_CACHE)
    with_bge, without_bge = tmp_path / "cache-a", tmp_path / "cache-b"

    _, health = serve_once(project, env, with_bge, COLD)
    assert health["model"]["resolved"] == BGE_MODEL
    assert health["model"]["changed_from"] is None

    hub.not_found(BGE_REPO)
    try:
        output, health = serve_once(project, env, without_bge, WARM)
    finally:
        hub.clear_faults()
    model = health["model"]
    assert (model["resolved"], model["changed_from"]) == (MINILM_MODEL, BGE_MODEL)
    assert f"the last run used {BGE_MODEL}, this one uses {MINILM_MODEL}" in output

    doctor = CLI("doctor", "-p", str(project), "--json", base=env)
    checks = {c["id"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["model-switch"]["status"] == "warn"
    assert f"from {BGE_MODEL} to {MINILM_MODEL}" in checks["model-switch"]["summary"]

    output, health = serve_once(project, env, with_bge, WARM)
    model = health["model"]
    assert (model["resolved"], model["changed_from"]) == (BGE_MODEL, MINILM_MODEL)
    assert f"the last run used {MINILM_MODEL}, this one uses {BGE_MODEL}" in output

    hub.not_found(BGE_REPO)
    try:
        refused = CLI(
            "up", "-p", str(project), "--port", "0", "--cache-dir", str(without_bge),
            base=env, env={"ROBO_BACKEND_ALLOW_MODEL_SWITCH": "false"}, timeout=WARM,
        )  # fmt: skip
    finally:
        hub.clear_faults()
    assert refused.returncode == 1, refused.stderr
    assert "would switch the embedding model from BAAI/bge-small-en-v1.5" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert "Backend ready" not in refused.stderr + refused.stdout
