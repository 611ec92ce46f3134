"""Inspection: what state one cached model is in (missing, partial, corrupt, ok), offline."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from stat import S_ISREG
from typing import Any

from launcher.models.integrity import (
    content_matches,
    file_digests,
    is_hash_name,
    onnx_looks_complete,
)
from launcher.models.layout import METADATA_NAME, OnDisk, read_model, snapshot_dir
from launcher.models.names import is_commit
from launcher.models.provenance import Provenance
from launcher.models.registry import ModelSpec, lookup
from launcher.models.verified import STAMP_NAME, Stamp


class CacheState(str, Enum):
    """The state of one model in the cache; compares equal to its plain text value."""

    MISSING = "missing"
    PARTIAL = "partial"
    CORRUPT = "corrupt"
    OK = "ok"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


MISSING, PARTIAL, CORRUPT, OK = (
    CacheState.MISSING,
    CacheState.PARTIAL,
    CacheState.CORRUPT,
    CacheState.OK,
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a cached model: how bad (`partial` or `corrupt`) and what."""

    kind: CacheState
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass
class ModelCacheState:
    """What the cache holds for one model.

    `state` is `missing` (no folder), `partial` (`.incomplete` files with nothing usable,
    dangling symlinks, a missing model file), `corrupt` (size or sha256 differs from what the hub
    said at download time, unreadable metadata, an ONNX file that does not parse) or `ok`.
    `path` is the snapshot folder when ok (what the backend loads), else the model folder.
    `verified` says how `ok` was established: "stamp" (stat-only), "hash" (content re-hashed) or
    "size" (sizes only: no hash was available). `leftovers` are stray `.incomplete` files next
    to an otherwise ok model (harmless; prefetch deletes them). `findings` are the problems as
    typed values; `problems` their texts. `source` is the provenance our stamp records.
    """

    model: str
    repo: str
    state: CacheState
    path: Path | None
    size: int = 0
    findings: list[Problem] = field(default_factory=list)
    folder: Path | None = None
    commit: str | None = None
    verified: str | None = None
    leftovers: list[Path] = field(default_factory=list)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: Provenance | None = None  # where it came from, when our stamp says

    @property
    def ok(self) -> bool:
        return self.state == OK

    @property
    def problems(self) -> list[str]:
        return [finding.text for finding in self.findings]

    def partial(self, text: str) -> None:
        self.findings.append(Problem(PARTIAL, text))

    def corrupt(self, text: str) -> None:
        self.findings.append(Problem(CORRUPT, text))

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "repo": self.repo,
            "state": self.state.value,
            "path": str(self.path) if self.path else None,
            "size": self.size,
            "problems": self.problems,
            "verified": self.verified,
            "leftovers": [str(p) for p in self.leftovers],
            "source": self.source.to_json() if self.source else None,
        }


def inspect_model(cache_root: Path, name: str, *, deep: bool = False) -> ModelCacheState:
    """Classify model `name` in `cache_root` without touching the network.

    With our stamp this is stat-only (no hashing, no model load, no fastembed import): each
    stamped file must exist through its symlink with the stamped size and mtime. A file whose
    mtime changed is re-hashed; `deep=True` re-hashes every file. Without a stamp (a cache
    written by fastembed itself, e.g. the legacy temp cache) the files are checked against
    their blob names (which are their hashes), fastembed's metadata and an ONNX structure walk.
    """
    spec = lookup(name)
    disk = read_model(Path(cache_root), spec)
    if disk is None:
        return ModelCacheState(spec.name, spec.repo, MISSING, None)
    folder = disk.folder
    state = ModelCacheState(spec.name, spec.repo, OK, folder, folder=folder)
    if disk.stamp is not None:
        _check_stamped(state, disk, disk.stamp, deep)
    else:
        if disk.has_stamp:
            state.partial(f"verification stamp {folder / STAMP_NAME} is unreadable")
        _check_unstamped(state, disk, spec)
    if state.findings:
        kinds = {finding.kind for finding in state.findings}
        state.state = CORRUPT if CORRUPT in kinds else PARTIAL
        state.path = folder
        if disk.partials:
            state.partial(
                f"{len(disk.partials)} unfinished download(s) (.incomplete) in {folder / 'blobs'}"
            )
    else:
        state.leftovers = disk.partials
        state.path = snapshot_dir(folder, str(state.commit))
    return state


def _valid_metadata(meta: Any) -> bool:
    return isinstance(meta, dict) and all(
        isinstance(v, dict) and isinstance(v.get("size"), int) for v in meta.values()
    )


def _check_metadata(state: ModelCacheState, disk: OnDisk, expected: dict[str, int]) -> None:
    """fastembed refuses (or crashes on) a metadata file that is garbage or disagrees on sizes."""
    if not disk.has_metadata:
        state.partial(f"{METADATA_NAME} is missing")
        return
    meta = disk.metadata
    if not _valid_metadata(meta):
        state.corrupt(f"{disk.folder / METADATA_NAME} is not valid fastembed metadata")
        return
    for rel, size in expected.items():
        entry = meta.get(str(Path("snapshots", str(state.commit), rel)))
        if entry is None or entry.get("size") != size:
            state.corrupt(f"{METADATA_NAME} disagrees about {rel}")
            return


def _stat_file(state: ModelCacheState, path: Path, rel: str) -> os.stat_result | None:
    """The file's stat through its symlink, when it is a regular file (a FIFO, a device or a
    folder in its place is corrupt, and is never opened: reading a FIFO would hang)."""
    try:
        info = os.stat(path)
        if not S_ISREG(info.st_mode):
            state.corrupt(f"{rel} is not a regular file")
            return None
        return info
    except FileNotFoundError:
        if os.path.islink(path):
            state.partial(f"{rel} is a dangling symlink (its blob was deleted)")
        else:
            state.partial(f"{rel} is missing")
    except OSError as exc:
        state.partial(f"{rel} cannot be read ({exc.strerror})")
    return None


def _check_stamped(state: ModelCacheState, disk: OnDisk, stamp: Stamp, deep: bool) -> None:
    commit = stamp.commit
    state.commit = commit
    state.verified = "stamp"
    state.source = stamp.source
    snapshot = snapshot_dir(disk.folder, commit)
    if disk.ref is None:
        state.partial(f"refs/main is missing or unreadable in {disk.folder}")
    elif disk.ref != commit:
        state.partial(f"refs/main points at {disk.ref[:12]}, not the verified {commit[:12]}")
    sizes: dict[str, int] = {}
    for rel, info in stamp.files.items():
        path = snapshot / rel
        stat = _stat_file(state, path, rel)
        if stat is None:
            continue
        expected = int(info.get("size", -1))
        sizes[rel] = expected
        state.size += stat.st_size
        state.files[rel] = dict(info)
        if stat.st_size != expected:
            state.corrupt(f"{rel} is {stat.st_size} bytes, the hub said {expected}")
            continue
        if deep or stat.st_mtime_ns != info.get("mtime_ns"):
            if file_digests(path)[0] != info.get("sha256"):
                state.corrupt(f"{rel} does not match its sha256")
            else:
                state.verified = "hash"
    _check_metadata(state, disk, sizes)


def _unstamped_commit(state: ModelCacheState, disk: OnDisk) -> str | None:
    if disk.ref is not None:
        return disk.ref
    if len(disk.snapshots) != 1 or not is_commit(disk.snapshots[0]):
        state.partial(f"no usable snapshot in {disk.folder}")
        return None
    state.partial("refs/main is missing or unreadable")
    return disk.snapshots[0]


def _metadata_sizes(state: ModelCacheState, disk: OnDisk, commit: str) -> dict[str, int]:
    meta = disk.metadata
    sizes: dict[str, int] = {}
    if isinstance(meta, dict):
        for key, entry in meta.items():
            parts = Path(key).parts
            if len(parts) > 2 and parts[1] == commit and isinstance(entry, dict):
                size = entry.get("size")
                sizes["/".join(parts[2:])] = size if isinstance(size, int) else -1
    elif disk.has_metadata:
        state.corrupt(f"{disk.folder / METADATA_NAME} is not valid fastembed metadata")
    return sizes


def _check_unstamped(state: ModelCacheState, disk: OnDisk, spec: ModelSpec) -> None:
    commit = _unstamped_commit(state, disk)
    if commit is None:
        return
    state.commit = commit
    snapshot = snapshot_dir(disk.folder, commit)
    meta_sizes = _metadata_sizes(state, disk, commit)
    hashed = False
    for rel in spec.files:
        path = snapshot / rel
        if not os.path.lexists(path):
            if spec.is_required(rel) or rel in meta_sizes:
                state.partial(f"{rel} is missing")
            continue
        hashed = _check_unstamped_file(state, spec, path, rel, meta_sizes) or hashed
    state.verified = "hash" if hashed else "size"


def _check_unstamped_file(
    state: ModelCacheState, spec: ModelSpec, path: Path, rel: str, meta_sizes: dict[str, int]
) -> bool:
    """Check one file of an unstamped snapshot; True when its content was hash-checked."""
    stat = _stat_file(state, path, rel)
    if stat is None:
        return False
    state.size += stat.st_size
    if rel in meta_sizes and meta_sizes[rel] != stat.st_size:
        state.corrupt(f"{rel} is {stat.st_size} bytes, fastembed's metadata says {meta_sizes[rel]}")
        return False
    etag = Path(os.path.realpath(path)).name if os.path.islink(path) else ""
    hashed = is_hash_name(etag)
    if hashed and not content_matches(path, etag):
        state.corrupt(f"{rel} does not match its blob hash")
        return True
    sha256, _ = file_digests(path)
    state.files[rel] = {"etag": etag or sha256, "sha256": sha256, "size": stat.st_size}
    if rel == spec.model_file and rel.endswith(".onnx") and not onnx_looks_complete(path):
        state.corrupt(f"{rel} is not a complete ONNX file")
    return hashed
