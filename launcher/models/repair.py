"""Repair of a model folder: delete it (keeping resumable blobs), or adopt another cache's copy."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from launcher.errors import ModelError
from launcher.fileops import DEFAULT_FILE_OPS, FileOps
from launcher.models.layout import FOLDER_PREFIX, INCOMPLETE_SUFFIX, find_folder, repo_folder_name
from launcher.models.names import is_inside
from launcher.models.registry import lookup
from launcher.models.verified import STAMP_NAME


def _clear_keeping_blobs(folder: Path, ops: FileOps) -> None:
    for entry in list(folder.iterdir()):
        if entry.name == "blobs" and entry.is_dir() and not entry.is_symlink():
            for blob in list(entry.iterdir()):
                if blob.is_symlink() or not blob.is_file():
                    ops.rmtree(blob)
            continue
        ops.rmtree(entry)


def repair_model(
    cache_root: Path,
    name: str,
    *,
    keep_blobs: bool = False,
    ops: FileOps = DEFAULT_FILE_OPS,
) -> Path | None:
    """Delete model `name`'s folder (never anything outside `cache_root`); the folder, or None.
    `keep_blobs` keeps `blobs/` so a repair costs only the missing bytes (blobs are re-verified)."""
    root = Path(cache_root)
    folder = find_folder(root, lookup(name))
    if folder is None:
        return None
    if folder.parent != root or not folder.name.lower().startswith(FOLDER_PREFIX):
        raise ModelError(
            f"refusing to delete {folder}: it is not a model folder of {root}",
            "Delete it by hand if you are sure.",
        )
    if folder.is_symlink() or not is_inside(root, folder):
        # A model folder that points elsewhere: drop the link, never what it points at.
        ops.unlink(folder)
    elif keep_blobs:
        _clear_keeping_blobs(folder, ops)
    else:
        ops.rmtree(folder)
    return folder


def link_or_copy(source: str, target: str) -> str:
    """A hard link where the filesystem allows one, else a copy (`copytree`'s `copy_function`;
    blobs are never written in place)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
    return target


def adopt_model(
    source_root: Path,
    cache_root: Path,
    name: str,
    ops: FileOps = DEFAULT_FILE_OPS,
    *,
    link: bool = False,
) -> Path:
    """Copy model `name`'s folder from another cache into `cache_root`, through a temp folder
    renamed into place (a crash never leaves half a copy). `link`: hard-link the files where
    the filesystem allows. The caller verifies and stamps it."""
    spec = lookup(name)
    source = find_folder(Path(source_root), spec)
    if source is None:
        raise FileNotFoundError(f"{name} is not in {source_root}")
    target = Path(cache_root) / repo_folder_name(spec.repo)
    staging = Path(cache_root) / f".adopt-{target.name}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    try:
        shutil.copytree(
            source,
            staging,
            symlinks=True,
            ignore=shutil.ignore_patterns(f"*{INCOMPLETE_SUFFIX}", STAMP_NAME, ".*.tmp"),
            copy_function=link_or_copy if link else shutil.copy2,
        )
        if target.exists():
            ops.rmtree(target)
        ops.move(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
