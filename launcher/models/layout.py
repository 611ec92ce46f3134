"""Cache layout: folder naming, snapshot paths, and materialising a verified download.

The layout is huggingface_hub's, which fastembed reads with `cache_dir=<root>` (docs/models.md,
"What is in the cache"). Folder names follow the repo id as spelled; lookups match any casing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launcher.fileops import (
    DEFAULT_FILE_OPS,
    FileOps,
    atomic_write_text,
    read_state_json,
    read_state_text,
)
from launcher.models.names import OutsideCache, confine, is_commit, is_etag, is_repo_path
from launcher.models.registry import ModelSpec, lookup
from launcher.models.verified import STAMP_NAME, Stamp, stamp_from_json
from launcher.values import truthy

METADATA_NAME = "files_metadata.json"
INCOMPLETE_SUFFIX = ".incomplete"
FOLDER_PREFIX = "models--"


def repo_folder_name(repo: str) -> str:
    """huggingface_hub's folder name for a model repo, `models--<org>--<name>`, spelled exactly
    as `repo` is (huggingface_hub names the folder after the id as its caller wrote it)."""
    return FOLDER_PREFIX + repo.replace("/", "--")


def find_repo_folder(root: Path, repo: str) -> Path | None:
    """The folder of `repo` under `root`, the exact spelling first, then any casing (fastembed
    0.9 renamed repos' casing, so older caches spell the folder differently)."""
    expected = repo_folder_name(repo)
    exact = root / expected
    if exact.is_dir():
        return exact
    try:
        entries = list(os.scandir(root))
    except OSError:
        return None
    for entry in entries:
        if entry.name.lower() == expected.lower() and entry.is_dir(follow_symlinks=False):
            return root / entry.name
    return None


def find_folder(root: Path, spec: ModelSpec) -> Path | None:
    """The folder of model `spec` under `root` (any casing, unless the spec comes from the
    backend's fastembed: then only its exact spelling counts), or None."""
    if spec.exact_case:
        exact = root / repo_folder_name(spec.repo)
        return exact if exact.is_dir() else None
    return find_repo_folder(root, spec.repo)


def model_folder(root: Path, name: str) -> Path:
    """The folder of model `name` under `root`: an existing one (any casing) or where it goes."""
    spec = lookup(name)
    return find_folder(root, spec) or root / repo_folder_name(spec.repo)


def snapshot_dir(folder: Path, commit: str) -> Path:
    """Where the files of `commit` are visible to fastembed: `<folder>/snapshots/<commit>`."""
    return folder / "snapshots" / commit


def incomplete_files(folder: Path) -> list[Path]:
    """The unfinished downloads (`blobs/*.incomplete`) of a model folder."""
    blobs = folder / "blobs"
    try:
        return sorted(p for p in blobs.iterdir() if p.name.endswith(INCOMPLETE_SUFFIX))
    except OSError:
        return []


@dataclass(frozen=True)
class OnDisk:
    """One model's folder as it lies, every file read as untrusted input: the unfinished
    downloads, the snapshot names, `refs/main` when it is a commit id, fastembed's metadata
    (parsed JSON, None when unreadable) and our stamp when a check can rely on it; `has_*`
    say whether those files exist at all."""

    folder: Path
    partials: list[Path]
    snapshots: list[str]
    ref: str | None
    has_metadata: bool
    metadata: Any
    has_stamp: bool
    stamp: Stamp | None


def read_model(root: Path, spec: ModelSpec) -> OnDisk | None:
    """What the cache under `root` holds for `spec` (None: no folder), without the network."""
    folder = find_folder(root, spec)
    if folder is None:
        return None
    partials = incomplete_files(folder)
    snapshots = folder / "snapshots"
    names = sorted(p.name for p in snapshots.glob("*")) if snapshots.is_dir() else []
    text = read_state_text(folder / "refs" / "main", limit=4096)
    ref = text.strip() if text is not None else None
    metadata = read_state_json(folder / METADATA_NAME)
    stamp = read_state_json(folder / STAMP_NAME)
    return OnDisk(
        folder,
        partials,
        names,
        ref if is_commit(ref) else None,
        (folder / METADATA_NAME).exists(),
        metadata,
        (folder / STAMP_NAME).exists(),
        stamp_from_json(stamp, spec),
    )


def symlinks_supported(
    folder: Path, env: Mapping[str, str] | None = None, platform: str | None = None
) -> bool:
    """Whether snapshot files should be symlinks to blobs.

    Not on Windows (none without Developer Mode), not with `HF_HUB_DISABLE_SYMLINKS` set, and
    not where a probe symlink cannot be created.
    """
    environ = os.environ if env is None else env
    if truthy(environ.get("HF_HUB_DISABLE_SYMLINKS")):
        return False
    if (platform or sys.platform) == "win32":
        return False
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".symlink-probe-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    try:
        os.symlink("target", probe)
    except (OSError, NotImplementedError):
        return False
    with contextlib.suppress(OSError):
        probe.unlink()
    return True


def write_fastembed_metadata(
    folder: Path,
    commit: str,
    files: Mapping[str, Mapping[str, Any]],
    ops: FileOps = DEFAULT_FILE_OPS,
) -> None:
    """fastembed's `files_metadata.json`: {"snapshots/<commit>/<file>": {"size", "blob_id"}}.

    fastembed checks sizes against it offline and blob ids online; the keys use the OS's path
    separator, exactly as fastembed writes them.
    """
    meta = {
        str(Path("snapshots", commit, rel)): {"size": info["size"], "blob_id": info["blob_id"]}
        for rel, info in files.items()
    }
    atomic_write_text(folder / METADATA_NAME, json.dumps(meta), ops)


def place_files(
    folder: Path,
    commit: str,
    etags: Mapping[str, str],
    ops: FileOps = DEFAULT_FILE_OPS,
    symlinks: bool = True,
) -> Path:
    """Make verified blobs visible as `snapshots/<commit>/<path>` (`etags`: path → blob name)
    and point `refs/main` at `commit`; returns the snapshot folder.

    Every name is checked for its form and every folder written to must resolve inside
    `folder` (OutsideCache otherwise), whatever a hub said or a symlink on disk points at.

    With symlinks each file is a relative link to its blob; without, the blob is moved into
    place (renamed, never copied, except for a second path with the same content).
    """
    if not is_commit(commit) or not all(
        is_repo_path(rel) and is_etag(etag) for rel, etag in etags.items()
    ):
        raise OutsideCache(f"refusing to lay out {folder}: an invalid commit, file or blob name")
    blobs = confine(folder, folder / "blobs")
    snapshot = snapshot_dir(folder, commit)
    placed: dict[str, Path] = {}
    for rel, etag in etags.items():
        target = snapshot / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        confine(folder, target.parent)
        blob = blobs / etag
        if symlinks:
            temp = target.with_name(f".{target.name}.{os.getpid()}.link")
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            os.symlink(os.path.relpath(blob, target.parent), temp)
            ops.move(temp, target)
        elif etag in placed:  # the same content under two names: copy the first
            shutil.copy2(placed[etag], target)
        else:
            ops.move(blob, target)
            placed[etag] = target
    refs = folder / "refs"
    refs.mkdir(exist_ok=True)
    atomic_write_text(confine(folder, refs) / "main", commit, ops)
    return snapshot
