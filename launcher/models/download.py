"""The download engine: one attempt at bringing a model's files into the cache, verified.

Every file is verified (sha256 for LFS files, the git blob sha1 for the others) before it is
renamed into `blobs/<etag>`, so nothing unverified is ever visible to fastembed. One call of
`download_model` is one attempt; retries, fallback and failure kinds live elsewhere.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from loguru import logger

from launcher.fileops import FileOps
from launcher.models import space
from launcher.models.body import Tally, fetch_whole
from launcher.models.failures import DISK, PERMANENT, TRANSIENT, DownloadError, classify
from launcher.models.floor import Floor
from launcher.models.hub import RemoteFile, RemoteModel
from launcher.models.integrity import file_digests
from launcher.models.layout import (
    INCOMPLETE_SUFFIX,
    model_folder,
    place_files,
    write_fastembed_metadata,
)
from launcher.models.names import OutsideCache, confine
from launcher.models.options import PrefetchOptions
from launcher.models.parts import NoRanges, PartedDownload, is_parted, plan_for
from launcher.models.provenance import Provenance
from launcher.models.registry import ModelSpec
from launcher.models.space import DISK_MARGIN, check_free_space, existing_bytes, free_space_hint
from launcher.models.verified import write_stamp
from launcher.redact import redact_url
from launcher.values import format_bytes

if TYPE_CHECKING:
    import httpx


@dataclass
class Target:
    """Where one model's download goes and how it is reached."""

    spec: ModelSpec
    root: Path
    endpoint: str
    token: str | None
    symlinks: bool

    @property
    def shown(self) -> str:
        """The endpoint as messages may name it; requests use `endpoint` itself."""
        return redact_url(self.endpoint)

    @functools.cached_property
    def folder(self) -> Path:
        """The model's folder, looked up (any casing) once."""
        return model_folder(self.root, self.spec.name)


def _fetch_file(
    client: httpx.Client,
    url: str,
    rf: RemoteFile,
    tally: Tally,
    target: Target,
    options: PrefetchOptions,
    sleep: Callable[[float], None],
) -> str:
    """Bring one file into `blobs/<etag>`, resuming what earlier attempts left; its sha256.
    Large files come in parallel ranged parts where the server honours Range."""
    blobs, ops = target.folder / "blobs", options.file_ops
    plan = plan_for(rf.size, options.parts, options.part_threshold)
    if plan is not None and is_parted(blobs, rf, plan):
        parted = PartedDownload(
            client,
            url,
            rf,
            blobs,
            plan,
            advance=tally.advance,
            ops=ops,
            shown=target.shown,
            sleep=sleep,
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
) -> str:
    parted.fetch()
    whole, sha256 = parted.assemble()
    if sha256 is None:
        ops.unlink(whole)
        tally.rewind(rf.size)
        raise DownloadError(
            f"{rf.path} arrived corrupted (its hash does not match the hub's); discarded",
            TRANSIENT,
        )
    ops.move(whole, blobs / rf.etag)
    return sha256


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
    target: Target,
    remote: RemoteModel,
    todo: list[RemoteFile],
    options: PrefetchOptions,
    floor: Floor | None,
    sleep: Callable[[float], None],
) -> tuple[dict[str, str], int]:
    """Fetch every file of `todo` under the model's progress display; ({etag: sha256}, bytes
    received). Errors carry the bytes received."""
    folder, label = target.folder, target.spec.label
    check_free_space(folder, remote, label)
    existing = existing_bytes(folder, remote)
    sha256s: dict[str, str] = {}
    with (options.progress or _no_progress)(label, remote.total, existing) as bar:
        tally = Tally(bar, existing, floor)
        current = ""
        try:
            for rf in todo:
                current = rf.path
                url = f"{target.endpoint}/{remote.repo}/resolve/{remote.commit}/{quote(rf.path)}"
                sha256s[rf.etag] = _fetch_file(client, url, rf, tally, target, options, sleep)
        except Exception as exc:
            classified = classify(exc, f"{target.spec.repo}/{current}", target.shown)
            classified.bytes_received = tally.received
            if classified.kind == DISK:
                freed = _remove_partials(folder, options.file_ops)
                classified.message += f"; removed {format_bytes(freed)} of partial files"
                wanted = remote.total + DISK_MARGIN
                short = wanted - space.disk_free(folder)
                classified.hint = free_space_hint(short if short > 0 else wanted, folder)
            if classified is exc:
                raise
            raise classified from exc
    return sha256s, tally.received


def download_model(
    client: httpx.Client,
    target: Target,
    remote: RemoteModel,
    options: PrefetchOptions,
    verified: dict[str, str],
    floor: Floor | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Path, int]:
    """One attempt: fetch what is missing of `remote`, verify, lay out the snapshot; (the
    snapshot, bytes received).

    Must be called under `lock.model_lock`. `verified` (etag → sha256) spares a retry re-hashing
    blobs an earlier attempt verified; `floor` is the throughput floor; `sleep` waits between a
    part's requests. Raises DownloadError.
    """
    folder, ops = target.folder, options.file_ops
    blobs = folder / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    try:
        confine(folder.parent, folder)
        confine(folder, blobs)
        sha256s: dict[str, str] = {}
        todo: list[RemoteFile] = []
        for rf in sorted(remote.files, key=lambda f: f.size):
            sha = _reuse_blob(rf, blobs, verified, ops)
            if sha is None:
                todo.append(rf)
            else:
                sha256s[rf.etag] = sha
        received = 0
        if todo:
            fetched, received = _fetch_all(client, target, remote, todo, options, floor, sleep)
            sha256s.update(fetched)
            verified.update(fetched)
        snapshot = _materialize(target, remote, sha256s, ops)
    except OutsideCache as exc:
        raise DownloadError(
            f"refused to write outside the model cache: {exc}",
            PERMANENT,
            hint="Delete that model's folder (robo-backend clear-cache) and try again.",
        ) from exc
    _remove_partials(folder, ops)
    return snapshot, received


def _materialize(
    target: Target, remote: RemoteModel, sha256s: dict[str, str], ops: FileOps
) -> Path:
    """Make the verified blobs visible the way huggingface_hub/fastembed expect them, then
    write fastembed's metadata and our stamp."""
    folder, files = target.folder, remote.files
    snapshot = place_files(
        folder, remote.commit, {rf.path: rf.etag for rf in files}, ops, target.symlinks
    )
    sizes = {rf.path: {"size": rf.size, "blob_id": rf.blob_id} for rf in files}
    write_fastembed_metadata(folder, remote.commit, sizes, ops)
    hashes = {rf.path: {"etag": rf.etag, "sha256": sha256s[rf.etag]} for rf in files}
    source = Provenance.download(target.shown, remote.commit)
    write_stamp(folder, target.spec, remote.commit, hashes, ops, source=source)
    return snapshot
