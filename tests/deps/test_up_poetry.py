"""`robo-backend up` on poetry backends, with no poetry anywhere on PATH: real subprocesses.

A poetry backend (the fixture's pyproject.toml and poetry.lock, a FastAPI app with a health
route) comes up with its locked dependencies; one whose dependencies forget uvicorn stops at
the dependency step with the line to add, before anything is installed. Offline: no model is
fetched (the backend starts degraded), so these tests need no hub.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from launcher.deps.declared import venv_has
from tests.helpers.up_run import UpRun, free_port, http_json
from tests.helpers.venvs import base_python

FIXTURES = Path(__file__).parent / "fixtures"
APP = """\
from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
"""


def backend(root: Path, fixture: str) -> Path:
    project = root / fixture
    shutil.copytree(FIXTURES / fixture, project, ignore=shutil.ignore_patterns("*.txt"))
    (project / "main.py").write_text(APP)
    return project


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No poetry: PATH holds only a python3 (what a user's machine without poetry has)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(base_python())
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "ROBO_BACKEND_"))}
    environ.update(PATH=str(bin_dir), NO_COLOR="1", ROBO_BACKEND_LOG_DIR=str(tmp_path / "logs"))
    return environ


def test_a_poetry_backend_comes_up_without_poetry(tmp_path: Path, env: dict[str, str]) -> None:
    project = backend(tmp_path, "poetry-app")
    args = ["up", "-p", str(project), "--port", str(free_port()), "--offline"]
    run = UpRun([*args, "--cache-dir", str(tmp_path / "cache")], env)
    try:
        url = run.ready_url(timeout=180)
        assert http_json(url + "/health")[0] == 200
        line = run.wait_for("dependencies in sync", 1)
        assert "installed with uv from poetry.lock" in line
        assert "no dependencies declared" not in run.output
    finally:
        code, left = run.interrupt(signal.SIGINT)
    assert code == 130 and not left, run.output


def test_a_backend_without_uvicorn_is_told_before_anything_is_installed(
    tmp_path: Path, env: dict[str, str]
) -> None:
    project = backend(tmp_path, "poetry-no-uvicorn")
    done = subprocess.run(
        [sys.executable, "-m", "launcher", "up", "-p", str(project), "--offline", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=180,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    failed = [line for line in done.stderr.splitlines() if line.startswith("✗")]
    assert failed and failed[0].startswith("✗ dependencies  failed"), done.stderr
    assert "do not include uvicorn" in done.stderr
    assert 'Add `uvicorn = "*"` under [tool.poetry.dependencies]' in done.stderr
    assert not venv_has(project / ".venv", "fastapi")  # the venv exists, nothing installed
    assert (project / ".venv" / "pyvenv.cfg").is_file()
