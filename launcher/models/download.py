"""The download engine: one attempt at bringing a model's files into the cache, verified.

File bodies use our own streaming loop because huggingface_hub 1.x downloads into a
process-unique temp file and deletes it on any failure, so it can never resume across runs.
Here the partial file has a stable name, `blobs/<etag>.incomplete`, guarded by the per-model
lock; a retry, or the next run after a crash, sends `Range: bytes=<size>-` and appends. Every
file is verified (sha256 for LFS files, the git blob sha1 for the others) BEFORE it is renamed
into `blobs/<etag>`, so nothing unverified is ever visible to fastembed.

One call of `download_model` is one attempt; the retry policy lives in `attempts.py`, the chain
in `fetch.py`, the failure kinds in `failures.py`, the HTTP client and metadata in `hub.py`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from loguru import logger

from launcher.fileops import DEFAULT_FILE_OPS, FileOps
from launcher.models import space
from launcher.models.failures import (
    DISK,
    PERMANENT,
    TRANSIENT,
    DownloadError,
    classify,
    error_from_status,
)
from launcher.models.floor import Floor
from launcher.models.hub import RemoteFile, RemoteModel
from launcher.models.integrity import file_digests
from launcher.models.layout import INCOMPLETE_SUFFIX, place_files, write_fastembed_metadata
from launcher.models.names import OutsideCache, confine
from launcher.models.provenance import Provenance
from launcher.models.registry import ModelSpec
from launcher.models.reporting import Progress, ProgressFactory
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


# ----------------------------------------------------------------------------- bodies


class _Tally:
    """Overall bytes for the model's progress bar, across files and restarts."""

    def __init__(self, progress: Progress | None, completed: int, floor: Floor | None) -> None:
        self.progress, self.completed, self.floor = progress, completed, floor
        self.received = 0  # network bytes, never rewound

    def advance(self, nbytes: int) -> None:
        self.completed += nbytes
        self.received += nbytes
        if self.progress is not None:
            self.progress.advance(nbytes)
        if self.floor is not None:
            self.floor.feed(nbytes)  # a trickle ends the attempt (TooSlow)

    def rewind(self, nbytes: int) -> None:
        self.completed -= nbytes
        if self.progress is not None:
            self.progress.set_completed(self.completed)


class _Body:
    """One file's partial download: its path, the bytes already in it, the running hashes."""

    def __init__(self, rf: RemoteFile, blobs: Path, tally: _Tally, ops: FileOps) -> None:
        self.rf, self.tally, self.ops = rf, tally, ops
        self.partial = blobs / (rf.etag + INCOMPLETE_SUFFIX)
        if self.partial.is_symlink() or (self.partial.exists() and not self.partial.is_file()):
            ops.rmtree(self.partial)  # only ever a regular file of ours is appended to
        self.offset = self.partial.stat().st_size if self.partial.exists() else 0
        self.received = 0
        if self.offset > rf.size:
            self.discard(rf.size)
        self.hashers = self._new_hashers()
        if self.offset:
            self._hash_prefix()

    def _new_hashers(self) -> tuple[Any, Any]:
        sha1 = None if self.rf.lfs else hashlib.sha1(b"blob %d\0" % self.rf.size)
        return hashlib.sha256(), sha1

    def _hash_prefix(self) -> None:
        with open(self.partial, "rb") as handle:
            while chunk := handle.read(CHUNK):
                self._update(chunk)

    def _update(self, chunk: bytes) -> None:
        for hasher in self.hashers:
            if hasher is not None:
                hasher.update(chunk)

    @property
    def size(self) -> int:
        return self.offset + self.received

    def discard(self, counted: int) -> None:
        """Delete the partial file and take `counted` bytes off the progress."""
        self.ops.unlink(self.partial)
        self.tally.rewind(counted)
        self.offset = self.received = 0

    def restart(self) -> None:
        """The server sent the whole file: start over from byte 0 (the file is truncated)."""
        logger.debug(f"{self.rf.path}: the server ignored the Range request; starting over")
        self.tally.rewind(self.offset)
        self.offset = 0
        self.hashers = self._new_hashers()

    def write(self, chunks: Iterator[bytes]) -> None:
        with open(self.partial, "ab" if self.offset else "wb") as handle:
            for chunk in chunks:
                if self.size + len(chunk) > self.rf.size:
                    handle.close()
                    self.discard(self.size)
                    raise DownloadError(
                        f"the hub sent more bytes than the {self.rf.size} announced for "
                        f"{self.rf.path}",
                        TRANSIENT,
                    )
                handle.write(chunk)
                self._update(chunk)
                self.received += len(chunk)
                self.tally.advance(len(chunk))
            handle.flush()
            os.fsync(handle.fileno())

    def digest(self) -> str | None:
        """The sha256 when the content matches the hub's hash, else None."""
        sha256, sha1 = self.hashers
        actual = sha256.hexdigest() if self.rf.lfs else sha1.hexdigest()
        return sha256.hexdigest() if actual == self.rf.etag else None


def _response_status(response: httpx.Response, offset: int) -> int:
    """The status as far as resuming goes: a 206 for the wrong range counts as 200 or 416."""
    status = response.status_code
    content_range = response.headers.get("Content-Range", "")
    if status == 206 and not content_range.startswith(f"bytes {offset}-"):
        return 200 if not offset else 416
    return status


def _stream_body(client: httpx.Client, url: str, body: _Body) -> None:
    headers = {"Accept-Encoding": "identity"}
    if body.offset:
        headers["Range"] = f"bytes={body.offset}-"
    with client.stream("GET", url, headers=headers) as response:
        status = _response_status(response, body.offset)
        if status == 416:
            body.discard(body.offset)
            raise DownloadError(
                f"the hub refused to resume {body.rf.path}; starting over", TRANSIENT
            )
        if status not in (200, 206):
            raise error_from_status(status, response.headers, body.rf.path)
        if status == 200 and body.offset:
            body.restart()
        body.write(response.iter_raw())


def _fetch_file(
    client: httpx.Client, url: str, rf: RemoteFile, blobs: Path, tally: _Tally, ops: FileOps
) -> tuple[int, str]:
    """Bring one file into `blobs/<etag>`, resuming `<etag>.incomplete`; (received, sha256)."""
    body = _Body(rf, blobs, tally, ops)
    if body.offset < rf.size or rf.size == 0:
        _stream_body(client, url, body)
    if body.size < rf.size:
        raise DownloadError(
            f"the connection ended after {body.size} of {rf.size} bytes of {rf.path}", TRANSIENT
        )
    sha256 = body.digest()
    if sha256 is None:
        body.discard(body.size)
        raise DownloadError(
            f"{rf.path} arrived corrupted (its hash does not match the hub's); discarded",
            TRANSIENT,
        )
    ops.move(body.partial, blobs / rf.etag)
    return body.received, sha256


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
    tally: _Tally,
    ops: FileOps,
) -> dict[str, str]:
    """Fetch every file of `todo`; {etag: sha256}. Errors carry the bytes received."""
    sha256s: dict[str, str] = {}
    current = ""
    base = endpoint.rstrip("/")
    try:
        for rf in todo:
            current = rf.path
            url = f"{base}/{remote.repo}/resolve/{remote.commit}/{quote(rf.path)}"
            sha256s[rf.etag] = _fetch_file(client, url, rf, folder / "blobs", tally, ops)[1]
    except DownloadError as failed:
        failed.bytes_received = tally.received
        raise
    except Exception as exc:
        classified = classify(exc, f"{what}/{current}", shown)
        classified.bytes_received = tally.received
        if classified.kind == DISK:
            freed = _remove_partials(folder, ops)
            classified.message += f"; removed {format_bytes(freed)} of partial files"
            wanted = remote.total + DISK_MARGIN
            short = wanted - space.disk_free(folder)
            classified.hint = free_space_hint(short if short > 0 else wanted, folder)
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
    floor: Floor | None = None,
) -> DownloadStats:
    """One attempt: fetch what is missing of `remote` into `folder`, verify, then materialize the
    snapshot (symlinks or moved files), `refs/main`, fastembed's metadata and our stamp.

    Must be called under `lock.model_lock`. `verified` (etag → sha256) carries blobs already
    verified by an earlier attempt of the same run, so a retry does not re-hash them.
    `progress(label, total, completed)` opens the progress display; `shown` is the endpoint as
    messages may name it (credentials masked). `floor` ends an attempt that receives too slowly
    (floor.py). Raises DownloadError.
    """
    verified = {} if verified is None else verified
    blobs = folder / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    try:
        confine(folder.parent, folder)
        confine(folder, blobs)
        return _download(
            client, spec, remote, folder, endpoint, shown, progress, ops, symlinks, verified, floor
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
            tally = _Tally(bar, existing, floor)
            fetched = _fetch_all(
                client, remote, todo, folder, what=spec.repo, endpoint=endpoint,
                shown=shown or endpoint, tally=tally, ops=ops,
            )  # fmt: skip
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
