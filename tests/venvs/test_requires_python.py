"""requires-python decides the interpreter: real interpreters from pyenv's versions folder,
real venvs made by uv, and the error (exit 2, before any install) when none fits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from launcher.errors import UsageError
from launcher.platform import PlatformFacts
from launcher.settings import resolve_settings
from launcher.venvs import ensure_venv
from launcher.venvs.requires import (
    parse_py_list,
    py_launcher_list,
    pyenv_interpreters,
    satisfies,
)
from tests.helpers.venvs import host_facts, tools_dir

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="pyenv's POSIX layout (bin/python3)"
)


def write_project(project: Path, requires: str) -> Path:
    project.mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "app"\nversion = "0"\nrequires-python = "{requires}"\n'
        "dependencies = []\n"
    )
    return project


def declared(project: Path) -> str | None:
    """The project's requires-python, read as `up` reads it (with the settings)."""
    return resolve_settings(project, {}, {}).requires_python


def newer_pyenv_versions(facts: PlatformFacts) -> dict[str, str]:
    """{minor: interpreter} from pyenv for the minors newer than the running Python."""
    found: dict[str, str] = {}
    here = sys.version_info[:2]
    for exe in pyenv_interpreters(facts):
        minor = Path(exe).parent.parent.name.rsplit(".", 1)[0]
        major, _, number = minor.partition(".")
        if (int(major), int(number)) > here:
            found.setdefault(minor, exe)
    return found


def venv_version(python: Path) -> str:
    done = subprocess.run(
        [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


@linux_only
def test_requires_python_picks_a_fitting_pyenv_interpreter_and_recreates_on_change(
    tmp_path: Path, log_messages: list[str]
) -> None:
    facts = host_facts(tools_dir(tmp_path, "uv"))  # PATH without pyenv's shims: the folder is read
    newer = newer_pyenv_versions(facts)
    if not newer:
        pytest.skip("no pyenv interpreter newer than the running Python on this machine")
    first = min(newer, key=lambda v: int(v.split(".")[1]))
    project = write_project(tmp_path / "app", f">={first}")
    info = ensure_venv(project, Path(".venv"), None, facts, requires=declared(project))
    chosen = venv_version(info.python)
    assert info.created and chosen in newer  # not the running (older) Python
    assert satisfies(info.version, f">={first}")

    others = [minor for minor in newer if minor != chosen]
    if not others:
        return
    other = others[0]
    write_project(project, f"=={other}.*")
    again = ensure_venv(project, Path(".venv"), None, facts, requires=declared(project))
    assert again.created and venv_version(again.python) == other
    assert again.method.startswith("recreated with uv (its Python " + info.version)
    assert f"does not satisfy requires-python =={other}.*" in again.method
    said = [m for m in log_messages if "does not satisfy requires-python" in m]
    assert said and said[0].startswith("WARNING: .venv: its Python") and "recreating it" in said[0]


def test_no_fitting_interpreter_is_a_usage_error_before_anything_changes(tmp_path: Path) -> None:
    facts = host_facts(tools_dir(tmp_path, "uv"))
    project = write_project(tmp_path / "app", ">=3.10")
    info = ensure_venv(project, Path(".venv"), None, facts, requires=declared(project))
    marker = info.path / "kept"
    marker.write_text("the old venv stays")
    write_project(project, ">=3.99")
    with pytest.raises(UsageError) as caught:
        ensure_venv(project, Path(".venv"), None, facts, requires=declared(project))
    error = caught.value
    assert error.exit_code == 2
    assert "requires-python >=3.99" in error.message
    assert f"{sys.version_info[0]}.{sys.version_info[1]}" in error.message  # what was found
    assert "uv python install 3.99" in error.hint and "py install 3.99" in error.hint
    assert marker.read_text() == "the old venv stays"


def test_an_explicit_python_that_does_not_fit_is_refused(tmp_path: Path) -> None:
    facts = host_facts(tools_dir(tmp_path, "uv"))
    project = write_project(tmp_path / "app", ">=3.99")
    with pytest.raises(UsageError) as caught:
        ensure_venv(project, Path(".venv"), sys.executable, facts, requires=declared(project))
    assert caught.value.exit_code == 2
    assert "but the project's requires-python is >=3.99" in caught.value.message
    assert not (project / ".venv").exists()


def test_the_py_launcher_list_is_read_on_windows() -> None:
    text = (
        " -V:3.13 *        C:\\Users\\Jürgen\\AppData\\Local\\Python313\\python.exe\n"
        " -V:3.12          C:\\Program Files (x86)\\Python312\\python.exe\n"
        " -V:3.11[-32]     C:\\Python311-32\\python.exe\n"
    )
    assert parse_py_list(text) == [
        "C:\\Users\\Jürgen\\AppData\\Local\\Python313\\python.exe",
        "C:\\Program Files (x86)\\Python312\\python.exe",
        "C:\\Python311-32\\python.exe",
    ]


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX stand-in for py.exe")
def test_the_py_launcher_is_asked_with_injected_windows_facts(tmp_path: Path) -> None:
    """On (injected) Windows the `py` launcher on PATH is asked for its list (`py -0p`)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    py = folder / "py.exe"
    py.write_text(
        '#!/bin/sh\n[ "$1" = "-0p" ] || exit 2\n'
        "printf ' -V:3.13 *        C:\\\\Python313\\\\python.exe\\r\\n'\n"
        "printf ' -V:3.12   C:\\\\Users\\\\J\\303\\274rgen\\\\Python312\\\\python.exe\\r\\n'\n"
    )
    py.chmod(0o755)
    facts = PlatformFacts("win32", {"PATH": str(folder), "PATHEXT": ".EXE"}, ("cmd.exe",))
    assert py_launcher_list(facts) == [
        "C:\\Python313\\python.exe",
        "C:\\Users\\Jürgen\\Python312\\python.exe",
    ]
    assert py_launcher_list(PlatformFacts("linux", {"PATH": str(folder)})) == []
