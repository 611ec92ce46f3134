"""Venvs that are not what they look like, said as they are: a `.venv` that is a symbolic link
to nothing, and a `.venv` copied from another folder (its scripts still point there)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from launcher.errors import VenvError
from launcher.venvs import ensure_venv
from launcher.venvs.ensure import copied_from
from tests.helpers.venvs import base_python, host_facts, tools_dir

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX scripts and symlinks")


@posix_only
def test_a_dangling_venv_link_is_named_the_same_way_every_time(
    tmp_path: Path, log_messages: list[str]
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / ".venv").symlink_to(tmp_path / "gone" / "venv")
    facts = host_facts(tools_dir(tmp_path, "uv"))

    for _ in range(2):  # the second run must not claim an interrupted creation
        with pytest.raises(VenvError) as caught:
            ensure_venv(project, Path(".venv"), base_python(), facts, creators=("uv",))
        assert caught.value.message == (
            f"{project / '.venv'} is a symbolic link to {tmp_path / 'gone' / 'venv'}, which "
            "does not exist"
        )
        assert "rm " in caught.value.hint
    assert not any("interrupted" in message for message in log_messages)
    assert (project / ".venv").is_symlink()  # the user's link is theirs: never deleted


@posix_only
def test_a_venv_copied_from_another_folder_is_recreated_saying_so(
    tmp_path: Path, log_messages: list[str]
) -> None:
    facts = host_facts(tools_dir(tmp_path, "uv"))
    first = tmp_path / "first"
    first.mkdir()
    made = ensure_venv(first, Path(".venv"), base_python(), facts, creators=("uv",))
    # a console script, as any installed package has one: its shebang names this venv
    script = made.path / "bin" / "hello"
    script.write_text(f"#!{made.python}\nprint('hello')\n")
    script.chmod(0o755)
    second = tmp_path / "second"
    second.mkdir()
    shutil.copytree(made.path, second / ".venv", symlinks=True)
    assert copied_from(second / ".venv") == made.path
    assert copied_from(made.path) is None  # the original is where it was made

    again = ensure_venv(second, Path(".venv"), base_python(), facts, creators=("uv",))

    assert again.created
    assert f"copied or moved from {made.path}" in again.method
    assert any(f"copied or moved from {made.path}" in m for m in log_messages)
    assert copied_from(second / ".venv") is None
    done = subprocess.run(
        [str(again.python), "-c", "import sys; print(sys.prefix)"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert Path(done.stdout.strip()) == second / ".venv"
    # and reused without a word the next time
    assert not ensure_venv(second, Path(".venv"), base_python(), facts, creators=("uv",)).created


@posix_only
def test_system_shebangs_are_not_taken_for_another_venv(tmp_path: Path) -> None:
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "tool").write_text("#!/usr/bin/python3\n")
    (venv / "bin" / "other").write_text("#!/usr/bin/env python3\n")
    (venv / "bin" / "activate").write_text(f'VIRTUAL_ENV="{venv}"\nexport VIRTUAL_ENV\n')
    assert copied_from(venv) is None


@posix_only
def test_doctor_names_a_dangling_venv_link(tmp_path: Path) -> None:
    from launcher.checks import run_checks
    from launcher.checks.core import DoctorContext

    project = tmp_path / "project"
    project.mkdir()
    (project / ".venv").symlink_to(tmp_path / "gone")
    context = DoctorContext.build(project, env={"HF_HUB_OFFLINE": "1"})
    venv = next(c for c in run_checks(context, only=("venv",)) if c.id == "venv")
    assert venv.status == "fail" and "is a symbolic link to" in venv.summary
