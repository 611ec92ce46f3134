"""The download engine: one attempt at bringing a model's files into the cache, verified.

Every file is verified (sha256 for LFS files, the git blob sha1 for the others) before it is
renamed into `blobs/<etag>`, so nothing unverified is ever visible to fastembed. One call of
`download_model` is one attempt; retries, fallback and failure kinds live elsewhere.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from loguru import logger

from launcher.fileops import DEFAULT_FILE_OPS, FileOps
from launcher.models import space
from launcher.models.body import Tally, fetch_whole
from launcher.models.failures import (
    DISK,
    PERMANENT,
    TRANSIENT,
    DownloadError,
    classify,
)
from launcher.models.floor import Floor
from launcher.models.hub import RemoteFile, RemoteModel
from launcher.models.integrity import file_digests
from launcher.models.layout import INCOMPLETE_SUFFIX, place_files, write_fastembed_metadata
from launcher.models.names import OutsideCache, confine
from launcher.models.parts import (
    DEFAULT_PART_THRESHOLD,
    DEFAULT_PARTS,
    NoRanges,
    PartedDownload,
    is_parted,
    plan_for,
)
from launcher.models.provenance import Provenance
from launcher.models.registry import ModelSpec
from launcher.models.reporting import ProgressFactory
from launcher.models.space import DISK_MARGIN, check_free_space, existing_bytes, free_space_hint
from launcher.models.verified import write_stamp
from launcher.values import format_bytes

if TYPE_CHECKING:
    import httpx

CHUNK = 1 << 20


@dataclass
class DownloadStats:
    bytes_received: int = 0
    bytes_reused: int = 0
    snapshot: Path | None = None
    files: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Connections:
    """How many connections a large file gets (`count` ranged parts for files of at least
    `threshold` bytes; 1 means always one connection), and the endpoint as messages name it."""

    count: int = DEFAULT_PARTS
    threshold: int = DEFAULT_PART_THRESHOLD
    shown: str = ""
    sleep: Callable[[float], None] = time.sleep  # between a part's requests


def _fetch_file(
    client: httpx.Client,
    url: str,
    rf: RemoteFile,
    blobs: Path,
    tally: Tally,
    ops: FileOps,
    connections: Connections,
) -> tuple[int, str]:
    """Bring one file into `blobs/<etag>`, resuming what earlier attempts left; (received,
    sha256). Large files come in parallel ranged parts where the server honours Range."""
    plan = plan_for(rf.size, connections.count, connections.threshold)
    if plan is not None and is_parted(blobs, rf, plan):
        parted = PartedDownload(
            client,
            url,
            rf,
            blobs,
            plan,
            advance=tally.advance,
            ops=ops,
            shown=connections.shown,
            sleep=connections.sleep,
        )
        try:
            return _fetch_parted(parted, rf, blobs, tally, ops)
        except NoRanges as exc:
            logger.debug(f"{rf.path}: {exc}; downloading it over one connection")
            for extra in parted.parts[1:]:
                tally.rewind(extra.have)
                ops.unlink(extra.path)
    return fetch_whole(client, url, rf, blobs, tally, ops)


def _fetch_parted(
    parted: PartedDownload, rf: RemoteFile, blobs: Path, tally: Tally, ops: FileOps
) -> tuple[int, str]:
    before = tally.received
    parted.fetch()
    whole, sha256, sha1 = parted.assemble()
    if (sha256 if rf.lfs else sha1) != rf.etag:
        ops.unlink(whole)
        tally.rewind(rf.size)
        raise DownloadError(
            f"{rf.path} arrived corrupted (its hash does not match the hub's); discarded",
            TRANSIENT,
        )
    ops.move(whole, blobs / rf.etag)
    return tally.received - before, sha256


def _reuse_blob(rf: RemoteFile, blobs: Path, verified: dict[str, str], ops: FileOps) -> str | None:
    """The sha256 of an existing complete blob that still matches; else clears the way.

    A blob shorter than the file is turned back into a partial (a truncated blob is a prefix
    worth resuming; the final hash check catches anything else).
    """
    blob = blobs / rf.etag
    if rf.etag in verified and blob.is_file():
        return verified[rf.etag]
    if not blob.exists() and not blob.is_symlink():
        return None
    if blob.is_file() and not blob.is_symlink():
        size = blob.stat().st_size
        if size == rf.size:
            sha256, sha1 = file_digests(blob, git_blob=not rf.lfs)
            if (sha256 if rf.lfs else sha1) == rf.etag:
                verified[rf.etag] = sha256
                return sha256
        elif size < rf.size and not (blobs / (rf.etag + INCOMPLETE_SUFFIX)).exists():
            ops.move(blob, blobs / (rf.etag + INCOMPLETE_SUFFIX))
            return None
    ops.rmtree(blob)
    return None


def _remove_partials(folder: Path, ops: FileOps) -> int:
    freed = 0
    with contextlib.suppress(OSError):
        for entry in (folder / "blobs").iterdir():
            if entry.name.endswith(INCOMPLETE_SUFFIX):
                with contextlib.suppress(OSError):
                    freed += entry.lstat().st_size
                ops.unlink(entry)
    return freed


def _no_progress(label: str, total: int, completed: int) -> contextlib.nullcontext[None]:
    return contextlib.nullcontext()


def _fetch_all(
    client: httpx.Client,
    remote: RemoteModel,
    todo: list[RemoteFile],
    folder: Path,
    *,
    what: str,
    endpoint: str,
    shown: str,
    tally: Tally,
    ops: FileOps,
    connections: Connections,
) -> dict[str, str]:
    """Fetch every file of `todo`; {etag: sha256}. Errors carry the bytes received."""
    sha256s: dict[str, str] = {}
    current = ""
    base = endpoint.rstrip("/")
    try:
        for rf in todo:
            current = rf.path
            url = f"{base}/{remote.repo}/resolve/{remote.commit}/{quote(rf.path)}"
            fetched = _fetch_file(client, url, rf, folder / "blobs", tally, ops, connections)
            sha256s[rf.etag] = fetched[1]
    except Exception as exc:
        classified = classify(exc, f"{what}/{current}", shown)
        classified.bytes_received = tally.received
        if classified.kind == DISK:
            freed = _remove_partials(folder, ops)
            classified.message += f"; removed {format_bytes(freed)} of partial files"
            wanted = remote.total + DISK_MARGIN
            short = wanted - space.disk_free(folder)
            classified.hint = free_space_hint(short if short > 0 else wanted, folder)
        if classified is exc:
            raise
        raise classified from exc
    return sha256s


def download_model(
    client: httpx.Client,
    spec: ModelSpec,
    remote: RemoteModel,
    folder: Path,
    *,
    endpoint: str,
    shown: str | None = None,
    progress: ProgressFactory | None = None,
    ops: FileOps = DEFAULT_FILE_OPS,
    symlinks: bool = True,
    verified: dict[str, str] | None = None,
    connections: Connections | None = None,
    floor: Floor | None = None,
) -> DownloadStats:
    """One attempt: fetch what is missing of `remote` into `folder`, verify, lay out the snapshot.

    Must be called under `lock.model_lock`. `verified` (etag → sha256) spares a retry re-hashing
    blobs an earlier attempt verified; `shown` is the endpoint with credentials masked;
    `connections` the parallel parts of a large file; `floor` the throughput floor. Raises
    DownloadError.
    """
    verified = {} if verified is None else verified
    blobs = folder / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    try:
        confine(folder.parent, folder)
        confine(folder, blobs)
        return _download(
            client,
            spec,
            remote,
            folder,
            endpoint,
            shown,
            progress,
            ops,
            symlinks,
            verified,
            connections or Connections(),
            floor,
        )
    except OutsideCache as exc:
        raise DownloadError(
            f"refused to write outside the model cache: {exc}",
            PERMANENT,
            hint="Delete that model's folder (robo-backend clear-cache) and try again.",
        ) from exc


def _download(
    client: httpx.Client,
    spec: ModelSpec,
    remote: RemoteModel,
    folder: Path,
    endpoint: str,
    shown: str | None,
    progress: ProgressFactory | None,
    ops: FileOps,
    symlinks: bool,
    verified: dict[str, str],
    connections: Connections,
    floor: Floor | None,
) -> DownloadStats:
    blobs = folder / "blobs"
    stats = DownloadStats()
    sha256s: dict[str, str] = {}
    todo: list[RemoteFile] = []
    for rf in sorted(remote.files, key=lambda f: f.size):
        sha = _reuse_blob(rf, blobs, verified, ops)
        if sha is not None:
            sha256s[rf.etag] = sha
            stats.bytes_reused += rf.size
        else:
            todo.append(rf)
    if todo:
        check_free_space(folder, remote, spec.label)
        opener = progress or _no_progress
        existing = existing_bytes(folder, remote)
        with opener(spec.label, remote.total, existing) as bar:
            tally = Tally(bar, existing, floor)
            fetched = _fetch_all(
                client,
                remote,
                todo,
                folder,
                what=spec.repo,
                endpoint=endpoint,
                shown=shown or endpoint,
                tally=tally,
                ops=ops,
                connections=replace(connections, shown=shown or endpoint),
            )
            sha256s.update(fetched)
            verified.update(fetched)
            stats.bytes_received = tally.received
    shown = shown or endpoint
    stats.snapshot = _materialize(spec, remote, folder, sha256s, ops, symlinks, shown)
    stats.files = [rf.path for rf in remote.files]
    _remove_partials(folder, ops)
    return stats


def _materialize(
    spec: ModelSpec,
    remote: RemoteModel,
    folder: Path,
    sha256s: dict[str, str],
    ops: FileOps,
    symlinks: bool,
    shown: str,
) -> Path:
    """Make the verified blobs visible the way huggingface_hub/fastembed expect them, then
    write fastembed's metadata and our stamp."""
    etags = {rf.path: rf.etag for rf in remote.files}
    snapshot = place_files(folder, remote.commit, etags, ops, symlinks)
    write_fastembed_metadata(
        folder,
        remote.commit,
        {rf.path: {"size": rf.size, "blob_id": rf.blob_id} for rf in remote.files},
        ops,
    )
    write_stamp(
        folder,
        spec,
        remote.commit,
        {rf.path: {"etag": rf.etag, "sha256": sha256s[rf.etag]} for rf in remote.files},
        ops,
        source=Provenance.download(shown, remote.commit),
    )
    return snapshot
