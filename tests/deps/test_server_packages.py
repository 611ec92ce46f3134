"""uvicorn and fastapi among the project's dependencies: named before anything is installed.

`up` runs the backend with `python -m uvicorn`. A lock without uvicorn stops the dependency step
before the installer runs; a list that does not name it is a warning (another package may bring
it), and a venv that still has none after the install is an error; each says the line to add.
`doctor` says the same as its `server-packages` check. Real venvs, real uv, real packages.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from launcher.checks import DoctorContext, run_checks
from launcher.deps import sync_for_up
from launcher.deps.declared import venv_has
from launcher.errors import DependencyError
from launcher.platform import PlatformFacts
from launcher.settings import Settings, resolve_settings
from launcher.venvs import VenvInfo, ensure_venv
from tests.deps.packages import wheel
from tests.helpers.venvs import base_python

FIXTURES = Path(__file__).parent / "fixtures"


def prepare(project: Path, env: dict[str, str]) -> tuple[Settings, VenvInfo, PlatformFacts]:
    """The settings, a fresh venv (as `up`'s venv step makes it) and the facts for `project`."""
    settings = resolve_settings(project, {}, env)
    facts = PlatformFacts.local(env)
    venv = ensure_venv(
        project, settings.venv_path, base_python(), facts, state_dir=settings.state_path
    )
    return settings, venv, facts


def doctor_finding(project: Path, env: dict[str, str]) -> tuple[str, str, str]:
    context = DoctorContext.build(project, env=env)
    (check,) = run_checks(context, only=["server-packages"])
    return check.status, check.summary, check.hint


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No poetry, nothing else on PATH; local wheels next to the package index."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel(wheels, "tinydep", "1.0")
    wheel(wheels, "framework", "1.0", requires=("uvicorn>=0.30,<0.31",))
    return dict(os.environ, PATH=str(empty), UV_FIND_LINKS=str(wheels))


def test_a_lock_without_uvicorn_stops_before_anything_is_installed(
    tmp_path: Path, env: dict[str, str]
) -> None:
    project = tmp_path / "app"
    shutil.copytree(FIXTURES / "poetry-no-uvicorn", project)
    settings, venv, facts = prepare(project, env)
    with pytest.raises(DependencyError) as stopped:
        sync_for_up(settings, venv, facts, env)
    assert stopped.value.message == (
        "the project's dependencies (poetry.lock) do not include uvicorn, which `up` runs the "
        "backend with (python -m uvicorn)"
    )
    assert 'Add `uvicorn = "*"` under [tool.poetry.dependencies]' in stopped.value.hint
    assert "poetry lock" in stopped.value.hint
    assert not venv_has(venv.path, "fastapi")  # nothing was installed
    status, summary, hint = doctor_finding(project, env)
    assert status == "fail"
    assert summary.startswith("uvicorn is not among the dependencies in poetry.lock")
    assert hint == stopped.value.hint


def test_a_list_without_uvicorn_warns_first_then_fails_when_nothing_brought_it(
    tmp_path: Path, env: dict[str, str], log_messages: list[str]
) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "requirements.txt").write_text("tinydep==1.0\n")
    assert doctor_finding(project, env)[0] == "warn"
    settings, venv, facts = prepare(project, env)
    with pytest.raises(DependencyError) as failed:
        sync_for_up(settings, venv, facts, env)
    warnings = [m for m in log_messages if m.startswith("WARNING: ")]
    assert warnings[:2] == [
        "WARNING: uvicorn is not among the dependencies in requirements.txt (it may come with "
        "another package): Add the line `uvicorn` to requirements.txt.",
        "WARNING: fastapi is not among the dependencies in requirements.txt (it may come with "
        "another package): Add the line `fastapi` to requirements.txt.",
    ]
    assert venv_has(venv.path, "tinydep")  # the install ran; only then was it certain
    assert failed.value.message.startswith(f"uvicorn is not installed in {venv.path}")
    assert failed.value.hint == "Add the line `uvicorn` to requirements.txt."
    status, summary, hint = doctor_finding(project, env)
    assert status == "warn" and "the venv has none" in summary
    assert hint.startswith("Add the line `uvicorn` to requirements.txt.")


def test_uvicorn_brought_by_another_package_is_enough(tmp_path: Path, env: dict[str, str]) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "requirements.txt").write_text("framework==1.0\nfastapi\n")
    settings, venv, facts = prepare(project, env)
    venv_after, result = sync_for_up(settings, venv, facts, env)
    assert result.installed and venv_after == venv
    assert venv_has(venv.path, "uvicorn")
    assert doctor_finding(project, env)[0] == "ok"


def test_a_project_that_declares_nothing_fails_doctor(tmp_path: Path, env: dict[str, str]) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "main.py").write_text("app = None\n")
    status, summary, hint = doctor_finding(project, env)
    assert status == "fail"
    assert summary.startswith("uvicorn is not among the dependencies in the project")
    assert hint.startswith("Add the line `uvicorn` to a requirements.txt")


def test_a_poetry_lock_with_both_is_fine(env: dict[str, str]) -> None:
    assert doctor_finding(FIXTURES / "poetry-app", env)[0] == "ok"
