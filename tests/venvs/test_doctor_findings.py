"""`doctor` on a half-installed venv and on a lock whose holder died: what it says `up` does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from launcher.checks import run_checks
from launcher.checks.core import Check, DoctorContext
from launcher.platform import PlatformFacts
from launcher.venvs.marker import MARKER
from launcher.venvs.project_lock import HOLDER_FILE

UV = Path(sys.executable).parent / ("uv.exe" if sys.platform == "win32" else "uv")


def project_with_venv(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "0"\ndependencies = []\n', encoding="utf-8"
    )
    (project / "main.py").write_text("from fastapi import FastAPI\n\napp = FastAPI()\n")
    subprocess.run(
        [str(UV), "venv", "--quiet", "--python", sys.executable, str(project / ".venv")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return project


def venv_checks(project: Path) -> dict[str, Check]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    context = DoctorContext.build(project, env=env, facts=PlatformFacts.current())
    return {c.id: c for c in run_checks(context, only={"venv"})}


def dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return int(done.stdout)


def test_doctor_recognises_an_interrupted_install(tmp_path: Path) -> None:
    project = project_with_venv(tmp_path)
    (project / ".venv" / MARKER).write_text(json.dumps({"pid": dead_pid(), "tool": "uv"}))
    check = venv_checks(project)["venv"]
    assert check.status == "warn"
    assert check.summary.startswith("venv .venv is half-installed: an install into it with uv")
    assert "`up` recreates it" in check.hint


def test_doctor_recognises_a_package_without_metadata(tmp_path: Path) -> None:
    project = project_with_venv(tmp_path)
    site = next((project / ".venv").glob("lib/python*/site-packages"))
    (site / "halfdone-1.0.dist-info").mkdir()
    check = venv_checks(project)["venv"]
    assert check.status == "warn"
    assert "halfdone-1.0.dist-info without METADATA/RECORD" in check.summary


def test_doctor_shows_the_dependency_source(tmp_path: Path) -> None:
    project = project_with_venv(tmp_path)
    (project / "requirements.txt").write_text("tinydep==1.0\n")
    check = venv_checks(project)["venv"]
    assert "(from requirements.txt + [project].dependencies)" in check.summary
    assert check.details["deps_source"] == "requirements"


def test_doctor_recognises_a_stale_lock(tmp_path: Path) -> None:
    project = project_with_venv(tmp_path)
    state = project / ".robo-backend"
    state.mkdir()
    (state / "env.lock").write_text("")
    pid = dead_pid()
    holder = {"pid": pid, "purpose": "installing dependencies", "since": 0}
    (state / HOLDER_FILE).write_text(json.dumps(holder))
    check = venv_checks(project)["venv-lock"]
    assert check.status == "warn"
    assert check.summary.startswith(f"a stale venv lock: pid {pid} (installing dependencies")
    assert "`up` takes the lock over" in check.hint


def test_doctor_fails_when_no_python_fits_requires_python(tmp_path: Path) -> None:
    project = project_with_venv(tmp_path)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "0"\nrequires-python = ">=3.99"\ndependencies = []\n',
        encoding="utf-8",
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    context = DoctorContext.build(project, env=env, facts=PlatformFacts.current())
    check = {c.id: c for c in run_checks(context, only={"python"})}["python"]
    assert check.status == "fail"  # the venv on 3.11 would be recreated: it needs one
    assert "requires-python >=3.99" in check.summary
    assert "uv python install 3.99" in check.hint
