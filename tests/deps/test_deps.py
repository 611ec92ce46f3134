"""Dependency sync into a real venv with real uv and pip, offline from a local wheel folder.

The wheels are built here (a wheel is a zip with three metadata files), served with
--find-links through the installers' own environment variables, so no test touches the network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from launcher.deps import stamp_state, sync_dependencies
from launcher.errors import DependencyError
from tests.helpers.wheels import make_wheel

BIN = "Scripts" if sys.platform == "win32" else "bin"
UV = Path(sys.executable).parent / ("uv.exe" if sys.platform == "win32" else "uv")


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheels")
    make_wheel(folder, "tinydep", "1.0")
    make_wheel(folder, "tinydep", "2.0")
    make_wheel(folder, "otherdep", "1.0")
    return folder


@pytest.fixture
def offline_env(wheels: Path) -> dict[str, str]:
    """Installer settings that keep both uv and pip on the local wheel folder."""
    return dict(
        os.environ,
        UV_OFFLINE="1",
        UV_FIND_LINKS=str(wheels),
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheels),
    )


def write_project(project: Path, dependencies: list[str]) -> Path:
    project.mkdir(exist_ok=True)
    (project / "pyproject.toml").write_text(
        "[project]\n"
        'name = "app"\n'
        'version = "0"\n'
        f"dependencies = {json.dumps(dependencies)}\n"
        "\n[tool.robo-backend]\n"
        "port = 8000\n"
    )
    return project


def installed_version(venv_python: Path, name: str) -> str | None:
    done = subprocess.run(
        [str(venv_python), "-c", f"import {name}; print({name}.__version__)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def test_installs_once_then_skips_then_reinstalls_after_an_edit(
    tmp_path: Path, venv_python: Path, offline_env: dict[str, str]
) -> None:
    project = write_project(tmp_path / "app", ["tinydep==1.0"])
    state = project / ".robo-backend"
    assert stamp_state(project, venv_python, state) == "missing"

    first = sync_dependencies(project, venv_python, "auto", state, offline_env)
    assert first.installed and first.tool == "uv"
    assert "first install" in first.reason
    assert installed_version(venv_python, "tinydep") == "1.0"
    assert stamp_state(project, venv_python, state) == "in-sync"

    second = sync_dependencies(project, venv_python, "auto", state, offline_env)
    assert not second.installed and second.tool is None
    assert "in sync" in second.reason

    # changing a setting of the launcher is not a dependency change
    text = (project / "pyproject.toml").read_text().replace("port = 8000", "port = 9000")
    (project / "pyproject.toml").write_text(text)
    assert stamp_state(project, venv_python, state) == "in-sync"

    write_project(project, ["tinydep==2.0"])
    assert stamp_state(project, venv_python, state) == "changed"
    third = sync_dependencies(project, venv_python, "auto", state, offline_env)
    assert third.installed
    assert "dependencies changed" in third.reason
    assert installed_version(venv_python, "tinydep") == "2.0"


def test_requirements_txt_is_installed_and_stamped(
    tmp_path: Path, venv_python: Path, offline_env: dict[str, str]
) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "requirements.txt").write_text("-r more.txt\n")
    (project / "more.txt").write_text("otherdep==1.0\n")
    state = project / ".robo-backend"
    result = sync_dependencies(project, venv_python, "auto", state, offline_env)
    assert result.installed
    assert installed_version(venv_python, "otherdep") == "1.0"
    # a file included with -r is part of the stamp
    (project / "more.txt").write_text("otherdep==1.0\ntinydep==1.0\n")
    assert stamp_state(project, venv_python, state) == "changed"


def test_recreated_venv_at_the_same_path_reinstalls(
    tmp_path: Path, venv_python: Path, offline_env: dict[str, str]
) -> None:
    project = write_project(tmp_path / "app", ["tinydep==1.0"])
    state = project / ".robo-backend"
    sync_dependencies(project, venv_python, "auto", state, offline_env)
    venv = venv_python.parent.parent
    subprocess.run(
        [str(UV), "venv", "--quiet", "--clear", "--python", sys.executable, str(venv)],
        check=True,
        timeout=120,
        env=offline_env,
    )
    assert installed_version(venv_python, "tinydep") is None
    assert stamp_state(project, venv_python, state) == "changed"
    again = sync_dependencies(project, venv_python, "auto", state, offline_env)
    assert again.installed
    assert installed_version(venv_python, "tinydep") == "1.0"


def test_failed_install_shows_the_installer_output_and_writes_no_stamp(
    tmp_path: Path, venv_python: Path, offline_env: dict[str, str]
) -> None:
    project = write_project(tmp_path / "app", ["tinydep==1.0", "no-such-package-robo-xyz"])
    state = project / ".robo-backend"
    with pytest.raises(DependencyError) as caught:
        sync_dependencies(project, venv_python, "auto", state, offline_env)
    error = caught.value
    assert error.exit_code == 1
    assert "installing dependencies with uv failed" in error.message
    assert "no-such-package-robo-xyz" in error.message  # the installer's own words
    assert "[project].dependencies" in error.hint
    assert not (state / "deps-stamp.json").exists()
    assert stamp_state(project, venv_python, state) == "missing"


def test_pip_fallback_bootstraps_pip_and_installs(
    tmp_path: Path, venv_python: Path, offline_env: dict[str, str]
) -> None:
    """Without uv the venv's own pip installs; a uv-made venv has none, so ensurepip runs."""
    project = write_project(tmp_path / "app", ["tinydep==2.0"])
    state = project / ".robo-backend"
    result = sync_dependencies(project, venv_python, "auto", state, offline_env, installer="pip")
    assert result.installed and result.tool == "pip"
    assert installed_version(venv_python, "tinydep") == "2.0"
    assert stamp_state(project, venv_python, state) == "in-sync"

    write_project(project, ["no-such-package-robo-xyz"])
    with pytest.raises(DependencyError) as caught:
        sync_dependencies(project, venv_python, "auto", state, offline_env, installer="pip")
    assert "installing dependencies with pip failed" in caught.value.message
    assert "no-such-package-robo-xyz" in caught.value.message
    assert "check the names and versions" in caught.value.hint


def test_modes_always_and_never(
    tmp_path: Path, venv_python: Path, offline_env: dict[str, str]
) -> None:
    project = write_project(tmp_path / "app", ["tinydep==1.0"])
    state = project / ".robo-backend"
    skipped = sync_dependencies(project, venv_python, "never", state, offline_env)
    assert not skipped.installed
    assert "install = never" in skipped.reason and "missing" in skipped.reason
    assert installed_version(venv_python, "tinydep") is None

    sync_dependencies(project, venv_python, "auto", state, offline_env)
    forced = sync_dependencies(project, venv_python, "always", state, offline_env)
    assert forced.installed and "install = always" in forced.reason


def test_project_without_dependencies_installs_nothing(tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "main.py").write_text("app = None\n")
    missing_python = tmp_path / "no-venv" / BIN / "python"
    result = sync_dependencies(project, missing_python, "always", project / ".rb", {})
    assert not result.installed and result.tool is None
    assert "nothing to install" in result.reason
    assert stamp_state(project, missing_python, project / ".rb") == "in-sync"
