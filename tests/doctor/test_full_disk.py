"""A full project drive: doctor says so (a real write probe, not "writable"), `up` stops at its
pre-flight with one line and a hint, and `prefetch` on a warm cache reports the status file it
cannot write in one line instead of an internal error. A real tmpfs, so ENOSPC is real (root)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.models.fetch import prefetch
from launcher.models.options import PrefetchOptions
from tests.doctor.test_parity import checks_of, run
from tests.fakehub.server import FakeHub
from tests.helpers import disks


@pytest.fixture
def full_state_dir(tmp_path: Path) -> Iterator[Path]:
    """A state folder that exists, on a drive with not one byte left."""
    with disks.tiny_disk(tmp_path / "full-disk", size="200k") as drive:
        state = drive / "state"
        state.mkdir()
        disks.fill(drive)
        yield state


def test_doctor_and_up_say_the_state_drive_is_full(project: Path, full_state_dir: Path) -> None:
    env = {"ROBO_BACKEND_STATE_DIR": str(full_state_dir)}

    doctor = run("doctor", project, "--json", env=env)

    state = checks_of(doctor)["state-dir"]
    assert state["status"] == "fail", state
    assert "disk is full" in str(state["summary"])
    assert "Free some space" in str(state["hint"])

    up = run("up", project, "--port", "0", env=env)
    assert up.returncode == 1, up.stderr
    assert "internal error" not in up.stderr and "Traceback" not in up.stderr
    assert "error: the state folder" in up.stderr and "disk is full" in up.stderr
    assert "hint: Free some space" in up.stderr
    assert not (project / ".venv").exists()  # stopped before anything was made


def test_prefetch_on_a_warm_cache_says_which_file_it_cannot_write(
    project: Path, full_state_dir: Path, tmp_path: Path, fake_hub: FakeHub
) -> None:
    cache = tmp_path / "cache"
    warm = PrefetchOptions(cache=cache, endpoint=fake_hub.url, legacy_dir=tmp_path / "no-legacy")
    assert prefetch(warm).state == "ready"

    done = run(
        "prefetch", project, "--cache-dir", str(cache), "--json",
        env={"ROBO_BACKEND_STATE_DIR": str(full_state_dir)},
    )  # fmt: skip

    assert done.returncode == 1, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert f"error: cannot write the status file {full_state_dir / 'status.json'}" in done.stderr
    assert "(the disk is full)" in done.stderr and "hint: Free some space" in done.stderr
    assert done.stderr.count("status file") == 1  # said once, not warned and then failed
    assert done.stdout == ""  # no stale document passed off as this run's
    with pytest.raises(FileNotFoundError):
        json.loads((full_state_dir / "status.json").read_text())
