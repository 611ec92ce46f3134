"""The example backend, run for real: uvicorn + FastAPI + fastembed on a model from the cache.

The cache is filled the way the launcher fills it (real huggingface_hub downloading from the
loopback fake hub); the backend then runs with HF_HUB_OFFLINE=1 and must not touch the hub.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from launcher.server.port import pick_free_port
from tests.fakehub.fixtures import BGE_MODEL, BGE_REPO
from tests.fakehub.server import FakeHub

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "textbook-backend"
STATUS_MODEL = {
    "requested": BGE_MODEL,
    "resolved": BGE_MODEL,
    "state": "ready",
    "attempt_count": 1,
    "attempts": [
        {"model": BGE_MODEL, "attempt": 1, "ok": True, "error": None, "seconds": 0.2, "bytes": 1}
    ],
    "cache_dir": "",
    "path": "",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the example (so running it writes no __pycache__ into the repository)."""
    target = tmp_path / "textbook-backend"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    return target


@pytest.fixture
def model_cache(tmp_path: Path, fake_hub: FakeHub) -> Path:
    """A fastembed cache holding the bge stand-in, downloaded by real huggingface_hub."""
    from huggingface_hub import snapshot_download

    cache = tmp_path / "fastembed-cache"
    snapshot_download(BGE_REPO, cache_dir=str(cache), endpoint=fake_hub.url)
    return cache


@contextmanager
def backend(project: Path, env: dict[str, str], log: Path) -> Iterator[httpx.Client]:
    """`python -m uvicorn main:app` in the project; yields a client once /health is 200."""
    port = pick_free_port("127.0.0.1")
    with log.open("wb") as out:
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=project,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False)
        try:
            deadline = time.monotonic() + 60
            while True:
                assert child.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                try:
                    if client.get("/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            yield client
        finally:
            client.close()
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=10)


def base_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("HF_ENDPOINT", None)  # the backend has no business with the hub
    env.update(extra)
    return env


def write_status(path: Path, model: dict[str, Any]) -> Path:
    path.write_text(
        json.dumps(
            {"schema": 1, "updated_at": "2026-01-01T00:00:00Z", "model": model, "environment": {}}
        )
    )
    return path


def test_healthy_backend_searches_the_passages(
    project: Path, model_cache: Path, fake_hub: FakeHub, tmp_path: Path
) -> None:
    status = write_status(tmp_path / "status.json", dict(STATUS_MODEL, cache_dir=str(model_cache)))
    env = base_env(
        ROBO_BACKEND_MODEL=BGE_MODEL,
        FASTEMBED_CACHE_PATH=str(model_cache),
        HF_HUB_OFFLINE="1",
        ROBO_BACKEND_STATUS_FILE=str(status),
    )
    fake_hub.reset_log()
    with backend(project, env, tmp_path / "backend.log") as client:
        health = client.get("/health").json()
        assert health["status"] == "healthy"
        assert health["model_loaded"] is True
        assert health["model"] == dict(STATUS_MODEL, cache_dir=str(model_cache))

        answer = client.post(
            "/search", json={"query": "how do humanoid robots keep their balance", "k": 3}
        )
        assert answer.status_code == 200
        body = answer.json()
        assert body["model"] == BGE_MODEL
        results = body["results"]
        assert len(results) == 3
        assert results[0]["id"] == "balance"
        assert results[0]["title"] == "Balance"
        assert "balance" in results[0]["text"]
        assert results[0]["score"] > results[1]["score"] >= results[2]["score"]

        # another topic wins for another query: the ranking is real, not a fixed order
        other = client.post("/search", json={"query": "grasping objects with a gripper"}).json()
        assert other["results"][0]["id"] == "grasping"
        assert len(other["results"]) == 3  # k defaults to 3

        assert client.post("/search", json={"query": "x", "k": 13}).status_code == 422
        assert client.post("/search", json={"query": "", "k": 1}).status_code == 422
    assert fake_hub.requests == []  # offline: the backend never asked the hub for anything
    assert "12 passages embedded" in (tmp_path / "backend.log").read_text()


def test_without_the_launcher_it_runs_degraded_and_says_why(project: Path, tmp_path: Path) -> None:
    """Plain `uvicorn main:app`, none of the launcher's variables: degraded, not dead."""
    log = tmp_path / "backend.log"
    with backend(project, base_env(), log) as client:
        health = client.get("/health").json()
        assert health["status"] == "degraded"
        assert health["model_loaded"] is False
        assert health["model"] is None
        answer = client.post("/search", json={"query": "balance", "k": 2})
        assert answer.status_code == 503
        detail = answer.json()["detail"]
        assert "degraded" in detail
        assert "ROBO_BACKEND_MODEL is not set" in detail
        assert "robo-backend up" in detail
    lines = [line for line in log.read_text().splitlines() if "running degraded" in line]
    assert len(lines) == 1, log.read_text()
    assert "ROBO_BACKEND_MODEL is not set" in lines[0]


def test_model_missing_from_the_cache_degrades_without_downloading(
    project: Path, fake_hub: FakeHub, tmp_path: Path
) -> None:
    """The named model is not in the (empty) cache: degraded with the reason, no download
    even though the hub is reachable and HF_HUB_OFFLINE is left unset."""
    empty = tmp_path / "empty-cache"
    empty.mkdir()
    status = write_status(tmp_path / "status.json", dict(STATUS_MODEL, state="failed"))
    env = base_env(
        ROBO_BACKEND_MODEL=BGE_MODEL,
        FASTEMBED_CACHE_PATH=str(empty),
        ROBO_BACKEND_STATUS_FILE=str(status),
        HF_ENDPOINT=fake_hub.url,
    )
    fake_hub.reset_log()
    log = tmp_path / "backend.log"
    with backend(project, env, log) as client:
        health = client.get("/health").json()
        assert health["status"] == "degraded"
        assert health["model_loaded"] is False
        assert health["model"]["state"] == "failed"
        assert BGE_MODEL in health["reason"]
        answer = client.post("/search", json={"query": "balance"})
        assert answer.status_code == 503
        detail = answer.json()["detail"]
        assert BGE_MODEL in detail
        # started by `up`: no "run it with robo-backend up", but what to do, restart included
        assert "Run it with `robo-backend up`" not in detail
        assert "robo-backend prefetch" in detail and "restart" in detail
    assert fake_hub.requests == []
    assert f"running degraded: model {BGE_MODEL} could not be loaded" in log.read_text()
