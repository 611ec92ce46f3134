"""python and venv checks on real interpreters and real venvs, and `up`'s pre-flight."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from launcher.checks import PreflightError, preflight
from launcher.deps import compute_stamp
from launcher.deps.stamp import write_stamp
from launcher.models.location import CacheLocation
from launcher.settings import resolve_settings
from launcher.shells.detect import PlatformFacts
from tests.helpers.cli import CliRunner
from tests.helpers.doctor import LINUX, Builder, only


def make_venv(path: Path) -> Path:
    """A real venv made by uv (fast), with the launcher's interpreter as its base."""
    uv = Path(sys.executable).parent / "uv"
    subprocess.run(
        [str(uv), "venv", "--quiet", "--python", sys.executable, str(path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return path


def test_python_found_on_path(build: Builder) -> None:
    check = only(build(), "python")
    assert check.status == "ok", check
    assert check.details["version"].startswith("3.")
    assert Path(check.details["path"]).exists()


def test_python_skips_the_store_alias(build: Builder, tmp_path: Path) -> None:
    apps = tmp_path / "Microsoft" / "WindowsApps"
    apps.mkdir(parents=True)
    alias = apps / "python3"
    alias.write_text(
        "#!/bin/sh\necho 'Python was not found; run without arguments to install from the "
        "Microsoft Store' >&2\nexit 49\n",
        encoding="utf-8",
    )
    alias.chmod(0o755)
    facts = PlatformFacts(
        platform="linux",
        env={"PATH": f"{apps}{os.pathsep}{os.environ['PATH']}"},
        parents=("bash",),
        executable=sys.executable,
    )
    check = only(build(facts=facts), "python")
    assert check.status == "ok", check
    assert check.details["store_aliases_skipped"] == [str(alias)]
    assert "skipped the Microsoft Store alias" in check.summary
    assert "WindowsApps" not in check.details["path"]


def test_requested_python_that_does_not_exist_fails_when_a_venv_must_be_made(
    build: Builder,
) -> None:
    check = only(build(flags={"python": "/nonexistent/python3"}), "python")
    assert check.status == "fail"
    assert "/nonexistent/python3" in check.summary
    assert "full path" in check.hint


def test_requested_python_missing_is_only_a_warning_when_the_venv_works(
    build: Builder, project: Path
) -> None:
    make_venv(project / ".venv")
    check = only(build(flags={"python": "/nonexistent/python3"}), "python")
    assert check.status == "warn"
    assert "the existing venv works" in check.summary


def test_venv_missing_is_a_warning(build: Builder) -> None:
    check = only(build(), "venv")
    assert check.status == "warn"
    assert "no venv at .venv yet" in check.summary and "it creates the venv" in check.hint


def test_venv_healthy_with_dependencies_in_sync_and_then_changed(
    build: Builder, project: Path
) -> None:
    (project / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "0"\ndependencies = []\n', encoding="utf-8"
    )
    venv = make_venv(project / ".venv")
    check = only(build(), "venv")
    assert check.status == "ok", check  # no dependencies declared: nothing to install
    assert "dependencies in sync" in check.summary
    assert check.details["version"] == ".".join(map(str, sys.version_info[:3]))

    (project / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "0"\ndependencies = ["fastapi"]\n', encoding="utf-8"
    )
    check = only(build(), "venv")
    assert check.status == "warn" and check.details["deps"] == "missing"

    settings = resolve_settings(project, {}, {})
    stamp, inputs = compute_stamp(project, venv / "bin" / "python")
    write_stamp(settings.state_path, stamp, inputs, "uv")
    assert only(build(), "venv").details["deps"] == "in-sync"

    (project / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "0"\ndependencies = ["fastapi", "httpx"]\n',
        encoding="utf-8",
    )
    check = only(build(), "venv")
    assert check.status == "warn" and "changed" in check.summary
    assert "`up` installs them" in check.hint


def test_venv_whose_base_interpreter_is_gone_warns(build: Builder, project: Path) -> None:
    venv = project / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /opt/python-3.9-uninstalled/bin\n", encoding="utf-8")
    (venv / "bin" / "python").symlink_to("/opt/python-3.9-uninstalled/bin/python3.9")
    check = only(build(), "venv")
    assert check.status == "warn"
    assert "base interpreter" in check.summary and "recreates" in check.hint


def test_windows_venv_seen_from_linux_is_left_alone(build: Builder, project: Path) -> None:
    venv = project / ".venv"
    (venv / "Scripts").mkdir(parents=True)
    (venv / "Scripts" / "python.exe").write_bytes(b"MZ\x90\x00")
    (venv / "pyvenv.cfg").write_text("home = C:\\Python311\n", encoding="utf-8")
    check = only(build(), "venv")
    assert check.status == "warn"
    assert ".venv-linux" in check.summary and "another OS" in check.summary
    assert check.details["foreign"] == str(venv)


def test_venv_path_that_is_a_file_fails(build: Builder, project: Path) -> None:
    (project / ".venv").write_text("oops", encoding="utf-8")
    check = only(build(), "venv")
    assert check.status == "fail"
    assert "not a virtual environment" in check.summary and check.hint


# --------------------------------------------------------------------------- pre-flight


def test_preflight_passes_with_no_venv_and_no_model(project: Path, tmp_path: Path) -> None:
    settings = resolve_settings(project, {}, {})
    cache = CacheLocation(tmp_path / "empty-cache", "--cache-dir", True)
    checks = preflight(settings, cache=cache, port=8000, facts=LINUX, env={"HF_HUB_OFFLINE": "1"})
    assert [c.id for c in checks] == ["python", "cache-dir", "settings", "health-path", "state-dir"]
    assert all(c.status != "fail" for c in checks)


def test_preflight_stops_on_a_cache_dir_that_is_a_file(project: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "cache-file"
    blocker.write_text("x", encoding="utf-8")
    settings = resolve_settings(project, {}, {})
    with pytest.raises(PreflightError) as caught:
        preflight(
            settings, cache=CacheLocation(blocker, "--cache-dir", True), port=8000, facts=LINUX
        )
    assert "is not a folder" in caught.value.message
    assert "--cache-dir" in caught.value.hint
    assert caught.value.exit_code == 1


def test_preflight_sends_nothing_to_the_hub(project: Path, tmp_path: Path) -> None:
    def no_network(url: str, timeout: float, token: str | None) -> None:
        raise AssertionError("the pre-flight must not touch the network")

    settings = resolve_settings(project, {}, {})
    cache = CacheLocation(tmp_path / "c", "--cache-dir", True)
    preflight(settings, cache=cache, port=8000, facts=LINUX, hub_probe=no_network)


def test_up_stops_at_the_preflight_with_the_check_hint(project: Path, run_cli: CliRunner) -> None:
    (project / "main.py").write_text(
        "from fastapi import FastAPI\napp = FastAPI()\n", encoding="utf-8"
    )
    done = run_cli(
        "up", "-p", str(project), "--python", "/nonexistent/python3", "--offline", "--port", "0",
        env={"HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "error: --python /nonexistent/python3: no usable interpreter" in done.stderr
    assert "hint: Pass the full path of a Python 3 interpreter" in done.stderr
    assert "✗ pre-flight checks  failed" in done.stderr  # the step line, marked as failed
    assert not (project / ".venv").exists()
