"""A hub or mirror that lies, and a cache folder someone tampered with: no value from either may
make the cache code touch a file outside the cache.

Each case plants a victim folder beside the cache, lets the hub answer with a path where a hash
or a commit belongs (or leaves a symlink pointing out of a model folder), runs a real prefetch
against the loopback hub and checks that the victim is exactly as it was.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from launcher.models.condition import inspect_model
from launcher.models.fetch import prefetch
from launcher.models.layout import repo_folder_name
from launcher.models.names import is_commit, is_etag, is_inside, is_repo_id, is_repo_path
from tests.fakehub.fixtures import BGE_FILE, BGE_MODEL, BGE_REPO
from tests.fakehub.server import FakeHub


def _padded(path: Path, length: int) -> str:
    """`path` written as exactly `length` characters, padded with `./` (the same path)."""
    text = str(path)
    need = length - len(text)
    assert need >= 0, f"{text} is longer than {length}"
    if need % 2:
        text += "/"  # a trailing slash names the same folder
    text = "/" + "./" * ((length - len(text)) // 2) + text.lstrip("/")
    assert len(text) == length and os.path.realpath(text) == os.path.realpath(path)
    return text


@pytest.fixture
def victim() -> Iterator[Path]:
    """A folder outside the cache (with a short path, so it fits in a "hash"), with files named
    like a model's, that must never change."""
    folder = Path(tempfile.mkdtemp(prefix="v", dir="/tmp"))
    for name in ("config.json", "tokenizer.json", BGE_FILE, "precious.txt"):
        (folder / name).write_text(f"the user's own {name}\n")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _snapshot_of(folder: Path) -> dict[str, tuple[bool, str]]:
    return {
        str(path.relative_to(folder)): (
            path.is_symlink(),
            "" if path.is_dir() or path.is_symlink() else path.read_text(),
        )
        for path in sorted(folder.rglob("*"))
    }


def _lie_about(field: str, value: str) -> Any:
    def rewrite(info: dict[str, Any]) -> dict[str, Any]:
        if field == "sha":
            info["sha"] = value
        else:
            for sibling in info["siblings"]:
                if sibling.get("lfs"):
                    sibling["lfs"]["sha256"] = value
                else:
                    sibling["blobId"] = value
        return info

    return rewrite


def test_a_hash_that_is_a_path_never_deletes_or_writes_outside_the_cache(
    fake_hub: FakeHub, make_options, cache_root: Path, victim: Path
) -> None:
    before = _snapshot_of(victim)
    fake_hub.lie(_lie_about("hash", _padded(victim, 64)))

    result = prefetch(make_options(fallback_model=None, retries=1))

    assert result.state == "degraded"
    assert "invalid file hash" in (result.attempts[0].error or "")
    assert victim.is_dir() and _snapshot_of(victim) == before
    # Refused before a single body was requested, and never retried.
    assert [r for r in fake_hub.requests if "/resolve/" in r.path] == []
    assert len(result.attempts) == 1


def test_a_commit_that_is_a_path_never_lays_files_out_elsewhere(
    fake_hub: FakeHub, make_options, cache_root: Path, victim: Path
) -> None:
    before = _snapshot_of(victim)
    fake_hub.lie(_lie_about("sha", str(victim)))

    result = prefetch(make_options(fallback_model=None, retries=1))

    assert result.state == "degraded"
    assert "invalid commit id" in (result.attempts[0].error or "")
    assert _snapshot_of(victim) == before
    assert not inspect_model(cache_root, BGE_MODEL).ok


@pytest.mark.parametrize("where", ["snapshots", "blobs", "refs"])
def test_a_symlink_out_of_a_model_folder_is_not_written_through(
    fake_hub: FakeHub, make_options, cache_root: Path, victim: Path, where: str
) -> None:
    """A model folder whose `snapshots/<commit>`, `blobs` or `refs` points outside the cache:
    the download refuses to write there (or writes beside it), and the victim is untouched."""
    folder = cache_root / repo_folder_name(BGE_REPO)
    commit = fake_hub.commit_sha(BGE_REPO)
    if where == "snapshots":
        (folder / "snapshots").mkdir(parents=True)
        (folder / "snapshots" / commit).symlink_to(victim)
    else:
        folder.mkdir(parents=True)
        (folder / where).symlink_to(victim)
    before = _snapshot_of(victim)

    result = prefetch(make_options(fallback_model=None, retries=1))

    assert _snapshot_of(victim) == before
    if result.state == "ready":  # the tampered link was repaired away, inside the cache
        assert is_inside(cache_root, Path(result.path or ""))
    else:
        assert "outside the model cache" in (result.attempts[-1].error or "")


def test_a_partial_download_that_is_a_symlink_is_never_appended_to(
    fake_hub: FakeHub, make_options, cache_root: Path, victim: Path
) -> None:
    content = fake_hub.repo_files(BGE_REPO)[BGE_FILE]
    etag = hashlib.sha256(content).hexdigest()
    blobs = cache_root / repo_folder_name(BGE_REPO) / "blobs"
    blobs.mkdir(parents=True)
    (blobs / f"{etag}.incomplete").symlink_to(victim / "precious.txt")
    before = _snapshot_of(victim)

    result = prefetch(make_options(fallback_model=None))

    assert result.state == "ready"
    assert _snapshot_of(victim) == before


def test_a_non_utf8_ref_or_a_path_valued_stamp_is_a_broken_model_not_a_crash(
    fake_hub: FakeHub, make_options, cache_root: Path, victim: Path
) -> None:
    assert prefetch(make_options()).state == "ready"
    folder = cache_root / repo_folder_name(BGE_REPO)
    (folder / "refs" / "main").write_bytes(b"\xff\xfe not a commit")

    state = inspect_model(cache_root, BGE_MODEL)
    assert state.state == "partial"
    assert any("refs/main" in problem for problem in state.problems)

    stamp = folder / ".robo-verified.json"
    stamp.write_text(stamp.read_text().replace(fake_hub.commit_sha(BGE_REPO), str(victim)))
    assert not inspect_model(cache_root, BGE_MODEL).ok

    # The next plain prefetch repairs it.
    repaired = prefetch(make_options())
    assert repaired.state == "ready"
    assert inspect_model(cache_root, BGE_MODEL).ok


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (is_commit, ["a" * 40, "0123456789abcdef0123456789abcdef01234567"], ["A" * 40, "a" * 39]),
        (is_etag, ["b" * 40, "c" * 64], ["/" * 64, "../" + "a" * 61, "a" * 63, None]),
        (
            is_repo_path,
            ["model.onnx", "onnx/model.onnx", "a b.json"],
            ["", "/etc/passwd", "../x", "a/../b", "a//b", "C:x", "a\\b", "a\x00b", "./a"],
        ),
        (
            is_repo_id,
            ["Qdrant/bge-small-en-v1.5-onnx-Q", "gpt2", "BAAI/bge_small"],
            ["../x", "a/b/c", "a--b/c", "a/..b", "/abs", "", "-a/b", "a" * 97],
        ),
    ],
)
def test_names_from_outside_are_accepted_only_in_their_exact_form(
    check: Any, good: list[str], bad: list[Any]
) -> None:
    assert all(check(value) for value in good)
    assert not any(check(value) for value in bad)
