"""Several connections per large file: ranged parts fetched in parallel, each resumable.

A file of at least `threshold` bytes is cut into `count` ranges (`blobs/<etag>.<i>of<n>.incomplete`,
part 0 the ordinary partial); each part resumes where it stopped, and the joined file is verified
like a one-connection download. A server that ignores `Range` raises `NoRanges`.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from launcher.fileops import FileOps
from launcher.models.body import CHUNK, Hashes
from launcher.models.failures import TRANSIENT, DownloadError, classify, error_from_status
from launcher.models.floor import TooSlow
from launcher.models.hub import RemoteFile
from launcher.models.layout import INCOMPLETE_SUFFIX

if TYPE_CHECKING:
    import httpx

DEFAULT_PARTS = 16  # chosen by measurement: docs/benchmarks.md, "5c"
DEFAULT_PART_THRESHOLD = 16 << 20  # smaller files gain nothing from more connections
PART_RETRIES = 3  # requests per part within one attempt before the attempt fails
PART_BACKOFF = 0.5  # seconds before a part's second request, doubled after each


class NoRanges(Exception):
    """The server answered a ranged request with the whole file: use one connection."""


@dataclass(frozen=True)
class PartPlan:
    """How one file is cut: `count` ranges [start, end) covering `size` bytes."""

    size: int
    count: int

    def bounds(self, index: int) -> tuple[int, int]:
        step = -(-self.size // self.count)
        return min(index * step, self.size), min((index + 1) * step, self.size)


def plan_for(size: int, parts: int, threshold: int) -> PartPlan | None:
    """The plan for a file of `size` bytes, or None when one connection is the way."""
    if parts < 2 or size < max(threshold, parts):
        return None
    return PartPlan(size, parts)


def part_paths(blobs: Path, etag: str, count: int) -> list[Path]:
    """The part files; part 0 is the ordinary partial (see the module docstring)."""
    later = [blobs / f"{etag}.{i}of{count}{INCOMPLETE_SUFFIX}" for i in range(1, count)]
    return [blobs / (etag + INCOMPLETE_SUFFIX), *later]


def is_parted(blobs: Path, rf: RemoteFile, plan: PartPlan) -> bool:
    """Whether a partial download of `rf` can go on in parts: any part file beyond the first
    exists, or the first holds no more than its own range (a longer one is an older
    one-connection partial, resumed as such)."""
    paths = part_paths(blobs, rf.etag, plan.count)
    if any(p.exists() for p in paths[1:]):
        return True
    first = paths[0]
    try:
        return first.stat().st_size <= plan.bounds(0)[1]
    except OSError:
        return True


class _Part:
    """One range of the file: its partial file and how many bytes it already has."""

    def __init__(self, path: Path, start: int, end: int, ops: FileOps) -> None:
        self.path, self.start, self.end, self.ops = path, start, end, ops
        if path.is_symlink() or (path.exists() and not path.is_file()):
            ops.rmtree(path)  # only ever a regular file of ours is appended to
        try:
            self.have = path.stat().st_size
        except OSError:
            self.have = 0
        if self.have > end - start:  # not ours to resume: start that part over
            ops.unlink(path)
            self.have = 0

    @property
    def missing(self) -> int:
        return self.end - self.start - self.have


class PartedDownload:
    """One file fetched as parallel ranged parts (see the module docstring)."""

    def __init__(
        self,
        client: httpx.Client,
        url: str,
        rf: RemoteFile,
        blobs: Path,
        plan: PartPlan,
        *,
        advance: Callable[[int], None],
        ops: FileOps,
        shown: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client, self.url, self.rf, self.plan = client, url, rf, plan
        self.shown = shown  # the endpoint as messages may name it (credentials masked)
        self.advance, self.ops, self.sleep = advance, ops, sleep
        self.parts = [
            _Part(path, *plan.bounds(i), ops)
            for i, path in enumerate(part_paths(blobs, rf.etag, plan.count))
        ]
        self.cancelled = threading.Event()

    def fetch(self) -> None:
        """Bring every part's bytes; raises DownloadError (or NoRanges) after stopping the
        others when one part cannot finish."""
        todo = [part for part in self.parts if part.missing > 0]
        if not todo:
            return
        with ThreadPoolExecutor(len(todo), thread_name_prefix="part") as pool:
            futures = [pool.submit(self._fetch_part, part) for part in todo]
            errors: list[BaseException] = []
            for future in futures:
                with contextlib.suppress(Exception):
                    future.result()
                exc = future.exception()
                if exc is not None:
                    errors.append(exc)
                    self.cancelled.set()
        if errors:
            raise _first_cause(errors)

    def assemble(self) -> tuple[Path, str | None]:
        """Append parts 1… to part 0 (deleting each once appended), hashing the whole file in
        the same pass; (part 0's path, which now holds the file, its sha256 when it matches the
        hub's hash, else None)."""
        hashes = Hashes(self.rf)
        first = self.parts[0].path
        with open(first, "r+b") as out:
            while chunk := out.read(CHUNK):
                hashes.update(chunk)
            for part in self.parts[1:]:
                with open(part.path, "rb") as handle:
                    while chunk := handle.read(CHUNK):
                        hashes.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        for part in self.parts[1:]:
            self.ops.unlink(part.path)
        return first, hashes.verified()

    # ------------------------------------------------------------------ one part
    def _fetch_part(self, part: _Part) -> None:
        delay = PART_BACKOFF
        for request in range(1, PART_RETRIES + 1):
            if self.cancelled.is_set():
                return
            try:
                self._stream(part)
                return
            except (NoRanges, TooSlow):
                raise  # a refusal of ranges, or the attempt's floor: not this part's to retry
            except Exception as exc:
                error = classify(exc, self.rf.path, self.shown)
                if error.kind != TRANSIENT or request == PART_RETRIES or self.cancelled.is_set():
                    raise error from exc
            self.sleep(delay)
            delay *= 2

    def _stream(self, part: _Part) -> None:
        first = part.start + part.have
        headers = {"Accept-Encoding": "identity", "Range": f"bytes={first}-{part.end - 1}"}
        with self.client.stream("GET", self.url, headers=headers) as response:
            status = response.status_code
            if status == 200:
                raise NoRanges(f"{self.shown} ignored a Range request")
            if status != 206:
                raise error_from_status(status, response.headers, self.rf.path)
            content_range = response.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {first}-"):
                raise NoRanges(f"{self.shown} answered another range ({content_range!r})")
            self._write(part, response.iter_raw())
        if part.missing > 0:
            raise DownloadError(
                f"the connection ended {part.missing} bytes short of a part of {self.rf.path}",
                TRANSIENT,
            )

    def _write(self, part: _Part, chunks: Iterator[bytes]) -> None:
        with open(part.path, "ab") as handle:
            for chunk in chunks:
                if self.cancelled.is_set():
                    break
                if len(chunk) > part.missing:
                    raise DownloadError(
                        f"the hub sent more bytes than asked for a part of {self.rf.path}",
                        TRANSIENT,
                    )
                handle.write(chunk)
                part.have += len(chunk)
                self.advance(len(chunk))
            handle.flush()
            os.fsync(handle.fileno())


def _first_cause(errors: list[BaseException]) -> BaseException:
    """The error to report: a refusal of ranges first (the caller falls back), then the first
    error that is not a transient one, else the first."""
    for exc in errors:
        if isinstance(exc, NoRanges):
            return exc
    for exc in errors:
        if isinstance(exc, DownloadError) and exc.kind != TRANSIENT:
            return exc
    return errors[0]
