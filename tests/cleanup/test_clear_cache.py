"""clear-cache as a user runs it: the real CLI in a subprocess on a real cache folder."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from launcher.models.layout import repo_folder_name
from launcher.models.lock import lock_path
from tests.fakehub.fixtures import BGE_MODEL, BGE_REPO, MINILM_MODEL, MINILM_REPO
from tests.helpers.cachebuild import (
    LockHolder,
    break_model,
    corrupt_model,
    folder_bytes,
    make_model,
)
from tests.helpers.cli import CliRunner
from tests.helpers.schemas import CLEAR_CACHE_SCHEMA, validate

BGE_DIR = repo_folder_name(BGE_REPO)
MINILM_DIR = repo_folder_name(MINILM_REPO)


def document(done: subprocess.CompletedProcess[str]) -> dict:
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)  # exactly one JSON document on stdout
    validate(data, CLEAR_CACHE_SCHEMA)
    return data


def by_name(data: dict) -> dict[str, dict]:
    return {Path(e["path"]).name: e for e in data["entries"]}


def test_default_deletes_every_model_and_reports_bytes_freed(
    cache: Path, run_cli: CliRunner
) -> None:
    sizes = folder_bytes(cache / BGE_DIR) + folder_bytes(cache / MINILM_DIR)
    done = run_cli("clear-cache", "--cache-dir", str(cache), "--yes", "--json")
    data = document(done)
    assert data["dry_run"] is False
    assert data["root"] == str(cache.resolve())
    entries = by_name(data)
    assert entries[BGE_DIR]["action"] == entries[MINILM_DIR]["action"] == "deleted"
    assert data["freed_bytes"] == sizes > 0
    assert not (cache / BGE_DIR).exists() and not (cache / MINILM_DIR).exists()


def test_human_output_lists_paths_sizes_and_freed_total(cache: Path, run_cli: CliRunner) -> None:
    done = run_cli("clear-cache", "--cache-dir", str(cache), "--yes")
    assert done.returncode == 0, done.stderr
    # the report is on stdout (so `clear-cache | less` shows it), nothing of it on stderr
    assert str(cache / BGE_DIR) in done.stdout
    assert "Deleted 2 entries, freed" in done.stdout
    assert str(cache / BGE_DIR) not in done.stderr
    # one level of brackets: "(BAAI/bge-small-en-v1.5, cached)", not "(… (cached))"
    assert "(BAAI/bge-small-en-v1.5, cached)" in done.stdout
    assert "))" not in done.stdout


def test_dry_run_lists_sizes_and_deletes_nothing(cache: Path, run_cli: CliRunner) -> None:
    before = folder_bytes(cache)
    done = run_cli("clear-cache", "--cache-dir", str(cache), "--dry-run", "--json")
    data = document(done)
    assert data["dry_run"] is True
    assert data["freed_bytes"] == 0
    entries = by_name(data)
    assert entries[BGE_DIR]["action"] == "would-delete"
    assert entries[BGE_DIR]["bytes"] == folder_bytes(cache / BGE_DIR) > 0
    assert folder_bytes(cache) == before
    verbose = document(
        run_cli("clear-cache", "--cache-dir", str(cache), "--dry-run", "--json", "-v")
    )
    assert verbose["entries"] == data["entries"]  # -v logs go to stderr, stdout stays JSON
    human = run_cli("clear-cache", "--cache-dir", str(cache), "--dry-run")
    assert "would delete" in human.stdout and "nothing was deleted" in human.stdout
    assert folder_bytes(cache) == before


def test_without_a_terminal_and_without_yes_it_refuses(cache: Path, run_cli: CliRunner) -> None:
    before = folder_bytes(cache)
    done = run_cli("clear-cache", "--cache-dir", str(cache))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "error: not deleting 2 entries" in done.stderr
    assert "hint: Re-run with --yes" in done.stderr
    assert "Deleted" not in done.stdout  # the plan is listed on stdout, nothing deleted
    assert folder_bytes(cache) == before and (cache / BGE_DIR).is_dir()


def test_symlink_to_outside_is_unlinked_and_its_target_survives(
    cache: Path, tmp_path: Path, run_cli: CliRunner
) -> None:
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "thesis.txt").write_text("do not delete", encoding="utf-8")
    # A whole "model folder" that is a link to elsewhere, and a link inside a real model folder.
    (cache / "models--evil--link").symlink_to(outside, target_is_directory=True)
    (cache / BGE_DIR / "snapshots" / "escape").symlink_to(outside, target_is_directory=True)
    data = document(run_cli("clear-cache", "--cache-dir", str(cache), "--yes", "--json"))
    entries = by_name(data)
    assert entries["models--evil--link"]["action"] == "deleted"
    assert entries["models--evil--link"]["bytes"] == 0  # a link frees nothing of its target
    assert not os.path.lexists(cache / "models--evil--link")
    assert not (cache / BGE_DIR).exists()
    assert (outside / "thesis.txt").read_text(encoding="utf-8") == "do not delete"


def test_model_with_a_live_lock_holder_is_skipped_and_reported(
    cache: Path, run_cli: CliRunner
) -> None:
    holder = LockHolder(cache, BGE_MODEL)
    try:
        data = document(run_cli("clear-cache", "--cache-dir", str(cache), "--yes", "--json"))
    finally:
        holder.stop()
    entries = by_name(data)
    assert entries[BGE_DIR]["action"] == "skipped"
    assert str(holder.pid) in entries[BGE_DIR]["reason"]
    assert entries[MINILM_DIR]["action"] == "deleted"
    assert (cache / BGE_DIR / "snapshots").is_dir()
    assert not (cache / MINILM_DIR).exists()
    assert data["freed_bytes"] == entries[MINILM_DIR]["bytes"]


def test_broken_removes_only_partial_and_corrupt_models(
    tmp_path: Path, embedding_models: dict[str, dict[str, bytes]], run_cli: CliRunner
) -> None:
    root = tmp_path / "mixed"
    make_model(root, BGE_MODEL, embedding_models[BGE_REPO])
    make_model(root, MINILM_MODEL, embedding_models[MINILM_REPO])
    corrupt_model(root, MINILM_MODEL)
    data = document(run_cli("clear-cache", "--cache-dir", str(root), "--broken", "--yes", "--json"))
    entries = by_name(data)
    assert set(entries) == {MINILM_DIR}
    assert "corrupt" in entries[MINILM_DIR]["reason"]
    assert not (root / MINILM_DIR).exists()
    assert (root / BGE_DIR).is_dir()
    # A partial one (its blob deleted by a temp cleaner: a dangling symlink) goes the same way.
    break_model(root, BGE_MODEL)
    data = document(run_cli("clear-cache", "--cache-dir", str(root), "--broken", "--yes", "--json"))
    assert "partial" in by_name(data)[BGE_DIR]["reason"]
    assert not (root / BGE_DIR).exists()


def test_model_option_deletes_only_that_model(cache: Path, run_cli: CliRunner) -> None:
    data = document(
        run_cli(
            "clear-cache", "--cache-dir", str(cache), "--model", MINILM_MODEL, "--yes", "--json"
        )
    )
    assert set(by_name(data)) == {MINILM_DIR}
    assert not (cache / MINILM_DIR).exists() and (cache / BGE_DIR).is_dir()


def test_unknown_model_name_is_a_usage_error(cache: Path, run_cli: CliRunner) -> None:
    done = run_cli("clear-cache", "--cache-dir", str(cache), "--model", "no/such-model", "--yes")
    assert done.returncode == 2
    assert "unknown embedding model 'no/such-model'" in done.stderr
    assert (cache / BGE_DIR).is_dir()


def test_foreign_files_in_the_root_are_left_alone(cache: Path, run_cli: CliRunner) -> None:
    (cache / "notes.txt").write_text("mine", encoding="utf-8")
    data = document(run_cli("clear-cache", "--cache-dir", str(cache), "--yes", "--json"))
    assert by_name(data)["notes.txt"]["action"] == "skipped"
    assert (cache / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_legacy_adds_the_old_temp_cache(
    cache: Path, temp_dir: Path, embedding_models: dict[str, dict[str, bytes]], run_cli: CliRunner
) -> None:
    legacy = temp_dir / "fastembed_cache"
    make_model(legacy, BGE_MODEL, embedding_models[BGE_REPO])
    (legacy / ".locks").mkdir()
    plain = document(run_cli("clear-cache", "--cache-dir", str(cache), "--dry-run", "--json"))
    assert not any(str(legacy) in e["path"] for e in plain["entries"])
    data = document(
        run_cli("clear-cache", "--cache-dir", str(cache), "--legacy", "--yes", "--json")
    )
    legacy_entries = [e for e in data["entries"] if e["kind"].startswith("legacy")]
    assert {Path(e["path"]).name for e in legacy_entries} >= {BGE_DIR}
    assert all(e["action"] == "deleted" for e in legacy_entries)
    assert not (legacy / BGE_DIR).exists()
    assert not (cache / BGE_DIR).exists()


def test_all_removes_the_dependency_stamp_and_dead_locks_but_not_held_ones(
    cache: Path, project: Path, run_cli: CliRunner
) -> None:
    stamp = project / ".robo-backend" / "deps-stamp.json"
    stamp.parent.mkdir()
    stamp.write_text('{"schema": 1, "stamp": "x"}', encoding="utf-8")
    status = project / ".robo-backend" / "status.json"
    status.write_text("{}", encoding="utf-8")
    dead = lock_path(cache, MINILM_MODEL)
    dead.parent.mkdir(parents=True, exist_ok=True)
    dead.write_text("", encoding="utf-8")
    Path(str(dead) + ".pid").write_text("999999\n", encoding="utf-8")
    holder = LockHolder(cache, BGE_MODEL)
    try:
        data = document(
            run_cli("clear-cache", "--cache-dir", str(cache), "--all", "--yes", "--json")
        )
    finally:
        holder.stop()
    entries = by_name(data)
    assert entries["deps-stamp.json"]["action"] == "deleted"
    assert not stamp.exists() and status.exists()
    assert entries[dead.name]["action"] == "deleted" and not dead.exists()
    held = lock_path(cache, BGE_MODEL)
    assert entries[held.name]["action"] == "skipped"
    assert str(holder.pid) in entries[held.name]["reason"]


@pytest.mark.parametrize("which", ["root", "home", "project", "parent of project"])
def test_refuses_a_dangerous_root(
    which: str, cache: Path, project: Path, run_cli: CliRunner
) -> None:
    (project / "keep.txt").write_text("keep", encoding="utf-8")
    target = {
        "root": Path("/"),
        "home": Path(os.environ["HOME"]),
        "project": project,
        "parent of project": project.parent,
    }[which]
    done = run_cli("clear-cache", "--cache-dir", str(target), "--yes")
    assert done.returncode == 2, done.stderr
    assert "refusing to clear the cache root" in done.stderr
    assert "hint:" in done.stderr and "Traceback" not in done.stderr
    assert (project / "keep.txt").exists() and (cache / BGE_DIR).is_dir()


def test_fastembed_cache_path_is_the_root_when_no_setting_names_one(
    cache: Path, run_cli: CliRunner
) -> None:
    data = document(
        run_cli("clear-cache", "--dry-run", "--json", env={"FASTEMBED_CACHE_PATH": str(cache)})
    )
    assert data["root"] == str(cache.resolve())
    assert BGE_DIR in by_name(data)


def test_empty_cache_says_nothing_to_delete(tmp_path: Path, run_cli: CliRunner) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run_cli("clear-cache", "--cache-dir", str(empty))
    assert done.returncode == 0, done.stderr
    assert "Nothing to delete." in done.stdout


def test_leftovers_of_interrupted_downloads_go_by_default_not_with_broken(
    cache: Path, run_cli: CliRunner
) -> None:
    staging = cache / ".adopt-models--Qdrant--x-123-abcdef"
    staging.mkdir()
    (staging / "blob").write_bytes(b"y" * 100)
    data = document(
        run_cli("clear-cache", "--cache-dir", str(cache), "--broken", "--yes", "--json")
    )
    assert data["entries"] == [] and staging.exists()
    data = document(run_cli("clear-cache", "--cache-dir", str(cache), "--yes", "--json"))
    entry = by_name(data)[staging.name]
    assert entry["kind"] == "temp" and entry["action"] == "deleted" and entry["bytes"] == 100
    assert not staging.exists()
