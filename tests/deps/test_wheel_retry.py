"""An install that fails for lack of wheels retries once on the next Python that fits.

The venv is made by Python 3.11 as `up`'s venv step would make it; the project pins a package
that has wheels for CPython 3.10 only. Two shapes of the failure, both real:

- a source build that fails (a local sdist whose build fails at once, as scipy 1.9.0's does on
  3.11 after 15 s without a Fortran compiler), next to a cp310 wheel of it;
- a lock with an old C extension from PyPI (pyrsistent 0.18.1: wheels up to cp310). This
  machine has a compiler, so its build would succeed: `only-binary` in a uv config file stands
  for "the build fails here", which makes uv say what it says when no build is possible.

The tests need Pythons 3.10 and 3.11 (pyenv's versions folder, uv's, or on PATH) and skip,
saying so, without them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from launcher.deps import sync_for_up
from launcher.deps.declared import venv_has
from launcher.deps.wheels import missing_wheel
from launcher.errors import DependencyError
from launcher.platform import PlatformFacts
from launcher.settings import resolve_settings
from launcher.venvs import VenvInfo, ensure_venv, pyvenv_version
from launcher.venvs.info import Interpreter
from launcher.venvs.interpreters import installed_python
from tests.deps.packages import failing_sdist, wheel

FIXTURES = Path(__file__).parent / "fixtures"
REQUIRES = ">=3.10,<3.13"


@pytest.fixture(scope="module")
def pythons() -> tuple[Interpreter, Interpreter]:
    """(3.11, the one the venv is made with; 3.10, the one that has the wheels)."""
    facts = PlatformFacts.local(os.environ)
    chosen, other = installed_python("3.11", facts), installed_python("3.10", facts)
    if chosen is None or other is None:
        pytest.skip("needs Python 3.11 and Python 3.10 installed (pyenv, uv or on PATH)")
    return chosen, other


@pytest.fixture(scope="module")
def find_links(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """brokenext 1.0: an sdist whose build fails, and a wheel for CPython 3.10 only."""
    folder = tmp_path_factory.mktemp("links")
    failing_sdist(folder, "brokenext", "1.0")
    wheel(folder, "brokenext", "1.0", tag="cp310-cp310-linux_x86_64")
    wheel(folder, "onlysdist", "1.0", tag="cp27-cp27mu-linux_x86_64")
    failing_sdist(folder, "onlysdist", "1.0")
    return folder


def brokenext_project(root: Path, pin: str = "brokenext==1.0") -> Path:
    project = root / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "app"\nversion = "0"\nrequires-python = "{REQUIRES}"\n'
        f'dependencies = ["{pin}", "uvicorn>=0.30,<0.31"]\n'
    )
    return project


def first_venv(
    project: Path, env: dict[str, str], python: Interpreter, flags: dict[str, str] | None = None
) -> tuple[VenvInfo, PlatformFacts]:
    """The venv `up`'s venv step made with `python` (the interpreter it found first)."""
    settings = resolve_settings(project, flags or {}, env)
    facts = PlatformFacts.local(env)
    state = settings.state_path
    venv = ensure_venv(
        project,
        settings.venv_path,
        python.path,
        facts,
        state_dir=state,
        requires=settings.requires_python,
    )
    assert venv.version.startswith("3.11.")
    return venv, facts


def test_uvs_words_for_a_failed_build_are_recognised(
    tmp_path: Path, find_links: Path, pythons: tuple[Interpreter, Interpreter]
) -> None:
    uv = str(Path(sys.executable).parent / "uv")
    subprocess.run([uv, "venv", "-q", "--python", pythons[0].path, str(tmp_path / "v")], check=True)
    done = subprocess.run(
        [uv, "pip", "install", "--python", str(tmp_path / "v"), "--offline"]
        + ["--find-links", str(find_links), "brokenext==1.0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    missing = missing_wheel(done.stdout + done.stderr)
    assert missing is not None
    assert (missing.package, missing.version) == ("brokenext", "1.0")
    assert missing.why == "building it from source failed"


def test_a_failed_build_retries_once_on_the_python_that_has_the_wheel(
    tmp_path: Path,
    find_links: Path,
    pythons: tuple[Interpreter, Interpreter],
    log_messages: list[str],
) -> None:
    project = brokenext_project(tmp_path)
    env = dict(os.environ, UV_FIND_LINKS=str(find_links))
    venv, facts = first_venv(project, env, pythons[0])
    settings = resolve_settings(project, {}, env)
    made, result = sync_for_up(settings, venv, facts, env)
    assert made.path == venv.path and made.version.startswith("3.10.")
    assert pyvenv_version(venv.path).startswith("3.10.")  # the project's venv itself
    assert venv_has(made.path, "brokenext") and venv_has(made.path, "uvicorn")
    assert result.installed and "on Python 3.10" in result.reason
    said = next(m for m in log_messages if "trying once more" in m)
    assert said.startswith(
        f"WARNING: brokenext==1.0 has no wheel for Python {venv.version} and building it from "
        f"source failed; trying once more in a venv on Python {made.version} ("
    )
    assert said.endswith("which has one")
    again_venv, again = sync_for_up(settings, made, facts, env)
    assert again_venv == made and not again.installed  # the next `up` stays on 3.10


def test_a_poetry_lock_with_an_old_c_extension_moves_to_python_3_10(
    tmp_path: Path, pythons: tuple[Interpreter, Interpreter], log_messages: list[str]
) -> None:
    project = tmp_path / "app"
    shutil.copytree(FIXTURES / "poetry-old-pin", project)
    config = tmp_path / "uv.toml"
    config.write_text('[pip]\nonly-binary = ["pyrsistent"]\n')
    env = dict(os.environ, UV_CONFIG_FILE=str(config))
    venv, facts = first_venv(project, env, pythons[0])
    settings = resolve_settings(project, {}, env)
    made, result = sync_for_up(settings, venv, facts, env)
    assert made.version.startswith("3.10.") and venv_has(made.path, "pyrsistent")
    assert "pyrsistent==0.18.1 has no wheel for Python 3.11" in result.reason
    assert any("it cannot be built from source here; trying once more" in m for m in log_messages)


def no_other_python(root: Path, python: Interpreter, find_links: Path) -> dict[str, str]:
    """A machine whose only Python is 3.11: nothing in PATH but it, no pyenv, no uv Pythons."""
    only = root / "only-3.11"
    only.mkdir()
    (only / "python3").symlink_to(python.path)
    empty = root / "empty"
    empty.mkdir()
    return dict(
        os.environ,
        PATH=str(only),
        HOME=str(empty),
        PYENV_ROOT=str(empty),
        UV_PYTHON_INSTALL_DIR=str(empty),
        UV_FIND_LINKS=str(find_links),
    )


def test_without_that_python_the_error_names_the_one_to_install(
    tmp_path: Path, find_links: Path, pythons: tuple[Interpreter, Interpreter]
) -> None:
    project = brokenext_project(tmp_path)
    env = no_other_python(tmp_path, pythons[0], find_links)
    venv, facts = first_venv(project, env, pythons[0])
    settings = resolve_settings(project, {}, env)
    with pytest.raises(DependencyError) as failed:
        sync_for_up(settings, venv, facts, env)
    assert failed.value.message.startswith(
        f"brokenext==1.0 has no wheel for Python {venv.version} and building it from source "
        "failed; Python 3.10 has one, and no Python 3.10 is installed:\n"
    )
    assert "uv python install 3.10" in failed.value.hint
    assert pyvenv_version(venv.path) == venv.version  # the venv was left as it was


def test_an_explicit_python_is_not_overridden(
    tmp_path: Path, find_links: Path, pythons: tuple[Interpreter, Interpreter]
) -> None:
    project = brokenext_project(tmp_path)
    env = dict(os.environ, UV_FIND_LINKS=str(find_links))
    flags = {"python": pythons[0].path}
    venv, facts = first_venv(project, env, pythons[0], flags)
    with pytest.raises(DependencyError) as failed:
        sync_for_up(resolve_settings(project, flags, env), venv, facts, env)
    assert "Python 3.10 has one" in failed.value.message
    assert failed.value.hint.startswith("Pass --python 3.10")
    assert pyvenv_version(venv.path) == venv.version


def test_a_package_no_python_has_wheels_for_is_not_retried(
    tmp_path: Path, find_links: Path, pythons: tuple[Interpreter, Interpreter]
) -> None:
    project = brokenext_project(tmp_path, pin="onlysdist==1.0")
    env = dict(os.environ, UV_FIND_LINKS=str(find_links))
    venv, facts = first_venv(project, env, pythons[0])
    with pytest.raises(DependencyError) as failed:
        sync_for_up(resolve_settings(project, {}, env), venv, facts, env)
    assert failed.value.message.startswith(
        f"onlysdist==1.0 has no wheel for Python {venv.version} and building it from source "
        f"failed, and no Python version that fits requires-python {REQUIRES} has a wheel of it"
    )
    assert failed.value.hint.startswith("Lock a newer onlysdist")
    assert pyvenv_version(venv.path) == venv.version
