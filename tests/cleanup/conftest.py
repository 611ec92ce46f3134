"""Fixtures for clear-cache tests: a project, a cache with both standard models, the CLI."""

from __future__ import annotations

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
def run_cli(run_cli: CliRunner, project: Path, temp_dir: Path) -> CliRunner:
    """The real CLI, run in the project folder with `temp_dir` as its temp folder."""
    return run_cli.bound(cwd=project, env={"TMPDIR": str(temp_dir)})
