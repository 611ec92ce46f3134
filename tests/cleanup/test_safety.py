"""The planner's safety rules, on real folders: refused roots, a root swapped under our feet,
and the confirmation prompt on a real terminal (a pty)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path

import pytest

from launcher.cleanup import (
    Selection,
    Skip,
    UnsafeRootError,
    check_root,
    execute,
    plan_cleanup,
)
from launcher.models.layout import repo_folder_name
from tests.fakehub.fixtures import BGE_MODEL, BGE_REPO
from tests.helpers.cachebuild import make_model
from tests.helpers.cli import CliRunner, launcher_argv

BGE_DIR = repo_folder_name(BGE_REPO)


def test_check_root_refuses_slash_home_project_and_their_parents(tmp_path: Path) -> None:
    home = tmp_path / "home" / "me"
    project = tmp_path / "work" / "backend"
    home.mkdir(parents=True)
    project.mkdir(parents=True)
    for bad in (Path("/"), home, home.parent, project, project.parent):
        with pytest.raises(UnsafeRootError) as caught:
            check_root(bad, project=project, home=home)
        assert caught.value.exit_code == 2 and caught.value.hint
    # A folder inside the project or the home folder is a fine cache root.
    assert check_root(project / ".cache", project=project, home=home) == project / ".cache"
    assert check_root(home / ".cache" / "m", project=project, home=home) == home / ".cache" / "m"


def test_check_root_sees_through_a_symlink_to_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    alias = tmp_path / "innocent-looking"
    alias.symlink_to(home, target_is_directory=True)
    with pytest.raises(UnsafeRootError):
        check_root(alias, project=None, home=home)


def test_a_root_swapped_after_planning_is_not_followed(
    tmp_path: Path, embedding_models: dict[str, dict[str, bytes]]
) -> None:
    root = tmp_path / "cache"
    make_model(root, BGE_MODEL, embedding_models[BGE_REPO])
    plan = plan_cleanup(root, Selection(), project=tmp_path / "p", home=tmp_path / "h")
    assert [e.action for e in plan.entries] == ["would-delete"]
    # Between the plan and the deletion, the root becomes a link to someone else's folder
    # that happens to hold a folder of the same name.
    root.rename(tmp_path / "moved")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / BGE_DIR).mkdir(parents=True)
    (elsewhere / BGE_DIR / "data.bin").write_bytes(b"x" * 10)
    root.symlink_to(elsewhere, target_is_directory=True)
    execute(plan, lock=None)
    assert plan.entries[0].action == "skipped"
    assert "no longer inside the cache root" in plan.entries[0].reason
    # the decision is a typed value the renderer uses (it warns about failures), not the text
    assert plan.entries[0].skip is Skip.MOVED and plan.failures == [plan.entries[0]]
    assert (elsewhere / BGE_DIR / "data.bin").exists()
    assert plan.freed_bytes == 0


def _run_on_pty(args: list[str], answer: bytes, cwd: Path) -> tuple[int, str]:
    """Run the CLI with a real terminal on stdin, type `answer`, return (exit code, stderr)."""
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(
            launcher_argv(*args),
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            text=True,
        )
        os.close(slave)
        slave = -1
        os.write(master, answer)
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate(timeout=10)
        return process.returncode, err + out
    finally:
        if slave != -1:
            os.close(slave)
        os.close(master)


@pytest.mark.parametrize(("answer", "code", "deleted"), [(b"y\n", 0, True), (b"n\n", 1, False)])
def test_on_a_terminal_it_asks_first(
    answer: bytes,
    code: int,
    deleted: bool,
    tmp_path: Path,
    embedding_models: dict[str, dict[str, bytes]],
) -> None:
    root = tmp_path / "cache"
    make_model(root, BGE_MODEL, embedding_models[BGE_REPO])
    project = tmp_path / "project"
    project.mkdir()
    returncode, output = _run_on_pty(
        ["clear-cache", "-p", str(project), "--cache-dir", str(root)], answer, Path.cwd()
    )
    assert "Delete 1 entry" in output
    assert returncode == code, output
    assert (root / BGE_DIR).exists() is not deleted


def test_json_document_of_a_refusal_is_not_printed(tmp_path: Path, run_cli: CliRunner) -> None:
    """An error leaves stdout empty: scripts never parse half a document."""
    done = run_cli(
        "clear-cache", "-p", str(tmp_path), "--cache-dir", str(tmp_path), "--json", "--yes"
    )
    assert done.returncode == 2
    assert done.stdout == ""
    with pytest.raises(json.JSONDecodeError):
        json.loads(done.stdout)
