"""The model cache: where it lives, what state each model is in, repair, and the per-model lock.

Layout (the huggingface_hub cache layout that fastembed reads with `cache_dir=<root>`):

    <root>/models--Qdrant--bge-small-en-v1.5-onnx-Q/
        blobs/<etag>                     verified file bodies (sha256 for LFS, git sha1 otherwise)
        blobs/<etag>.incomplete          a download in progress, resumed with an HTTP Range
        snapshots/<commit>/<file>        relative symlink to the blob (or the file itself
                                         where symlinks are unavailable)
        refs/main                        the commit
        files_metadata.json              fastembed's own record (size and blob id per file)
        .robo-verified.json              our stamp: what was verified, so a warm check is stat-only
    <root>/.locks/<model folder>.lock    per-model file lock (+ `.pid` sidecar naming the holder)

Public API used by `prefetch`, `up`, `doctor` and `clear-cache`: `resolve_cache_dir`,
`default_cache_dir`, `legacy_cache_dir`, `model_folder`, `inspect_model`, `repair_model`,
`model_lock`, `lock_holder`, `adopt_model`. Nothing heavy is imported at module level.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from launcher.errors import ModelError
from launcher.models.registry import ModelSpec, lookup

STAMP_NAME = ".robo-verified.json"
METADATA_NAME = "files_metadata.json"
LOCK_DIR = ".locks"
INCOMPLETE_SUFFIX = ".incomplete"
STAMP_SCHEMA = 1
# Windows' MAX_PATH is 260; a model file sits ~140 characters below the cache root.
MAX_ROOT_LENGTH = 115
DEFAULT_LOCK_WAIT = 600.0

# ----------------------------------------------------------------------------- file operations


@dataclass
class FileOps:
    """Renames and deletes that retry on PermissionError (Windows antivirus/indexer locks).

    `replace` is injectable so a test can make it fail N times, the way WinError 32 does.
    """

    replace: Callable[[str | os.PathLike[str], str | os.PathLike[str]], None] = os.replace
    tries: int = 8
    backoff: float = 0.05
    sleep: Callable[[float], None] = time.sleep

    def _retry(self, action: Callable[[], None], what: str) -> None:
        delay = self.backoff
        for attempt in range(1, self.tries + 1):
            try:
                action()
                return
            except PermissionError as exc:
                if attempt == self.tries:
                    raise
                logger.debug(f"{what} failed ({exc}); retrying in {delay:.2f} s")
                self.sleep(delay)
                delay = min(delay * 2, 1.0)

    def move(self, src: Path, dst: Path) -> None:
        """Atomic rename `src` → `dst` (replacing `dst`), retried on PermissionError."""
        self._retry(lambda: self.replace(src, dst), f"rename {src} -> {dst}")

    def unlink(self, path: Path) -> None:
        def action() -> None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

        self._retry(action, f"delete {path}")

    def rmtree(self, path: Path) -> None:
        def action() -> None:
            if path.is_symlink() or path.is_file():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            elif path.exists():
                shutil.rmtree(path)

        self._retry(action, f"delete {path}")


DEFAULT_FILE_OPS = FileOps()


def atomic_write_text(path: Path, text: str, ops: FileOps = DEFAULT_FILE_OPS) -> None:
    """Write `text` to a temp file next to `path`, fsync it, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        ops.move(temp, path)
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()


# ----------------------------------------------------------------------------- cache location


@dataclass
class CacheLocation:
    """The cache root actually used, where that choice came from, and what was skipped."""

    path: Path
    source: str  # "--cache-dir", "ROBO_BACKEND_CACHE_DIR", "FASTEMBED_CACHE_PATH", "default", …
    persistent: bool  # False when the root lies in the temp folder (cleaners may empty it)
    warnings: list[str] = field(default_factory=list)
    # False for a read-only cache that already holds models (a baked Docker layer, a read-only
    # mount): its valid models are used as they are; nothing is downloaded, repaired or locked.
    writable: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "source": self.source,
            "persistent": self.persistent,
            "writable": self.writable,
            "warnings": list(self.warnings),
        }


def default_cache_dir() -> Path:
    """The persistent per-user default: platformdirs' user cache dir + `models`.

    e.g. `%LOCALAPPDATA%\\robo-backend\\Cache\\models`, `~/Library/Caches/robo-backend/models`,
    `~/.cache/robo-backend/models`.
    """
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("robo-backend", appauthor=False)) / "models"


def legacy_cache_dir() -> Path:
    """fastembed's own default, `<temp>/fastembed_cache`, which temp cleaners empty."""
    return Path(tempfile.gettempdir()) / "fastembed_cache"


def write_probe(path: Path) -> str | None:
    """Really write in `path` (create, write, fsync, rename, delete); None or why it failed.

    `os.access` and `tempfile.gettempdir()` both lie (ACLs, read-only mounts, quota); only
    doing it tells the truth.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        token = f".robo-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        first, second = path / f"{token}.tmp", path / f"{token}.done"
        try:
            with open(first, "wb") as handle:
                handle.write(b"robo-backend write probe\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(first, second)
            second.unlink()
        finally:
            for leftover in (first, second):
                with contextlib.suppress(OSError):
                    leftover.unlink()
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _in_temp(path: Path) -> bool:
    temp = Path(tempfile.gettempdir()).resolve()
    try:
        path.resolve().relative_to(temp)
    except ValueError:
        return False
    return True


def configured_cache_dir(settings: Any) -> str | None:
    """The `cache_dir` setting as a path string; a relative path from pyproject.toml is taken
    relative to the project (like `venv`), one from a flag or the environment to the cwd."""
    value = settings.cache_dir
    if value and settings.source("cache_dir") == "pyproject.toml":
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else Path(settings.project) / path)
    return value


def settings_cache_dir(settings: Any, env: Mapping[str, str] | None = None) -> CacheLocation:
    """The cache location for resolved settings: `cache_dir` (relative to the project when it
    comes from pyproject.toml) with its source, then the usual fallbacks. Every command that
    needs the cache goes through here, so `up`, `prefetch` and `doctor` always agree."""
    return resolve_cache_dir(configured_cache_dir(settings), settings.source("cache_dir"), env)


def _holds_models(path: Path) -> bool:
    try:
        return path.is_dir() and any(
            entry.name.lower().startswith("models--") for entry in os.scandir(path)
        )
    except OSError:
        return False


def resolve_cache_dir(
    value: str | os.PathLike[str] | None,
    source: str = "default",
    env: Mapping[str, str] | None = None,
) -> CacheLocation:
    """Pick the cache root: the explicit setting (`value`, from `source`) > `FASTEMBED_CACHE_PATH`
    > platformdirs' user cache dir > `~/.robo-backend/models` > the temp folder.

    Each candidate is write-probed for real; an unwritable one is skipped with a warning (kept in
    `warnings`), and the one used is returned with its source. An unwritable candidate that
    already holds model folders is used read-only (`writable=False`) instead of skipped. A root
    longer than ~115 characters gets a warning (Windows MAX_PATH). None usable → ModelError.
    """
    environ = os.environ if env is None else env
    candidates: list[tuple[Path, str]] = []
    if value not in (None, ""):
        candidates.append((Path(os.fspath(value)).expanduser(), source))
    fastembed_path = environ.get("FASTEMBED_CACHE_PATH", "").strip()
    if fastembed_path:
        candidates.append((Path(fastembed_path).expanduser(), "FASTEMBED_CACHE_PATH"))
    with contextlib.suppress(Exception):
        candidates.append((default_cache_dir(), "default"))
    candidates.append((Path.home() / ".robo-backend" / "models", "fallback (home)"))
    candidates.append((Path(tempfile.gettempdir()) / "robo-backend-models", "fallback (temp)"))

    warnings: list[str] = []
    tried: set[str] = set()
    for path, where in candidates:
        absolute = path if path.is_absolute() else Path.cwd() / path
        key = os.path.normcase(str(absolute))
        if key in tried:
            continue
        tried.add(key)
        problem = write_probe(absolute)
        if problem is not None and _holds_models(absolute):
            warnings.append(
                f"model cache {absolute} (from {where}) is read-only ({problem}); using the "
                "models already in it, nothing can be downloaded or repaired there"
            )
            return CacheLocation(absolute, where, not _in_temp(absolute), warnings, writable=False)
        if problem is not None:
            warnings.append(
                f"model cache {absolute} (from {where}) is not writable ({problem}); skipped"
            )
            continue
        if len(str(absolute)) > MAX_ROOT_LENGTH:
            warnings.append(
                f"model cache path is {len(str(absolute))} characters long; Windows paths over "
                f"260 characters fail, keep it under {MAX_ROOT_LENGTH} (use --cache-dir)"
            )
        persistent = not _in_temp(absolute)
        if not persistent:
            warnings.append(
                f"model cache {absolute} is in the temp folder, which cleaners may empty"
            )
        return CacheLocation(absolute, where, persistent, warnings)
    raise ModelError(
        "no writable folder for the model cache: " + "; ".join(warnings),
        "Point --cache-dir (or ROBO_BACKEND_CACHE_DIR) at a folder you can write to.",
    )


# ----------------------------------------------------------------------------- model folders


def repo_folder_name(repo: str) -> str:
    """huggingface_hub's folder name for a model repo: `models--<org>--<name>`."""
    return "models--" + repo.replace("/", "--")


def _find_folder(root: Path, spec: ModelSpec) -> Path | None:
    """The model's folder under `root`, matched case-insensitively (fastembed 0.9 renamed
    repos' casing, so older caches spell the folder differently)."""
    expected = repo_folder_name(spec.repo)
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


def model_folder(root: Path, name: str) -> Path:
    """The folder of model `name` under `root`: an existing one (any casing) or where it goes."""
    spec = lookup(name)
    return _find_folder(root, spec) or root / repo_folder_name(spec.repo)


def lock_path(root: Path, name: str) -> Path:
    return root / LOCK_DIR / (repo_folder_name(lookup(name).repo) + ".lock")


# ----------------------------------------------------------------------------- hashing


def file_digests(path: Path, *, git_blob: bool = False) -> tuple[str, str | None]:
    """(sha256, git blob sha1 or None) of a file, read once."""
    sha256 = hashlib.sha256()
    sha1 = None
    if git_blob:
        sha1 = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            sha256.update(chunk)
            if sha1 is not None:
                sha1.update(chunk)
    return sha256.hexdigest(), (sha1.hexdigest() if sha1 is not None else None)


def content_matches(path: Path, etag: str) -> bool:
    """Does the file's content hash to `etag` (sha256 for 64 hex chars, git sha1 for 40)?"""
    etag = etag.strip('"').lower()
    if len(etag) == 64:
        return file_digests(path)[0] == etag
    if len(etag) == 40:
        return file_digests(path, git_blob=True)[1] == etag
    return False


def onnx_looks_complete(path: Path) -> bool:
    """A cheap structural check of an ONNX file without onnx/onnxruntime.

    Walks the top-level protobuf fields of the ModelProto (a handful: ir_version, opset_import,
    producer, graph, …) using seeks only. A truncated file fails because a length-delimited
    field runs past the end; garbage fails on an invalid wire type. It is what turns
    "Protobuf parsing failed" at backend start-up into "corrupt" at inspection time.
    """
    try:
        size = path.stat().st_size
        if size == 0:
            return False
        seen_graph = False
        with open(path, "rb") as handle:
            while True:
                position = handle.tell()
                if position == size:
                    return seen_graph
                key = _read_varint(handle)
                if key is None:
                    return False
                number, wire = key >> 3, key & 7
                if number == 0:
                    return False
                if wire == 0:
                    if _read_varint(handle) is None:
                        return False
                elif wire == 1:
                    handle.seek(8, os.SEEK_CUR)
                elif wire == 2:
                    length = _read_varint(handle)
                    if length is None or handle.tell() + length > size:
                        return False
                    if number == 7:  # ModelProto.graph
                        seen_graph = length > 0
                    handle.seek(length, os.SEEK_CUR)
                elif wire == 5:
                    handle.seek(4, os.SEEK_CUR)
                else:
                    return False
                if handle.tell() > size:
                    return False
    except OSError:
        return False


def _read_varint(handle: Any) -> int | None:
    result = 0
    for shift in range(0, 64, 7):
        byte = handle.read(1)
        if not byte:
            return None
        result |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return result
    return None


# ----------------------------------------------------------------------------- stamp


def read_json(path: Path) -> Any:
    """Parsed JSON, or None when the file is missing or not valid JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_stamp(
    folder: Path,
    spec: ModelSpec,
    commit: str,
    files: Mapping[str, Mapping[str, Any]],
    ops: FileOps = DEFAULT_FILE_OPS,
) -> None:
    """Record what was verified: per file its size, etag, sha256 and the mtime_ns seen then.

    `files` maps repo paths to {"etag", "sha256"}; size and mtime are read here, after the files
    are in place, so a later stat-only check can tell "untouched since verification".
    """
    snapshot = folder / "snapshots" / commit
    entries: dict[str, dict[str, Any]] = {}
    for rel, info in files.items():
        stat = os.stat(snapshot / rel)
        entries[rel] = {
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "etag": info["etag"],
            "sha256": info["sha256"],
        }
    stamp = {
        "schema": STAMP_SCHEMA,
        "model": spec.name,
        "repo": spec.repo,
        "commit": commit,
        "model_file": spec.model_file,
        "verified_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "files": entries,
    }
    atomic_write_text(folder / STAMP_NAME, json.dumps(stamp, indent=2), ops)


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


# ----------------------------------------------------------------------------- inspection

MISSING, PARTIAL, CORRUPT, OK = "missing", "partial", "corrupt", "ok"


@dataclass
class ModelCacheState:
    """What the cache holds for one model.

    `state` is `missing` (no folder), `partial` (`.incomplete` files with nothing usable,
    dangling symlinks, a missing model file), `corrupt` (size or sha256 differs from what the hub
    said at download time, unreadable metadata, an ONNX file that does not parse) or `ok`.
    `path` is the snapshot folder when ok (what the backend loads), else the model folder.
    `verified` says how `ok` was established: "stamp" (stat-only), "hash" (content re-hashed) or
    "size" (sizes only: no hash was available). `leftovers` are stray `.incomplete` files next
    to an otherwise ok model (harmless; prefetch deletes them).
    """

    model: str
    repo: str
    state: str
    path: Path | None
    size: int = 0
    problems: list[str] = field(default_factory=list)
    folder: Path | None = None
    commit: str | None = None
    verified: str | None = None
    leftovers: list[Path] = field(default_factory=list)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.state == OK

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "repo": self.repo,
            "state": self.state,
            "path": str(self.path) if self.path else None,
            "size": self.size,
            "problems": list(self.problems),
            "verified": self.verified,
            "leftovers": [str(p) for p in self.leftovers],
        }


def _incomplete_files(folder: Path) -> list[Path]:
    blobs = folder / "blobs"
    try:
        return sorted(p for p in blobs.iterdir() if p.name.endswith(INCOMPLETE_SUFFIX))
    except OSError:
        return []


def inspect_model(cache_root: Path, name: str, *, deep: bool = False) -> ModelCacheState:
    """Classify model `name` in `cache_root` without touching the network.

    With our stamp this is stat-only (no hashing, no model load, no fastembed import): each
    stamped file must exist through its symlink with the stamped size and mtime. A file whose
    mtime changed is re-hashed; `deep=True` re-hashes every file. Without a stamp (a cache
    written by fastembed itself, e.g. the legacy temp cache) the files are checked against
    their blob names (which are their hashes), fastembed's metadata and an ONNX structure walk.
    """
    spec = lookup(name)
    root = Path(cache_root)
    folder = _find_folder(root, spec)
    if folder is None:
        return ModelCacheState(spec.name, spec.repo, MISSING, None)
    state = ModelCacheState(spec.name, spec.repo, OK, folder, folder=folder)
    partials = _incomplete_files(folder)
    stamp = read_json(folder / STAMP_NAME)
    if _stamp_usable(stamp, spec):
        _check_stamped(state, folder, spec, stamp, deep)
    else:
        if (folder / STAMP_NAME).exists():
            state.problems.append(f"verification stamp {folder / STAMP_NAME} is unreadable")
        _check_unstamped(state, folder, spec)
    if state.problems:
        kinds = {p.split(":", 1)[0] for p in state.problems}
        state.state = CORRUPT if "corrupt" in kinds else PARTIAL
        state.problems = [p.split(":", 1)[1].strip() if ":" in p else p for p in state.problems]
        state.path = folder
        if partials:
            state.problems.append(
                f"{len(partials)} unfinished download(s) (.incomplete) in {folder / 'blobs'}"
            )
    else:
        state.leftovers = partials
        state.path = folder / "snapshots" / str(state.commit)
    return state


def _stamp_usable(stamp: Any, spec: ModelSpec) -> bool:
    return (
        isinstance(stamp, dict)
        and stamp.get("schema") == STAMP_SCHEMA
        and isinstance(stamp.get("commit"), str)
        and isinstance(stamp.get("files"), dict)
        and spec.model_file in stamp["files"]
        and str(stamp.get("repo", "")).lower() == spec.repo.lower()
    )


def _check_refs(state: ModelCacheState, folder: Path, commit: str) -> None:
    try:
        ref = (folder / "refs" / "main").read_text(encoding="utf-8").strip()
    except OSError:
        state.problems.append(f"partial: refs/main is missing in {folder}")
        return
    if ref != commit:
        state.problems.append(
            f"partial: refs/main points at {ref[:12]}, not the verified {commit[:12]}"
        )


def _check_metadata(state: ModelCacheState, folder: Path, expected: dict[str, int] | None) -> None:
    """fastembed refuses (or crashes on) a metadata file that is garbage or disagrees on sizes."""
    path = folder / METADATA_NAME
    if not path.exists():
        if expected is not None:
            state.problems.append(f"partial: {METADATA_NAME} is missing")
        return
    meta = read_json(path)
    if not isinstance(meta, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("size"), int) for v in meta.values()
    ):
        state.problems.append(f"corrupt: {path} is not valid fastembed metadata")
        return
    if expected is None:
        return
    for rel, size in expected.items():
        key = str(Path("snapshots", str(state.commit), rel))
        entry = meta.get(key)
        if entry is None or entry.get("size") != size:
            state.problems.append(f"corrupt: {METADATA_NAME} disagrees about {rel}")
            return


def _stat_file(state: ModelCacheState, path: Path, rel: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            state.problems.append(f"partial: {rel} is a dangling symlink (its blob was deleted)")
        else:
            state.problems.append(f"partial: {rel} is missing")
    except OSError as exc:
        state.problems.append(f"partial: {rel} cannot be read ({exc.strerror})")
    return None


def _check_stamped(
    state: ModelCacheState, folder: Path, spec: ModelSpec, stamp: dict[str, Any], deep: bool
) -> None:
    commit = stamp["commit"]
    state.commit = commit
    state.verified = "stamp"
    snapshot = folder / "snapshots" / commit
    _check_refs(state, folder, commit)
    sizes: dict[str, int] = {}
    for rel, info in stamp["files"].items():
        path = snapshot / rel
        stat = _stat_file(state, path, rel)
        if stat is None:
            continue
        expected = int(info.get("size", -1))
        sizes[rel] = expected
        state.size += stat.st_size
        state.files[rel] = dict(info)
        if stat.st_size != expected:
            state.problems.append(
                f"corrupt: {rel} is {stat.st_size} bytes, the hub said {expected}"
            )
            continue
        if deep or stat.st_mtime_ns != info.get("mtime_ns"):
            digest = file_digests(path)[0]
            if digest != info.get("sha256"):
                state.problems.append(f"corrupt: {rel} does not match its sha256")
            else:
                state.verified = "hash"
    _check_metadata(state, folder, sizes)


def _check_unstamped(state: ModelCacheState, folder: Path, spec: ModelSpec) -> None:
    try:
        commit = (folder / "refs" / "main").read_text(encoding="utf-8").strip()
    except OSError:
        snapshots = (
            sorted((folder / "snapshots").glob("*")) if (folder / "snapshots").is_dir() else []
        )
        if len(snapshots) != 1:
            state.problems.append(f"partial: no usable snapshot in {folder}")
            return
        commit = snapshots[0].name
        state.problems.append("partial: refs/main is missing")
    state.commit = commit
    snapshot = folder / "snapshots" / commit
    meta = read_json(folder / METADATA_NAME)
    meta_sizes: dict[str, int] = {}
    if isinstance(meta, dict):
        for key, entry in meta.items():
            parts = Path(key).parts
            if len(parts) > 2 and parts[1] == commit and isinstance(entry, dict):
                meta_sizes["/".join(parts[2:])] = int(entry.get("size", -1))
    elif (folder / METADATA_NAME).exists():
        state.problems.append(f"corrupt: {folder / METADATA_NAME} is not valid fastembed metadata")
    hashed = False
    for rel in spec.files:
        path = snapshot / rel
        if not os.path.lexists(path):
            if spec.is_required(rel) or rel in meta_sizes:
                state.problems.append(f"partial: {rel} is missing")
            continue
        stat = _stat_file(state, path, rel)
        if stat is None:
            continue
        state.size += stat.st_size
        if rel in meta_sizes and meta_sizes[rel] != stat.st_size:
            state.problems.append(
                f"corrupt: {rel} is {stat.st_size} bytes, fastembed's metadata says "
                f"{meta_sizes[rel]}"
            )
            continue
        etag = Path(os.path.realpath(path)).name if os.path.islink(path) else ""
        is_hash = len(etag) in (40, 64) and all(c in "0123456789abcdef" for c in etag)
        sha256, _ = file_digests(path)
        if is_hash:
            hashed = True
            if not content_matches(path, etag):
                state.problems.append(f"corrupt: {rel} does not match its blob hash")
                continue
        state.files[rel] = {"etag": etag or sha256, "sha256": sha256, "size": stat.st_size}
        if rel == spec.model_file and rel.endswith(".onnx") and not onnx_looks_complete(path):
            state.problems.append(f"corrupt: {rel} is not a complete ONNX file")
    state.verified = "hash" if hashed else "size"


# ----------------------------------------------------------------------------- repair


def _inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def repair_model(
    cache_root: Path,
    name: str,
    *,
    keep_blobs: bool = False,
    ops: FileOps = DEFAULT_FILE_OPS,
) -> Path | None:
    """Delete model `name`'s folder (only that folder, never anything outside `cache_root`).

    `keep_blobs=True` (what prefetch uses) keeps `blobs/`: complete blobs are re-verified by
    hash before reuse and `.incomplete` ones are resumed, so a repair after a crash costs only
    the missing bytes. Returns the folder that was cleaned, or None if there was none.
    """
    root = Path(cache_root)
    spec = lookup(name)
    folder = _find_folder(root, spec)
    if folder is None:
        return None
    if folder.parent != root or not folder.name.lower().startswith("models--"):
        raise ModelError(
            f"refusing to delete {folder}: it is not a model folder of {root}",
            "Delete it by hand if you are sure.",
        )
    if folder.is_symlink() or not _inside(root, folder):
        # A model folder that points elsewhere: drop the link, never what it points at.
        ops.unlink(folder)
        return folder
    if not keep_blobs:
        ops.rmtree(folder)
        return folder
    for entry in list(folder.iterdir()):
        if entry.name == "blobs" and entry.is_dir() and not entry.is_symlink():
            for blob in list(entry.iterdir()):
                if blob.is_symlink() or not blob.is_file():
                    ops.rmtree(blob)
            continue
        ops.rmtree(entry)
    return folder


def adopt_model(
    source_root: Path, cache_root: Path, name: str, ops: FileOps = DEFAULT_FILE_OPS
) -> Path:
    """Copy model `name`'s folder from another cache (the legacy temp cache) into `cache_root`.

    Copied into a temp folder first and renamed into place, so a crash never leaves half a copy
    under the real name; relative symlinks stay valid. The caller verifies and stamps it.
    """
    spec = lookup(name)
    source = _find_folder(Path(source_root), spec)
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
        )
        if target.exists():
            ops.rmtree(target)
        ops.move(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


# ----------------------------------------------------------------------------- locking


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        import psutil

        return bool(psutil.pid_exists(pid))
    except ImportError:  # pragma: no cover - psutil is a dependency
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _pid_file(lock: Path) -> Path:
    return lock.with_name(lock.name + ".pid")


def lock_holder(cache_root: Path, name: str) -> int | None:
    """The pid of a live process holding model `name`'s download lock, or None.

    The OS lock (flock/msvcrt) is the truth: it dies with its process, so a lock left by a
    killed prefetch is free again. The `.pid` sidecar only names the holder. Returns -1 when the
    lock is held but the holder's pid is unknown.
    """
    from filelock import FileLock, Timeout

    path = lock_path(Path(cache_root), name)
    if not path.exists():
        return None
    probe = FileLock(str(path), timeout=0)
    try:
        probe.acquire(timeout=0)
    except Timeout:
        pid = _read_pid(_pid_file(path))
        return pid if pid is not None and _pid_alive(pid) else -1
    except OSError:
        return None
    probe.release()
    return None


@contextlib.contextmanager
def model_lock(
    cache_root: Path,
    name: str,
    *,
    timeout: float = DEFAULT_LOCK_WAIT,
    on_wait: Callable[[int | None], None] | None = None,
) -> Iterator[Path]:
    """Hold model `name`'s per-model lock (`<root>/.locks/<folder>.lock`) for the block.

    A second process waits (calling `on_wait(pid)` once, so it can say who it waits for), up to
    `timeout` seconds, then gets a ModelError. A lock whose holder died is free at once.
    """
    from filelock import FileLock, Timeout

    path = lock_path(Path(cache_root), name)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = _read_pid(_pid_file(path))
        if on_wait is not None:
            on_wait(holder if holder is not None and _pid_alive(holder) else None)
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise ModelError(
                f"another process (pid {holder or 'unknown'}) has been downloading {name} for "
                f"more than {timeout:.0f} s",
                f"Wait for it to finish, or stop it; the lock is {path}.",
            ) from None
    try:
        with contextlib.suppress(OSError):
            atomic_write_text(_pid_file(path), f"{os.getpid()}\n")
        yield path
    finally:
        with contextlib.suppress(OSError):
            if _read_pid(_pid_file(path)) == os.getpid():
                _pid_file(path).unlink()
        lock.release()


# ----------------------------------------------------------------------------- platform


def symlinks_supported(
    folder: Path, env: Mapping[str, str] | None = None, platform: str | None = None
) -> bool:
    """Whether snapshot files should be symlinks to blobs.

    Not on Windows (no symlinks without Developer Mode; `HF_HUB_DISABLE_SYMLINKS=1` avoids
    dangling links altogether), not when `HF_HUB_DISABLE_SYMLINKS` is set, and not where a
    probe symlink cannot be created.
    """
    environ = os.environ if env is None else env
    if environ.get("HF_HUB_DISABLE_SYMLINKS", "").strip().lower() in {"1", "true", "yes", "on"}:
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


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in {errno.ENOSPC, getattr(errno, "EDQUOT", -1)}
