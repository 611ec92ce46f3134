"""Inspection and repair of a broken cache: every way a temp cleaner or a crash breaks it."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from launcher.models.condition import inspect_model
from launcher.models.fetch import prefetch
from launcher.models.integrity import onnx_looks_complete
from launcher.models.layout import model_folder
from launcher.models.repair import repair_model
from launcher.models.verified import STAMP_NAME
from tests.fakehub.fixtures import BGE_FILE, BGE_MODEL, BGE_REPO
from tests.fakehub.server import FakeHub
from tests.models.conftest import hub_requests


def _snapshot_file(root: Path, name: str = BGE_FILE) -> Path:
    state = inspect_model(root, BGE_MODEL)
    assert state.ok, state.problems
    return Path(state.path) / name


def _truncate_onnx(root: Path) -> None:
    target = _snapshot_file(root).resolve()
    with open(target, "r+b") as handle:
        handle.truncate(target.stat().st_size // 2)


def _delete_blob(root: Path) -> None:
    _snapshot_file(root).resolve().unlink()


def _dangling_symlink(root: Path) -> None:
    # What Windows Storage Sense / tmp cleaners leave: the snapshot link, without its blob.
    link = _snapshot_file(root, "tokenizer.json")
    assert link.is_symlink()
    link.resolve().unlink()


def _garbage_metadata(root: Path) -> None:
    (model_folder(root, BGE_MODEL) / "files_metadata.json").write_text("{not json", "utf-8")


def _incomplete_leftovers(root: Path) -> None:
    # A crash mid-download of a fresh cache: only partial blobs and no snapshot.
    folder = model_folder(root, BGE_MODEL)
    for entry in ("snapshots", "refs"):
        for path in sorted((folder / entry).rglob("*"), reverse=True):
            path.unlink() if not path.is_dir() or path.is_symlink() else path.rmdir()
    (folder / STAMP_NAME).unlink()
    blob = next(p for p in (folder / "blobs").iterdir() if len(p.name) == 64)
    data = blob.read_bytes()
    blob.unlink()
    (folder / "blobs" / (blob.name + ".incomplete")).write_bytes(data[: len(data) // 3])


def _flipped_bytes(root: Path) -> None:
    target = _snapshot_file(root).resolve()
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stat = target.stat()
    target.write_bytes(bytes(data))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same mtime


BREAKAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated onnx": (_truncate_onnx, "corrupt"),
    "deleted blob": (_delete_blob, "partial"),
    "dangling symlink": (_dangling_symlink, "partial"),
    "garbage metadata": (_garbage_metadata, "corrupt"),
    "incomplete leftovers": (_incomplete_leftovers, "partial"),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_broken_cache_is_detected_and_repaired(
    breakage: str, fake_hub: FakeHub, make_options, cache_root: Path
) -> None:
    prefetch(make_options())
    breaker, expected_state = BREAKAGES[breakage]
    breaker(cache_root)
    assert inspect_model(cache_root, BGE_MODEL).state == expected_state
    fake_hub.reset_log()

    result = prefetch(make_options())

    assert result.state == "ready" and result.resolved == BGE_MODEL
    state = inspect_model(cache_root, BGE_MODEL, deep=True)
    assert state.ok, state.problems
    assert state.verified == "hash"  # deep check: every file re-hashed against the stamp
    assert hub_requests(fake_hub, at_least=1)  # it really went back to the hub


def test_incomplete_leftovers_are_resumed_not_restarted(
    fake_hub: FakeHub, make_options, cache_root: Path
) -> None:
    prefetch(make_options())
    _incomplete_leftovers(cache_root)
    fake_hub.reset_log()

    prefetch(make_options())

    onnx = hub_requests(fake_hub, lambda r: r.path.endswith(BGE_FILE), at_least=1)
    assert len(onnx) == 1 and onnx[0].range is not None and onnx[0].status == 206


def test_same_size_corruption_is_caught_by_a_deep_check(
    fake_hub: FakeHub, make_options, cache_root: Path
) -> None:
    prefetch(make_options())
    _flipped_bytes(cache_root)

    assert inspect_model(cache_root, BGE_MODEL).ok  # stat-only: size and mtime unchanged
    deep = inspect_model(cache_root, BGE_MODEL, deep=True)
    assert deep.state == "corrupt" and "sha256" in deep.problems[0]


def test_a_touched_file_is_rehashed_and_restamped(
    fake_hub: FakeHub, make_options, cache_root: Path
) -> None:
    prefetch(make_options())
    target = _snapshot_file(cache_root).resolve()
    os.utime(target, ns=(1, 1))
    assert inspect_model(cache_root, BGE_MODEL).verified == "hash"
    fake_hub.reset_log()

    prefetch(make_options())

    assert fake_hub.requests == []
    assert inspect_model(cache_root, BGE_MODEL).verified == "stamp"


def test_warm_check_is_stat_only(fake_hub: FakeHub, make_options, cache_root: Path) -> None:
    prefetch(make_options())
    # The stamp, not a re-hash, vouches for the files.
    state = inspect_model(cache_root, BGE_MODEL)
    assert state.ok and state.verified == "stamp"
    stamp = json.loads((model_folder(cache_root, BGE_MODEL) / STAMP_NAME).read_text())
    assert stamp["files"][BGE_FILE]["size"] == state.files[BGE_FILE]["size"]
    assert len(stamp["files"][BGE_FILE]["sha256"]) == 64


def test_repair_deletes_only_that_model(fake_hub: FakeHub, make_options, cache_root: Path) -> None:
    prefetch(make_options())
    prefetch(make_options(model="sentence-transformers/all-MiniLM-L6-v2"))
    neighbour = cache_root.parent / "not-the-cache.txt"
    neighbour.write_text("keep me")
    other = cache_root / "unrelated-file"
    other.write_text("keep me too")

    removed = repair_model(cache_root, BGE_MODEL)

    assert removed is not None and not removed.exists()
    assert inspect_model(cache_root, "sentence-transformers/all-MiniLM-L6-v2").ok
    assert neighbour.read_text() == "keep me" and other.read_text() == "keep me too"


def test_repair_of_a_symlinked_model_folder_never_follows_it(
    fake_hub: FakeHub, make_options, cache_root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("data")
    (cache_root / "models--Qdrant--bge-small-en-v1.5-onnx-Q").symlink_to(outside)

    repair_model(cache_root, BGE_MODEL)

    assert (outside / "precious").read_text() == "data"
    assert not (cache_root / "models--Qdrant--bge-small-en-v1.5-onnx-Q").exists()


def test_folder_casing_is_matched_case_insensitively(
    fake_hub: FakeHub, make_options, cache_root: Path
) -> None:
    prefetch(make_options())
    folder = model_folder(cache_root, BGE_MODEL)
    folder.rename(cache_root / folder.name.lower())  # an older fastembed's lowercase folder

    state = inspect_model(cache_root, BGE_MODEL)

    assert state.ok and state.folder == cache_root / folder.name.lower()


def test_onnx_structure_check(embedding_models, tmp_path: Path) -> None:
    data = embedding_models[BGE_REPO][BGE_FILE]
    good, cut = tmp_path / "good.onnx", tmp_path / "cut.onnx"
    good.write_bytes(data)
    cut.write_bytes(data[: len(data) // 2])

    assert onnx_looks_complete(good)
    assert not onnx_looks_complete(cut)
    assert not onnx_looks_complete(tmp_path / "missing.onnx")


def test_the_backends_spelling_is_hard_linked_not_copied(
    fake_hub: FakeHub, make_options, cache_root: Path
) -> None:
    """A model fetched under the built-in spelling, then asked for as fastembed 0.5-0.8 spell
    it: laid out under that spelling with the same files (hard links), nothing downloaded and
    no second copy of the model on disk."""
    from launcher.models.registry import described_spec, lookup

    prefetch(make_options())
    fake_hub.reset_log()
    spec = lookup(BGE_MODEL)
    lower = described_spec(BGE_MODEL, spec.repo.lower(), spec.model_file, 0.067)

    result = prefetch(make_options(described={BGE_MODEL: lower}))

    assert result.state == "ready" and fake_hub.requests == []
    built_in = cache_root / "models--Qdrant--bge-small-en-v1.5-onnx-Q"
    spelled = cache_root / "models--qdrant--bge-small-en-v1.5-onnx-q"
    assert result.path is not None and Path(result.path).is_relative_to(spelled)
    blobs = sorted((built_in / "blobs").iterdir())
    assert blobs
    for blob in blobs:
        assert os.path.samefile(blob, spelled / "blobs" / blob.name), blob.name
    assert inspect_model(cache_root, BGE_MODEL).ok  # the built-in one is untouched
