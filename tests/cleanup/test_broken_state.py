"""`clear-cache --broken` repairs a model whatever its state files hold.

A cached model's own state files (refs/main, our `.robo-verified.json`, fastembed's
`files_metadata.json`) and its cached files can be anything by now: a non-UTF-8 byte, JSON
nested past any sane depth, a FIFO (which would hang whoever reads it), a folder. Each is a
corrupt or partial model that `--broken` deletes, next to a healthy model it leaves alone; the
same cache is then judged healthy by `doctor`'s model check and nothing hangs.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from launcher.models.layout import METADATA_NAME, repo_folder_name
from launcher.models.registry import lookup
from launcher.models.verified import STAMP_NAME, write_stamp
from tests.fakehub.fixtures import BGE_MODEL, BGE_REPO, MINILM_MODEL, MINILM_REPO
from tests.helpers.cachebuild import COMMIT, make_model, model_file

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")

BGE_DIR = repo_folder_name(BGE_REPO)
MINILM_DIR = repo_folder_name(MINILM_REPO)
DEEP = "[" * 100_000 + "]" * 100_000
TIMEOUT = 60.0


def stamped_model(root: Path, name: str, files: dict[str, bytes]) -> Path:
    """A model as our prefetch leaves it: blobs, snapshot links, refs/main, our verification
    stamp and fastembed's metadata."""
    folder = make_model(root, name, files)
    hashes = {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}
    entries = {rel: {"etag": digest, "sha256": digest} for rel, digest in hashes.items()}
    write_stamp(folder, lookup(name), COMMIT, entries)
    metadata = {
        f"snapshots/{COMMIT}/{rel}": {"size": len(data), "blob_id": hashes[rel]}
        for rel, data in files.items()
    }
    (folder / METADATA_NAME).write_text(json.dumps(metadata), encoding="utf-8")
    return folder


def fifo_in_place(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.mkfifo(path)


def refs_not_utf8(folder: Path, root: Path) -> None:
    (folder / "refs" / "main").write_bytes(b"\xff\xfe" + COMMIT.encode())


def refs_fifo(folder: Path, root: Path) -> None:
    fifo_in_place(folder / "refs" / "main")


def stamp_deep(folder: Path, root: Path) -> None:
    (folder / STAMP_NAME).write_text(DEEP, encoding="utf-8")


def stamp_fifo(folder: Path, root: Path) -> None:
    fifo_in_place(folder / STAMP_NAME)


def metadata_deep(folder: Path, root: Path) -> None:
    (folder / METADATA_NAME).write_text(DEEP, encoding="utf-8")


def metadata_fifo(folder: Path, root: Path) -> None:
    fifo_in_place(folder / METADATA_NAME)


def model_blob_fifo(folder: Path, root: Path) -> None:
    fifo_in_place(model_file(root, BGE_MODEL))


def model_blob_folder(folder: Path, root: Path) -> None:
    blob = model_file(root, BGE_MODEL)
    blob.unlink()
    blob.mkdir()


Breakage = Callable[[Path, Path], None]
BREAKAGES: dict[str, Breakage] = {
    "refs/main not UTF-8": refs_not_utf8,
    "refs/main a FIFO": refs_fifo,
    "stamp nested deep": stamp_deep,
    "stamp a FIFO": stamp_fifo,
    "metadata nested deep": metadata_deep,
    "metadata a FIFO": metadata_fifo,
    "model file a FIFO": model_blob_fifo,
    "model file a folder": model_blob_folder,
}


def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI, bounded: a command that reads a FIFO would hang, and that is a failure."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "launcher", *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            cwd=project,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{args} hung") from exc
    assert "Traceback" not in done.stderr + done.stdout
    assert "internal error" not in done.stderr, done.stderr
    return done


@pytest.mark.parametrize("stamped", [True, False], ids=["stamped", "fastembed-made"])
@pytest.mark.parametrize("breakage", list(BREAKAGES), ids=list(BREAKAGES))
def test_broken_deletes_the_model_whatever_its_files_hold(
    tmp_path: Path,
    embedding_models: dict[str, dict[str, bytes]],
    project: Path,
    breakage: str,
    stamped: bool,
) -> None:
    root = tmp_path / "cache"
    make = stamped_model if stamped else make_model
    folder = make(root, BGE_MODEL, embedding_models[BGE_REPO])
    make(root, MINILM_MODEL, embedding_models[MINILM_REPO])
    BREAKAGES[breakage](folder, root)

    dry = run(project, "clear-cache", "--cache-dir", str(root), "--broken", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    planned = {Path(entry["path"]).name for entry in json.loads(dry.stdout)["entries"]}
    assert planned == {BGE_DIR}
    assert folder.is_dir()  # a dry run deletes nothing

    done = run(project, "clear-cache", "--cache-dir", str(root), "--broken", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert not os.path.lexists(folder)
    assert (root / MINILM_DIR / "snapshots").is_dir()  # the healthy one stays

    again = run(project, "clear-cache", "--cache-dir", str(root), "--broken", "--yes", "--json")
    assert json.loads(again.stdout)["entries"] == []  # nothing broken is left
