"""Lock files as the user's own tool reads them, with real uv and real venvs.

uv.lock and pylock.toml tests resolve against the package index once (uv's cache makes the
rest fast); they are skipped, with the reason, where the index cannot be reached.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from launcher.deps import detect_source, stamp_state, sync_dependencies
from tests.helpers.wheels import make_wheel

BIN = "Scripts" if sys.platform == "win32" else "bin"
UV = Path(sys.executable).parent / ("uv.exe" if sys.platform == "win32" else "uv")


def uv(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(UV), *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def make_venv(path: Path) -> Path:
    done = uv("venv", "--quiet", "--python", sys.executable, str(path), cwd=path.parent)
    assert done.returncode == 0, done.stderr
    return path / BIN / ("python.exe" if sys.platform == "win32" else "python")


def version_of(python: Path, package: str) -> str | None:
    done = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def write_pyproject(project: Path, dependencies: list[str]) -> None:
    project.mkdir(exist_ok=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0"\nrequires-python = ">=3.10"\n'
        f"dependencies = {json.dumps(dependencies)}\n\n[tool.robo-backend]\nport = 8000\n"
    )


@pytest.fixture(scope="module")
def locked_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose uv.lock pins fastapi 0.115.0 while pyproject allows any newer one."""
    project = tmp_path_factory.mktemp("locked") / "app"
    write_pyproject(project, ["fastapi>=0.110"])
    first = uv("lock", "--quiet", cwd=project)
    if first.returncode != 0:
        pytest.skip(f"uv lock could not reach the package index: {first.stderr.strip()[-200:]}")
    pinned = uv("lock", "--quiet", "--upgrade-package", "fastapi==0.115.0", cwd=project)
    assert pinned.returncode == 0, pinned.stderr
    assert 'name = "fastapi"\nversion = "0.115.0"' in (project / "uv.lock").read_text()
    return project


def test_uv_lock_installs_exactly_the_locked_version(locked_project: Path, tmp_path: Path) -> None:
    python = make_venv(tmp_path / "venv")
    state = tmp_path / "state"
    assert detect_source(locked_project).kind == "uv.lock"
    result = sync_dependencies(locked_project, python, "auto", state, os.environ)
    assert result.installed and result.tool == "uv"
    assert "from uv.lock" in result.reason and "uv.lock" in result.source
    assert version_of(python, "fastapi") == "0.115.0"  # not the newest that >=0.110 allows
    again = sync_dependencies(locked_project, python, "auto", state, os.environ)
    assert not again.installed and "in sync" in again.reason


def test_a_changed_lock_file_reinstalls(locked_project: Path, tmp_path: Path) -> None:
    project = tmp_path / "app"
    write_pyproject(project, ["fastapi>=0.110"])
    (project / "uv.lock").write_text((locked_project / "uv.lock").read_text())
    python = make_venv(tmp_path / "venv")
    state = tmp_path / "state"
    sync_dependencies(project, python, "auto", state, os.environ)
    assert stamp_state(project, python, state) == "in-sync"
    (project / "uv.lock").write_text((project / "uv.lock").read_text() + "\n")
    assert stamp_state(project, python, state) == "changed"


def test_a_stale_uv_lock_is_reported_as_uv_reports_it(
    locked_project: Path, tmp_path: Path, log_messages: list[str]
) -> None:
    project = tmp_path / "app"
    write_pyproject(project, ["fastapi>=0.110", "idna"])  # pyproject changed, lock did not
    (project / "uv.lock").write_text((locked_project / "uv.lock").read_text())
    python = make_venv(tmp_path / "venv")
    result = sync_dependencies(project, python, "auto", tmp_path / "state", os.environ)
    assert result.installed
    assert "uv.lock is out of date: run `uv lock`" in result.reason
    warning = next(m for m in log_messages if "needs to be updated" in m)
    assert warning.startswith("WARNING: The lockfile at `uv.lock` needs to be updated")
    assert "run `uv lock`" in warning
    assert version_of(python, "fastapi") == "0.115.0"  # still the locked versions


def test_pylock_toml_installs_the_locked_versions(locked_project: Path, tmp_path: Path) -> None:
    project = tmp_path / "app"
    write_pyproject(project, ["fastapi>=0.110"])
    exported = uv(
        "export",
        "--quiet",
        "--frozen",
        "--format",
        "pylock.toml",
        "-o",
        str(project / "pylock.toml"),
        cwd=locked_project,
    )
    assert exported.returncode == 0, exported.stderr
    python = make_venv(tmp_path / "venv")
    assert detect_source(project).kind == "pylock.toml"
    result = sync_dependencies(project, python, "auto", tmp_path / "state", os.environ)
    assert result.installed and "from pylock.toml" in result.reason
    assert version_of(python, "fastapi") == "0.115.0"


@pytest.fixture
def offline(tmp_path: Path) -> dict[str, str]:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "tinydep", "1.0")
    make_wheel(wheels, "otherdep", "1.0")
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p)
    return dict(os.environ, UV_OFFLINE="1", UV_FIND_LINKS=str(wheels), PATH=path)


def test_a_poetry_lock_that_misses_what_pyproject_asks_for_installs_it_with_a_warning(
    tmp_path: Path, offline: dict[str, str], log_messages: list[str]
) -> None:
    """A stale lock (pyproject.toml names a package poetry.lock does not lock): the locked
    versions, the missing one as pyproject.toml says, and a warning that says `poetry lock`."""
    project = tmp_path / "app"
    write_pyproject(project, ["tinydep==1.0"])
    (project / "poetry.lock").write_text('[metadata]\nlock-version = "2.1"\n')
    env = dict(offline, PATH=str(tmp_path / "empty-bin"))  # no poetry anywhere
    python = make_venv(tmp_path / "venv")
    result = sync_dependencies(project, python, "auto", tmp_path / "state", env)
    assert result.installed and result.source.startswith("poetry.lock")
    assert version_of(python, "tinydep") == "1.0"
    assert any(
        m.startswith("WARNING: poetry.lock does not lock tinydep==1.0") and "`poetry lock`" in m
        for m in log_messages
    )


def test_requirements_star_txt_when_there_is_no_requirements_txt(
    tmp_path: Path, offline: dict[str, str]
) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "requirements-prod.txt").write_text("otherdep==1.0\n")
    python = make_venv(tmp_path / "venv")
    result = sync_dependencies(project, python, "auto", tmp_path / "state", offline)
    assert result.installed and result.source.startswith("requirements-prod.txt")
    assert version_of(python, "otherdep") == "1.0"
