"""Fixtures for clear-cache tests: a project, a cache with both standard models, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakehub.fixtures import BGE_MODEL, BGE_REPO, MINILM_MODEL, MINILM_REPO
from tests.helpers.cachebuild import make_model
from tests.helpers.cli import CliRunner


@pytest.fixture
def temp_dir(tmp_path: Path) -> Path:
    """The temp folder the CLI subprocess sees (TMPDIR): the legacy cache lives in it."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    return folder


@pytest.fixture
def cache(tmp_path: Path, embedding_models: dict[str, dict[str, bytes]]) -> Path:
    """A cache root holding both standard models, complete."""
    root = tmp_path / "cache"
    make_model(root, BGE_MODEL, embedding_models[BGE_REPO])
    make_model(root, MINILM_MODEL, embedding_models[MINILM_REPO])
    return root


@pytest.fixture
def run_cli(project: Path, temp_dir: Path) -> CliRunner:
    """Run the real CLI in a subprocess (no terminal on stdin), in the project folder."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "launcher", *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "TMPDIR": str(temp_dir), **(env or {})},
            cwd=project,
            timeout=120,
            check=False,
        )

    return run
