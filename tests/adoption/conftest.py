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


# The version matrix: every fastembed line from 0.5.1 to the newest, in few real venvs. Each
# release gets a venv of its own holding only fastembed (`--no-deps`), whose site-packages
# reads the dependencies of a base venv through a .pth file: the venv of 0.5.1 (huggingface_hub
# < 1.0, pillow < 11, mmh3 < 5: what 0.5.1 to 0.7.3 all accept) or the venv of 0.7.4
# (huggingface_hub 1.x, pillow < 12: what 0.7.4 to 0.9 accept). `fold_valid` checks that the
# base meets the release's own requirements; a release it does not meet (a future 0.9.x) gets
# its dependencies installed into its own venv instead.
MATRIX: dict[str, tuple[str, str]] = {  # row → (requirement, base: a key of `venvs`)
    "0.5.1": ("fastembed==0.5.1", "0.5"),
    "0.6.1": ("fastembed==0.6.1", "0.5"),
    "0.7.0": ("fastembed==0.7.0", "0.5"),
    "0.7.3": ("fastembed==0.7.3", "0.5"),
    "0.7.4": ("fastembed==0.7.4", "0.7"),
    "0.8.1": ("fastembed==0.8.1", "0.7"),
    "0.9": ("fastembed>=0.9,<0.10", "0.9"),
}
OWN_VENV = {"0.5.1": "0.5", "0.7.4": "0.7", "0.9": "0.9"}  # rows the base venvs hold themselves


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def unmet_requirements(venv: Path, base: Path) -> list[str]:
    """fastembed's own requirements (in `venv`) that the packages of `base` do not meet."""
    from importlib.metadata import distributions

    from packaging.requirements import Requirement

    own = next(distributions(path=[str(site_packages(venv))]))
    installed = {
        (d.metadata["Name"] or "").lower().replace("_", "-"): d.version
        for d in distributions(path=[str(site_packages(base))])
    }
    unmet = []
    for text in own.requires or []:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        have = installed.get(requirement.name.lower().replace("_", "-"))
        if have is None or not requirement.specifier.contains(have, prereleases=True):
            unmet.append(f"{text} (have {have})")
    return unmet


def fold_into(root: Path, requirement: str, base: Path) -> Path:
    """A venv with only `requirement` installed, reading everything else from `base`."""
    env = dict(os.environ, UV_CACHE_DIR=UV_CACHE)
    subprocess.run([str(UV), "venv", "-q", "-p", sys.executable, str(root)], env=env, check=True)
    python = str(root / "bin" / "python")
    install = [str(UV), "pip", "install", "-q", "--python", python]
    subprocess.run([*install, "--no-deps", requirement], env=env, check=True, timeout=600)
    if unmet_requirements(root, base):
        subprocess.run([*install, requirement], env=env, check=True, timeout=600)
    else:
        (site_packages(root) / "_matrix_base.pth").write_text(f"{site_packages(base)}\n")
    return root


@pytest.fixture(scope="session")
def matrix(venvs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{row: venv} for every row of MATRIX (the base venvs serve their own release)."""
    root = tmp_path_factory.mktemp("fastembed-matrix")
    return {
        row: venvs[OWN_VENV[row]] if row in OWN_VENV else fold_into(root / row, req, venvs[base])
        for row, (req, base) in MATRIX.items()
    }
