"""The cache folder is decided by one function, and what the pre-flight checked is what is used.

The venv holds a real "future" fastembed (tests/adoption/test_future_fastembed.py) that opens
its own folder whatever FASTEMBED_CACHE_PATH says, so the folder follows its answer: doctor and a
later pre-flight decide from the answer an earlier run remembered; a model step that learns the
answer only after the pre-flight decides again and re-checks that folder before writing to it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from launcher.checks import DoctorContext, PreflightError
from launcher.model_step import (
    asked_fastembed,
    decide_cache,
    make_model_ready,
)
from launcher.models.location import CacheLocation
from launcher.settings import Flags, resolve_settings
from tests.adoption.test_future_fastembed import future_venv
from tests.fakehub.fixtures import BGE_MODEL
from tests.fakehub.server import FakeHub

__all__ = ["future_venv"]  # the fixture, shared


def test_doctor_and_a_later_pre_flight_use_the_folder_the_venvs_fastembed_opens(
    future_venv: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    ours = tmp_path / "ours"
    env = {"FASTEMBED_CACHE_PATH": str(ours)}
    flags: Flags = {"venv": str(future_venv), "model": BGE_MODEL}
    settings = resolve_settings(project, flags, env)

    first = decide_cache(settings, env)
    assert first.location.path == ours and first.followed is None  # nothing remembered yet

    python = future_venv / "bin" / "python"
    asked = asked_fastembed(settings, future_venv, python, env, first.location.path)
    own = asked.own_cache
    assert own is not None and own.name == "future-fastembed-cache"

    later = decide_cache(settings, env)
    assert (later.location.path, later.followed) == (own, own)
    doctor = DoctorContext.build(project, flags=flags, env=env)
    assert doctor.cache is not None and doctor.cache.path == own


def test_the_model_step_rechecks_a_folder_decided_after_the_pre_flight(
    future_venv: Path, fake_hub: FakeHub, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    env = {"FASTEMBED_CACHE_PATH": str(tmp_path / "ours"), "HF_ENDPOINT": fake_hub.url}
    flags: Flags = {"venv": str(future_venv), "model": BGE_MODEL, "fallback_model": ""}
    settings = resolve_settings(project, {**flags, "retries": 1}, env)
    checked = decide_cache(settings, env)  # what the pre-flight checked
    python = future_venv / "bin" / "python"
    seen: list[Path] = []

    def refuse(location: CacheLocation) -> None:
        seen.append(location.path)
        raise PreflightError("not writable", "Choose another folder.")

    with pytest.raises(PreflightError):
        make_model_ready(settings, env, checked, future_venv, python, recheck=refuse)
    own = seen[0]
    assert own.name == "future-fastembed-cache"
    assert not list(own.glob("models--*")), "nothing is written before the re-check passes"

    step = make_model_ready(
        settings, env, checked, future_venv, python, recheck=lambda c: seen.append(c.path)
    )
    assert seen == [own, own]
    assert step.result.state == "ready", step.result.last_error
    assert step.cache.path == own
    assert Path(step.result.path or "").is_relative_to(own)


def test_a_reinstalled_fastembed_is_asked_with_the_settings_folder_not_its_own(
    future_venv: Path, fake_hub: FakeHub, tmp_path: Path
) -> None:
    """Whether fastembed follows FASTEMBED_CACHE_PATH is told by giving it the settings' folder:
    given its own folder, it would seem to follow the variable and the model would go elsewhere."""
    import os

    project = tmp_path / "project"
    project.mkdir()
    ours = tmp_path / "ours"
    env = {"FASTEMBED_CACHE_PATH": str(ours), "HF_ENDPOINT": fake_hub.url}
    flags: Flags = {"venv": str(future_venv), "model": BGE_MODEL, "fallback_model": ""}
    settings = resolve_settings(project, flags, env)
    python = future_venv / "bin" / "python"
    own = asked_fastembed(settings, future_venv, python, env, ours).own_cache  # a first run
    assert own is not None
    checked = decide_cache(settings, env)
    assert (checked.location.path, checked.configured) == (own, ours)

    dist = next(future_venv.glob("lib/python*/site-packages/fastembed-*.dist-info"))
    os.utime(dist, ns=(1, 1))  # reinstalled since: the remembered answer no longer holds
    rechecked: list[Path] = []
    step = make_model_ready(
        settings, env, checked, future_venv, python, recheck=lambda c: rechecked.append(c.path)
    )
    assert rechecked == [], "its answer did not change: the checked folder stays"
    assert step.cache.path == own and step.result.state == "ready", step.result.last_error
