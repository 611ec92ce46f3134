"""poetry projects without poetry: the lock read as `poetry install` reads it, and the tables.

The locks in fixtures/ were made once by poetry itself (2.5.1: lock format 2.1; 1.8.5: format
2.0), and so were the `poetry export --with dev` files used as the oracle: for any interpreter
and platform, the packages pinned here must be exactly those the export lists with markers that
hold there. The installs are real (uv, a real venv, PyPI through uv's cache), with no poetry on
PATH.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from launcher.constraints import alternatives
from launcher.deps import detect_source, sync_dependencies
from launcher.deps.poetry_lock import LockedInstall, locked_install, marker_environment
from launcher.deps.poetry_spec import dependency_lines
from launcher.errors import DependencyError
from launcher.settings import read_pyproject, resolve_settings

FIXTURES = Path(__file__).parent / "fixtures"
BIN = "Scripts" if sys.platform == "win32" else "bin"
UV = Path(sys.executable).parent / ("uv.exe" if sys.platform == "win32" else "uv")


def pins(locked: LockedInstall) -> dict[str, str]:
    """{name: version} of the registry packages the lock pins."""
    found: dict[str, str] = {}
    for line in locked.requirements:
        match = re.match(r"([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(\S+)", line)
        if match:
            found[str(canonicalize_name(match.group(1)))] = match.group(2)
    return found


def make_venv(path: Path) -> Path:
    subprocess.run(
        [str(UV), "venv", "--quiet", "--python", sys.executable, str(path)],
        check=True,
        timeout=120,
    )
    return path / BIN / ("python.exe" if sys.platform == "win32" else "python")


def installed(python: Path) -> dict[str, str]:
    """{name: version} of every distribution in the venv of `python`."""
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    return {
        str(canonicalize_name(d.metadata["Name"])): d.version
        for d in importlib.metadata.distributions(path=[site])
    }


def oracle(export: Path, environment: dict[str, str]) -> dict[str, str]:
    """What `poetry export` says this environment gets: {name: version}."""
    found = {}
    for line in export.read_text().splitlines():
        match = re.match(r"([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(\S+)(?: ; (.*))?$", line.strip())
        if match and (not match.group(3) or Marker(match.group(3)).evaluate(environment)):
            found[str(canonicalize_name(match.group(1)))] = match.group(2)
    return found


def no_poetry_env(root: Path) -> dict[str, str]:
    """The test environment with a PATH that holds no poetry (nor anything else)."""
    empty = root / "empty-bin"
    empty.mkdir(exist_ok=True)
    return dict(os.environ, PATH=str(empty))


# --------------------------------------------------------------------------- constraints


@pytest.mark.parametrize(
    ("constraint", "admitted", "refused"),
    [
        ("^1.2.3", ["1.2.3", "1.9"], ["1.2.2", "2.0.0"]),
        ("^0.2.3", ["0.2.3", "0.2.9"], ["0.3.0"]),
        ("^0.0.3", ["0.0.3"], ["0.0.4"]),
        ("^0", ["0.9"], ["1.0"]),
        ("~1.2.3", ["1.2.9"], ["1.3.0", "1.2.2"]),
        ("~1.2", ["1.2.0", "1.2.9"], ["1.3"]),
        ("~1", ["1.9"], ["2.0"]),
        ("1.2.*", ["1.2.7"], ["1.3"]),
        ("1.2.3", ["1.2.3"], ["1.2.4"]),
        ("*", ["0.1", "99"], []),
        (">= 1.2, < 1.5", ["1.4"], ["1.5", "1.1"]),
        (">1.2 <2.0", ["1.3"], ["1.2", "2.0"]),
        ("~=1.4", ["1.9"], ["2.0"]),
    ],
)
def test_poetry_constraints_mean_what_poetry_means(
    constraint: str, admitted: list[str], refused: list[str]
) -> None:
    spec = SpecifierSet(alternatives(constraint)[-1])
    assert all(spec.contains(v) for v in admitted), spec
    assert not any(spec.contains(v) for v in refused), spec


def test_or_constraints_keep_every_alternative() -> None:
    assert alternatives("^2.7 || ^3.6") == [">=2.7,<3.0", ">=3.6,<4.0"]


def test_poetrys_python_key_is_the_projects_requires_python() -> None:
    app = resolve_settings(FIXTURES / "poetry-app", {}, {})
    assert app.requires_python == ">=3.10,<4.0"  # python = "^3.10"
    assert resolve_settings(FIXTURES / "poetry-old-pin", {}, {}).requires_python == ">=3.10,<3.13"


def test_poetry_tables_without_a_lock_become_requirements() -> None:
    project = FIXTURES / "poetry-app"
    lines = dependency_lines(read_pyproject(project), project)
    assert "fastapi>=0.115.0,<0.116.0" in lines  # ~0.115.0
    assert "idna>=3.7,<3.8" in lines  # ~3.7
    assert "uvicorn>=0.30,<0.31" in lines  # ^0.30
    assert "httpx[http2]>=0.27,<0.28" in lines
    assert "six>=1.16,<2.0 ; sys_platform == 'win32'" in lines
    assert 'tomli>=2.0,<3.0 ; python_full_version < "3.11"' in lines
    assert "iniconfig>=2.0,<3.0" in lines  # the dev group: poetry install installs it
    assert not any(line.startswith(("python", "attrs", "pyparsing")) for line in lines)


# --------------------------------------------------------------------------- the lock


@pytest.fixture(scope="module")
def here() -> dict[str, str]:
    """The marker values of the interpreter running the tests."""
    return marker_environment(sys.executable, os.environ)


def variant(base: dict[str, str], python: str, platform: str) -> dict[str, str]:
    """Another interpreter's marker values (the walk takes them as plain input)."""
    windows = platform == "win32"
    return dict(
        base,
        python_version=".".join(python.split(".")[:2]),
        python_full_version=python,
        sys_platform=platform,
        os_name="nt" if windows else "posix",
        platform_system="Windows" if windows else "Linux",
    )


@pytest.mark.parametrize("fixture", ["poetry-app", "poetry-app-1.8"])
@pytest.mark.parametrize(
    "target", [None, ("3.10.13", "linux"), ("3.12.1", "win32"), ("3.10.2", "win32")]
)
def test_the_lock_pins_exactly_what_poetry_export_lists(
    fixture: str, target: tuple[str, str] | None, here: dict[str, str]
) -> None:
    project = FIXTURES / fixture
    environment = here if target is None else variant(here, *target)
    locked = locked_install(project, project / "poetry.lock", read_pyproject(project), environment)
    expected = oracle(project / "poetry-export.txt", environment)
    assert pins(locked) == expected
    assert "pyparsing" not in pins(locked) and "attrs" not in pins(locked)  # optional: left out
    assert not locked.unlocked


OLD_LOCK = """\
[[package]]
name = "app-dep"
version = "1.0"
description = ""
category = "main"
optional = false
python-versions = "*"

[package.dependencies]
helper = {version = ">=2", optional = true}

[package.extras]
fast = ["helper (>=2)"]

[[package]]
name = "helper"
version = "2.1"
description = ""
category = "main"
optional = true
python-versions = "*"

[[package]]
name = "numpy"
version = "1.24.4"
description = ""
category = "main"
optional = false
python-versions = ">=3.8"

[[package]]
name = "numpy"
version = "1.26.4"
description = ""
category = "main"
optional = false
python-versions = ">=3.9"

[metadata]
lock-version = "1.1"
python-versions = "^3.8"
content-hash = "0"

[metadata.files]
app-dep = [{file = "app_dep-1.0-py3-none-any.whl", hash = "sha256:aaaa"}]
"""

OLD_PYPROJECT = """\
[tool.poetry]
name = "old"
version = "0"
description = ""
authors = []

[tool.poetry.dependencies]
python = "^3.8"
app-dep = {version = "^1.0", extras = ["fast"]}
numpy = [
  {version = "1.24.4", python = "<3.9"},
  {version = "^1.26", python = ">=3.9"},
]
"""


def test_a_poetry_1_1_lock_with_extras_and_per_python_versions(
    tmp_path: Path, here: dict[str, str]
) -> None:
    """Lock format 1.1 (`category`, hashes in [metadata.files]), an extra that pulls in an
    optional package, and one package locked at two versions for two Pythons."""
    (tmp_path / "poetry.lock").write_text(OLD_LOCK)
    (tmp_path / "pyproject.toml").write_text(OLD_PYPROJECT)
    data = read_pyproject(tmp_path)
    new = locked_install(tmp_path, tmp_path / "poetry.lock", data, variant(here, "3.11.4", "linux"))
    assert pins(new) == {"app-dep": "1.0", "helper": "2.1", "numpy": "1.26.4"}
    assert "app-dep[fast]==1.0 --hash=sha256:aaaa" in new.requirements
    old = locked_install(tmp_path, tmp_path / "poetry.lock", data, variant(here, "3.8.10", "linux"))
    assert pins(old)["numpy"] == "1.24.4"
    assert "numpy==" not in old.constraints_text()  # two locked versions: no single constraint
    (tmp_path / "pyproject.toml").write_text(OLD_PYPROJECT.replace(', extras = ["fast"]', ""))
    plain = locked_install(tmp_path, tmp_path / "poetry.lock", read_pyproject(tmp_path), here)
    assert "helper" not in pins(plain)  # the extra was not asked for


# --------------------------------------------------------------------------- real installs


@pytest.fixture(scope="module")
def poetry_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The poetry fixture installed once from its lock: (project, venv python, state dir)."""
    root = tmp_path_factory.mktemp("poetry")
    project = root / "app"
    shutil.copytree(FIXTURES / "poetry-app", project)
    python = make_venv(root / "venv")
    result = sync_dependencies(project, python, "auto", root / "state", no_poetry_env(root))
    assert result.installed and result.tool == "uv"
    assert result.reason.startswith("installed with uv from poetry.lock")
    assert result.source == "poetry.lock (the locked versions, read without poetry)"
    return project, python, root / "state"


def test_a_poetry_lock_installs_exactly_its_versions_without_poetry(
    poetry_venv: tuple[Path, Path, Path],
) -> None:
    project, python, state = poetry_venv
    expected = oracle(project / "poetry-export.txt", marker_environment(python, os.environ))
    assert installed(python) == expected  # uvicorn, fastapi, the http2 extra, dev; no others
    again = sync_dependencies(project, python, "auto", state, no_poetry_env(state.parent))
    assert not again.installed and "in sync" in again.reason


def test_the_locks_hashes_are_checked(tmp_path: Path) -> None:
    """A wheel whose hash is not the locked one is refused, as poetry refuses it."""
    project = tmp_path / "app"
    shutil.copytree(FIXTURES / "poetry-app", project)
    lock = project / "poetry.lock"
    text = lock.read_text()
    hashes = re.findall(r'file = "iniconfig-[^"]+", hash = "sha256:([0-9a-f]+)"', text)
    assert len(hashes) == 2  # the wheel and the sdist
    for digest in hashes:
        text = text.replace(digest, "0" * 64)
    lock.write_text(text)
    python = make_venv(tmp_path / "venv")
    with pytest.raises(DependencyError) as failed:
        sync_dependencies(project, python, "auto", tmp_path / "state", no_poetry_env(tmp_path))
    assert "hash" in failed.value.message.lower()
    assert "iniconfig" not in installed(python)


def test_a_poetry_project_without_a_lock_installs_its_poetry_tables(tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    shutil.copy(FIXTURES / "poetry-app" / "pyproject.toml", project)
    source = detect_source(project)
    assert source.kind == "pyproject"
    assert source.label == "[tool.poetry.dependencies] of pyproject.toml"
    python = make_venv(tmp_path / "venv")
    result = sync_dependencies(project, python, "auto", tmp_path / "state", no_poetry_env(tmp_path))
    assert result.installed
    versions = installed(python)
    assert versions["idna"].startswith("3.7")  # ~3.7, not the newest idna
    assert versions["httpx"].startswith("0.27.") and "h2" in versions  # ^0.27 with http2
    assert "uvicorn" in versions and "fastapi" in versions and "iniconfig" in versions
    assert not {"six", "attrs", "pyparsing"} & set(versions)  # win32 only, optional, optional
