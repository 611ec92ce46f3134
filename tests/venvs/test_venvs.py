"""Venv discovery, validation and creation with real interpreters and real venvs.

Each creator of the chain (uv → python -m venv → virtualenv → --without-pip + ensurepip) makes
a real venv here, with the earlier ones failing for real: uv absent from PATH, an interpreter
whose standard library lacks ensurepip (Debian without python3-venv), virtualenv absent.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from launcher.errors import UsageError, VenvError
from launcher.platform import PlatformFacts
from launcher.venvs import (
    VenvInfo,
    activated_env,
    ensure_venv,
    find_python,
    inspect_venv,
    venv_for_platform,
)
from tests.helpers.venvs import base_python, host_facts, make_partial_python, tools_dir

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths and scripts")
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="relies on how Linux Pythons follow symlinks and on WSL being a kind of Linux",
)


def _pip_works(info: VenvInfo) -> bool:
    done = subprocess.run(
        [str(info.python), "-m", "pip", "--version"], capture_output=True, text=True, timeout=120
    )
    return done.returncode == 0 and str(info.path) in done.stdout


def _prefix(info: VenvInfo) -> str:
    done = subprocess.run(
        [str(info.python), "-c", "import sys; print(sys.prefix)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


# ---------------------------------------------------------------------------------------------
# The creator chain


def test_uv_creates_then_the_venv_is_reused(uv_venv: VenvInfo, tmp_path: Path) -> None:
    assert uv_venv.created and uv_venv.method == "created with uv"
    assert uv_venv.uv  # uv installs into it
    assert _prefix(uv_venv) == str(uv_venv.path)
    again = ensure_venv(uv_venv.path.parent, Path(".venv"), None, host_facts())
    assert not again.created
    assert again.method == "reused .venv"
    assert again.python == uv_venv.python
    assert again.version == f"{sys.version_info[0]}.{sys.version_info[1]}.{sys.version_info[2]}"


@posix_only
def test_python_venv_when_uv_is_missing(tmp_path: Path) -> None:
    facts = host_facts()  # PATH without uv, and no launcher interpreter to look next to
    info = ensure_venv(tmp_path, Path(".venv"), base_python(), facts)
    assert info.method.startswith("created with python -m venv (uv not found")
    assert info.has_pip and info.uv is None  # pip installs into it
    assert _pip_works(info)


@posix_only
def test_virtualenv_when_the_venv_module_cannot_bootstrap_pip(tmp_path: Path) -> None:
    python = make_partial_python(tmp_path / "py", omit=("ensurepip",))
    facts = host_facts(tools_dir(tmp_path, "virtualenv"))
    info = ensure_venv(tmp_path / "proj", Path(".venv"), python, facts)
    assert info.method.startswith("created with virtualenv (uv not found")
    assert "python -m venv failed: exit 1" in info.method
    assert info.has_pip
    assert _pip_works(info)


@posix_only
def test_without_pip_then_ensurepip(tmp_path: Path) -> None:
    facts = host_facts()
    info = ensure_venv(
        tmp_path, Path(".venv"), base_python(), facts, creators=("venv-without-pip",)
    )
    assert info.method == "created with python -m venv --without-pip + ensurepip"
    assert info.has_pip
    assert _pip_works(info)


@posix_only
def test_without_pip_venv_is_accepted_when_uv_can_install(
    tmp_path: Path, log_messages: list[str]
) -> None:
    """Debian without python3-venv: no ensurepip at all; uv (used only to install) saves it."""
    python = make_partial_python(tmp_path / "py", omit=("ensurepip",))
    facts = host_facts(tools_dir(tmp_path, "uv"))
    info = ensure_venv(
        tmp_path / "proj",
        Path(".venv"),
        python,
        facts,
        creators=("venv", "virtualenv", "venv-without-pip"),
    )
    assert info.method.startswith("created with python -m venv --without-pip + ensurepip (")
    assert "python -m venv failed: exit 1" in info.method
    assert "virtualenv not found" in info.method
    assert not info.has_pip and info.uv  # uv installs into it
    assert any("ensurepip failed" in n for n in info.notes)
    assert _prefix(info) == str(info.path)
    assert any(
        m.startswith("WARNING: venv: creating .venv with python -m venv failed")
        for m in log_messages
    )


@posix_only
def test_no_creator_works_is_one_clear_error(tmp_path: Path) -> None:
    python = make_partial_python(tmp_path / "py", omit=("ensurepip",))
    project = tmp_path / "proj"
    with pytest.raises(VenvError) as caught:
        ensure_venv(project, Path(".venv"), python, host_facts())
    message = caught.value.message
    for label in ("uv:", "python -m venv:", "virtualenv:", "--without-pip + ensurepip:"):
        assert label in message
    assert "python3-venv" in caught.value.hint and "uv" in caught.value.hint
    assert not (project / ".venv").exists()  # no half-made venv left behind


# ---------------------------------------------------------------------------------------------
# Broken and foreign venvs


@linux_only
def test_venv_whose_base_interpreter_is_gone_is_recreated(
    tmp_path: Path, log_messages: list[str]
) -> None:
    # A venv made from an interpreter reached through a folder that is then deleted: its
    # bin/python3 dangles, exactly like after uninstalling or upgrading that Python.
    pyhome = tmp_path / "old-python"
    pyhome.mkdir()
    os.symlink(base_python(), pyhome / "python3")
    project = tmp_path / "proj"
    project.mkdir()
    subprocess.run(
        [
            str(pyhome / "python3"),
            "-m",
            "venv",
            "--without-pip",
            "--symlinks",
            str(project / ".venv"),
        ],
        check=True,
        timeout=120,
    )
    marker = project / ".venv" / "old-marker"
    marker.write_text("from the old venv")
    for entry in pyhome.iterdir():
        entry.unlink()
    pyhome.rmdir()

    facts = host_facts(tools_dir(tmp_path, "uv"))
    health = inspect_venv(project / ".venv", facts)
    assert not health.valid and health.codes == {"base-missing"}
    assert str(pyhome) in health.problems[0].message

    info = ensure_venv(project, Path(".venv"), base_python(), facts)
    assert info.created
    assert info.method.startswith("recreated with uv")
    assert not marker.exists()
    assert _prefix(info) == str(project / ".venv")
    assert any(
        m.startswith("WARNING: .venv: the base interpreter") and "recreating it" in m
        for m in log_messages
    )


def _fake_windows_venv(path: Path) -> dict[str, str]:
    """What a Windows venv looks like from WSL: Scripts\\ without bin/, home C:\\…"""
    scripts = path / "Scripts"
    scripts.mkdir(parents=True)
    (path / "pyvenv.cfg").write_text(
        "home = C:\\Users\\ann\\AppData\\Local\\Programs\\Python\\Python312\n"
        "include-system-site-packages = false\nversion = 3.12.4\n",
        encoding="utf-8",
    )
    (scripts / "python.exe").write_bytes(b"MZ\x90\x00" + b"\x00" * 60)
    (scripts / "activate.bat").write_text("@echo off\r\n", encoding="utf-8")
    (scripts / "Activate.ps1").write_text("# ps\r\n", encoding="utf-8")
    (path / "Lib" / "site-packages").mkdir(parents=True)
    return _snapshot(path)


def _snapshot(path: Path) -> dict[str, str]:
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "dir"
        for p in sorted(path.rglob("*"))
    }


@linux_only
def test_windows_venv_under_wsl_is_left_intact_and_a_sibling_is_used(
    tmp_path: Path, log_messages: list[str]
) -> None:
    project = tmp_path / "proj"
    before = _fake_windows_venv(project / ".venv")
    facts = host_facts(tools_dir(tmp_path, "uv"), WSL_DISTRO_NAME="Ubuntu")
    assert facts.wsl and facts.os_name == "wsl"

    health = inspect_venv(project / ".venv", facts)
    assert health.codes == {"foreign-os"} and health.built_for == "windows"
    assert ".venv-wsl" in health.problems[0].hint

    info = ensure_venv(project, Path(".venv"), base_python(), facts)
    assert info.path == project / ".venv-wsl"
    assert info.foreign == project / ".venv"
    assert info.created and info.method == "created with uv"
    assert _prefix(info) == str(project / ".venv-wsl")
    assert _snapshot(project / ".venv") == before  # not one byte of the Windows venv changed
    explained = [m for m in log_messages if m.startswith("WARNING:") and "left untouched" in m]
    assert len(explained) == 1 and "Scripts\\ without bin/" in explained[0]

    log_messages.clear()
    again = ensure_venv(project, Path(".venv"), base_python(), facts)
    assert not again.created and again.path == project / ".venv-wsl"
    assert again.method == "reused .venv-wsl (.venv belongs to Windows)"
    assert not [m for m in log_messages if m.startswith("WARNING:")]  # explained once only
    assert _snapshot(project / ".venv") == before


@linux_only
def test_linux_venv_seen_from_windows_uses_a_windows_sibling(uv_venv: VenvInfo) -> None:
    facts = PlatformFacts("win32", {"PATH": ""}, (), "")
    target, foreign, why = venv_for_platform(uv_venv.path, facts)
    assert target == uv_venv.path.with_name(".venv-windows")
    assert foreign == uv_venv.path
    assert "Linux executable" in why


def test_not_a_venv_folder_is_never_deleted(tmp_path: Path) -> None:
    (tmp_path / ".venv").mkdir()
    keep = tmp_path / ".venv" / "notes.txt"
    keep.write_text("mine")
    with pytest.raises(VenvError) as caught:
        ensure_venv(tmp_path, Path(".venv"), None, host_facts())
    assert "is not a virtual environment" in caught.value.message
    assert "ROBO_BACKEND_VENV" in caught.value.hint
    assert keep.read_text() == "mine"


def test_missing_venv_without_create_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(VenvError) as caught:
        ensure_venv(tmp_path, Path(".venv"), None, host_facts(), create=False)
    assert caught.value.message == f"no venv at {tmp_path / '.venv'}"
    assert "robo-backend up" in caught.value.hint
    assert not (tmp_path / ".venv").exists()


def test_inspect_a_healthy_venv(uv_venv: VenvInfo) -> None:
    health = inspect_venv(uv_venv.path, host_facts())
    assert health.valid and health.this_os and health.base_present
    assert health.python == uv_venv.python
    assert health.to_json()["problems"] == []


# ---------------------------------------------------------------------------------------------
# The activated environment


@posix_only
def test_activated_env_is_a_new_dict(uv_venv: VenvInfo) -> None:
    before = dict(os.environ)
    old = "/somewhere/old-venv"
    base = {
        "PATH": os.pathsep.join([f"{old}/bin", "/usr/bin"]),
        "PYTHONHOME": "/broken",
        "VIRTUAL_ENV": old,
        "KEEP": "1",
    }
    env = activated_env(uv_venv, base)
    assert dict(os.environ) == before
    assert base["PYTHONHOME"] == "/broken"  # the input is not touched either
    assert env["VIRTUAL_ENV"] == str(uv_venv.path)
    assert env["PATH"].split(os.pathsep) == [str(uv_venv.scripts_dir), "/usr/bin"]
    assert "PYTHONHOME" not in env and env["KEEP"] == "1"
    done = subprocess.run(
        ["python", "-c", "import sys, os; print(sys.prefix)"],
        env={**env, "PATH": env["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == str(uv_venv.path)


# ---------------------------------------------------------------------------------------------
# Interpreter discovery


def _script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(0o755)
    return path


@posix_only
def test_store_alias_is_skipped_and_py_launcher_used(tmp_path: Path) -> None:
    ran = tmp_path / "alias-ran"
    apps = tmp_path / "Users" / "ann" / "AppData" / "Local" / "Microsoft" / "WindowsApps"
    _script(
        apps / "python",
        f"touch '{ran}'\necho 'Python was not found; run without arguments to install from the "
        "Microsoft Store'\nexit 9009",
    )
    # `py -3`: the Python launcher, which ignores the version flag here and runs the real one.
    _script(tmp_path / "launcher" / "py", f'shift\nexec "{base_python()}" "$@"')
    facts = PlatformFacts("win32", {"PATH": f"{apps};{tmp_path / 'launcher'}"}, (), "")
    found = find_python(None, facts)
    assert found.source == "py -3"
    assert os.path.realpath(found.path) == base_python()
    assert not ran.exists()  # the alias was recognised by its folder, never run


@posix_only
def test_store_alias_outside_windowsapps_is_recognised_by_its_exit_code(tmp_path: Path) -> None:
    _script(tmp_path / "odd" / "python3", "echo 'Python was not found'\nexit 9009")
    facts = PlatformFacts("linux", {"PATH": str(tmp_path / "odd")}, (), "", sys.executable)
    found = find_python(None, facts)
    assert found.source == "the launcher's own Python"


def test_requested_python(tmp_path: Path) -> None:
    facts = host_facts()
    assert os.path.realpath(find_python(base_python(), facts).path) == base_python()
    with pytest.raises(UsageError) as caught:
        find_python(str(tmp_path / "no-such-python"), facts)
    assert "--python" in caught.value.message and caught.value.exit_code == 2


def _uv_made(project: Path, tmp: Path) -> Path:
    uv = tools_dir(tmp, "uv") / "uv"
    venv = project / ".venv"
    subprocess.run(
        [str(uv), "venv", "-q", "--python", base_python(), str(venv)], check=True, timeout=120
    )
    return venv


@posix_only
def test_venv_whose_python_does_not_run_is_recreated(tmp_path: Path) -> None:
    venv = _uv_made(tmp_path / "proj", tmp_path)
    python = venv / "bin" / "python"
    python.unlink()
    python.write_text("#!/bin/sh\necho 'error while loading shared libraries' >&2\nexit 127\n")
    python.chmod(0o755)
    facts = host_facts(tools_dir(tmp_path, "uv"))
    health = inspect_venv(venv, facts)
    assert health.codes == {"wont-run"}
    assert "error while loading shared libraries" in health.problems[0].message
    info = ensure_venv(tmp_path / "proj", Path(".venv"), base_python(), facts)
    assert info.method == "recreated with uv (the old one's python did not run)"
    assert _prefix(info) == str(venv)


@posix_only
def test_a_venv_that_hangs_is_reported_not_deleted(tmp_path: Path) -> None:
    venv = _uv_made(tmp_path / "proj", tmp_path)
    python = venv / "bin" / "python"
    python.unlink()
    python.write_text("#!/bin/sh\nexec sleep 60\n")  # killed by the validation timeout
    python.chmod(0o755)
    facts = host_facts(tools_dir(tmp_path, "uv"))
    with pytest.raises(VenvError) as caught:
        ensure_venv(tmp_path / "proj", Path(".venv"), None, facts, validate_timeout=1)
    assert "did not answer within 1 s" in caught.value.message
    assert "antivirus" in caught.value.hint
    assert python.exists()  # a slow venv is not a broken one: nothing was deleted


@linux_only
def test_activate_in_wsl_explains_the_missing_sibling(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    before = _fake_windows_venv(project / ".venv")
    facts = host_facts(WSL_INTEROP="/run/WSL/1_interop")
    with pytest.raises(VenvError) as caught:
        ensure_venv(project, Path(".venv"), None, facts, create=False)
    assert caught.value.message == f"no venv at {project / '.venv-wsl'}"
    assert "made on Windows" in caught.value.hint and "create .venv-wsl" in caught.value.hint
    assert _snapshot(project / ".venv") == before
    assert not (project / ".venv-wsl").exists()


@posix_only
def test_an_interpreter_is_asked_once_per_run_until_it_changes(tmp_path: Path) -> None:
    """`up`'s pre-flight and its venv step look for the same interpreter one after the other:
    the second look reuses the answer (a pyenv shim takes ~0.2 s to answer), unless the
    interpreter file changed in between."""
    calls = tmp_path / "calls"
    shim = tmp_path / "bin" / "python3"
    _script(shim, f'echo run >> "{calls}"\nexec "{base_python()}" "$@"')
    facts = PlatformFacts("linux", {"PATH": str(shim.parent)}, (), "", sys.executable)
    first, second = find_python(None, facts), find_python(None, facts)
    assert first == second and os.path.realpath(first.path) == base_python()
    assert calls.read_text().count("run") == 1
    _script(shim, f'echo run >> "{calls}"\n# edited\nexec "{base_python()}" "$@"')
    find_python(None, facts)
    assert calls.read_text().count("run") == 2


@posix_only
def test_the_entry_points_early_probe_is_the_one_find_python_uses(tmp_path: Path) -> None:
    """A cold `up` starts probing python3 from its entry point; the venv step then collects
    that answer (waiting for it if need be) instead of running the interpreter again."""
    from launcher.venvs.interpreters import probe_soon

    calls = tmp_path / "calls"
    shim = tmp_path / "bin" / "python3"
    _script(shim, f'echo run >> "{calls}"\nsleep 0.3\nexec "{base_python()}" "$@"')
    facts = PlatformFacts("linux", {"PATH": str(shim.parent)}, (), "", sys.executable)
    probe_soon(facts)
    found = find_python(None, facts)  # while the early probe is still sleeping
    assert os.path.realpath(found.path) == base_python()
    assert calls.read_text().count("run") == 1
