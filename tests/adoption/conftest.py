"""Real fastembed releases installed from PyPI (through uv's shared cache) into real venvs, built
once per session and shared by the adoption tests that only read them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Read at import, before the isolation fixture points HOME into tmp: uv's real cache is shared.
UV_CACHE = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")
UV = Path(sys.executable).parent / "uv"


def make_venv(root: Path, requirement: str) -> Path:
    env = dict(os.environ, UV_CACHE_DIR=UV_CACHE)
    subprocess.run([str(UV), "venv", "-q", "-p", sys.executable, str(root)], env=env, check=True)
    subprocess.run(
        [str(UV), "pip", "install", "-q", "--python", str(root / "bin" / "python"), requirement],
        env=env,
        check=True,
        timeout=600,
    )
    return root


@pytest.fixture(scope="session")
def venvs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{"0.5": fastembed 0.5.1, "0.7": 0.7.4, "0.9": the newest 0.9.x}, one venv each."""
    if not UV.is_file():
        pytest.skip("uv is not installed next to the test interpreter")
    root = tmp_path_factory.mktemp("fastembed-venvs")
    return {
        "0.9": make_venv(root / "fe09", "fastembed>=0.9,<0.10"),
        "0.7": make_venv(root / "fe07", "fastembed==0.7.4"),
        "0.5": make_venv(root / "fe05", "fastembed==0.5.1"),
    }
