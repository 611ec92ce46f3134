"""One file's body over one connection: the partial file, Range resume, the running hashes.

The partial `blobs/<etag>.incomplete` is guarded by the per-model lock and resumed with a Range;
it is renamed into `blobs/<etag>` only when its hash matches the hub's. `Tally` counts the
model's bytes for the progress display.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

from launcher.fileops import FileOps
from launcher.models.failures import TRANSIENT, DownloadError, error_from_status
from launcher.models.floor import Floor
from launcher.models.hub import RemoteFile
from launcher.models.layout import INCOMPLETE_SUFFIX
from launcher.models.reporting import Progress

if TYPE_CHECKING:
    import httpx

CHUNK = 1 << 20


class Tally:
    """Overall bytes for the model's progress bar, across files, parts and restarts (parts
    report from several threads)."""

    def __init__(
        self, progress: Progress | None, completed: int, floor: Floor | None = None
    ) -> None:
        self.progress, self.completed, self.floor = progress, completed, floor
        self.received = 0  # network bytes, never rewound
        self._lock = threading.Lock()

    def advance(self, nbytes: int) -> None:
        with self._lock:
            self.completed += nbytes
            self.received += nbytes
            if self.progress is not None:
                self.progress.advance(nbytes)
            if self.floor is not None:
                self.floor.feed(nbytes)  # a trickle ends the attempt (TooSlow)

    def rewind(self, nbytes: int) -> None:
        with self._lock:
            self.completed -= nbytes
            if self.progress is not None:
                self.progress.set_completed(self.completed)


class Hashes:
    """The running hashes of one file: its sha256 and, for a file that is not an LFS one, the
    git blob sha1 the hub names it by."""

    def __init__(self, rf: RemoteFile) -> None:
        self.etag = rf.etag
        self.all = [hashlib.sha256()] + ([] if rf.lfs else [hashlib.sha1(b"blob %d\0" % rf.size)])

    def update(self, chunk: bytes) -> None:
        for hasher in self.all:
            hasher.update(chunk)

    def verified(self) -> str | None:
        """The sha256 when the content hashes to the hub's etag, else None."""
        return self.all[0].hexdigest() if self.all[-1].hexdigest() == self.etag else None


class Body:
    """One file's partial download: its path, the bytes already in it, the running hashes."""

    def __init__(self, rf: RemoteFile, blobs: Path, tally: Tally, ops: FileOps) -> None:
        self.rf, self.tally, self.ops = rf, tally, ops
        self.partial = blobs / (rf.etag + INCOMPLETE_SUFFIX)
        if self.partial.is_symlink() or (self.partial.exists() and not self.partial.is_file()):
            ops.rmtree(self.partial)  # only ever a regular file of ours is appended to
        self.offset = self.partial.stat().st_size if self.partial.exists() else 0
        self.received = 0
        if self.offset > rf.size:
            self.discard(rf.size)
        self.hashes = Hashes(rf)
        if self.offset:
            with open(self.partial, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    self.hashes.update(chunk)

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
        self.hashes = Hashes(self.rf)

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
                self.hashes.update(chunk)
                self.received += len(chunk)
                self.tally.advance(len(chunk))
            handle.flush()
            os.fsync(handle.fileno())


def _response_status(response: httpx.Response, offset: int) -> int:
    """The status as far as resuming goes: a 206 for the wrong range counts as 200 or 416."""
    status = response.status_code
    content_range = response.headers.get("Content-Range", "")
    if status == 206 and not content_range.startswith(f"bytes {offset}-"):
        return 200 if not offset else 416
    return status


def _stream_body(client: httpx.Client, url: str, body: Body) -> None:
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


def fetch_whole(
    client: httpx.Client, url: str, rf: RemoteFile, blobs: Path, tally: Tally, ops: FileOps
) -> str:
    """One connection: resume `<etag>.incomplete` with a Range from its end; the sha256."""
    body = Body(rf, blobs, tally, ops)
    if body.offset < rf.size or rf.size == 0:
        _stream_body(client, url, body)
    if body.size < rf.size:
        raise DownloadError(
            f"the connection ended after {body.size} of {rf.size} bytes of {rf.path}", TRANSIENT
        )
    sha256 = body.hashes.verified()
    if sha256 is None:
        body.discard(body.size)
        raise DownloadError(
            f"{rf.path} arrived corrupted (its hash does not match the hub's); discarded",
            TRANSIENT,
        )
    ops.move(body.partial, blobs / rf.etag)
    return sha256
