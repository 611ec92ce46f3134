"""The download engine: one attempt at bringing a model's files into the cache, verified.

Everything goes over one httpx client per attempt (httpx is huggingface_hub's own HTTP
library). Metadata is the hub API call huggingface_hub's `model_info(files_metadata=True)`
makes (commit, sizes, sha256/blob ids: one request), sent ourselves because huggingface_hub
adds an agent-detection request to the endpoint it read at import time. File bodies use our own
streaming loop because huggingface_hub 1.x downloads into a process-unique temp file and deletes
it on any failure (`_download_to_tmp_and_move`), so it can never resume across runs. Here the
partial file has a stable name, `blobs/<etag>.incomplete`, guarded by the per-model lock; a
retry, or the next run after a crash, sends `Range: bytes=<size>-` and appends. Every file is
verified (sha256 for LFS files, the git blob sha1 for the others) BEFORE it is renamed into
`blobs/<etag>`, so nothing unverified is ever visible to fastembed.

One call of `download_model` is one attempt; the retry policy and the fallback chain live in
`prefetch.py`. Failures are `DownloadError`s whose `kind` drives that policy:
`transient` (retry), `permanent` (don't), `unreachable` (don't, and don't sleep either),
`disk` (not enough space: don't).
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from loguru import logger

from launcher import __version__
from launcher.models.cache import (
    DEFAULT_FILE_OPS,
    INCOMPLETE_SUFFIX,
    FileOps,
    atomic_write_text,
    file_digests,
    is_disk_full,
    write_fastembed_metadata,
    write_stamp,
)
from launcher.models.registry import ModelSpec
from launcher.progress import Progress

if TYPE_CHECKING:
    import httpx

TRANSIENT = "transient"
PERMANENT = "permanent"
UNREACHABLE = "unreachable"
DISK = "disk"

CHUNK = 1 << 20
DISK_MARGIN = 32 * 1024 * 1024
CONNECT_TIMEOUT = 10.0
MAX_RETRY_AFTER = 600.0


class DownloadError(Exception):
    """One failed attempt: what happened (`message`), what to do (`hint`), how to go on (`kind`)."""

    def __init__(
        self,
        message: str,
        kind: str,
        *,
        hint: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.hint = hint
        self.status = status
        self.retry_after = retry_after
        self.bytes_received = 0  # body bytes that came over the network in this attempt

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class RemoteFile:
    """A file as the hub describes it. `etag` names the blob and is what the content must hash
    to: the LFS sha256 for LFS files, the git blob sha1 (`blob_id`) for the others."""

    path: str
    size: int
    etag: str
    blob_id: str
    lfs: bool


@dataclass(frozen=True)
class RemoteModel:
    repo: str
    commit: str
    files: tuple[RemoteFile, ...]

    @property
    def total(self) -> int:
        return sum(f.size for f in self.files)


@dataclass
class DownloadStats:
    bytes_received: int = 0
    bytes_reused: int = 0
    snapshot: Path | None = None
    files: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- errors


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def error_from_status(status: int, headers: Any, what: str) -> DownloadError:
    """Classify an HTTP error answer."""
    if status == 429:
        return DownloadError(
            f"the hub is rate-limiting requests (HTTP 429) for {what}",
            TRANSIENT,
            hint="Set HF_TOKEN to a Hugging Face token: authenticated requests get higher limits.",
            status=status,
            retry_after=_retry_after(headers.get("Retry-After")),
        )
    if status in (401, 403):
        return DownloadError(
            f"access to {what} was refused (HTTP {status}): the repo is gated or private",
            PERMANENT,
            hint="Set HF_TOKEN to a token that has access to the repo (and accept its terms).",
            status=status,
        )
    if status == 404:
        return DownloadError(
            f"{what} was not found on the hub (HTTP 404)", PERMANENT, status=status
        )
    if status == 408 or status >= 500:
        return DownloadError(
            f"the hub answered HTTP {status} for {what}",
            TRANSIENT,
            status=status,
            retry_after=_retry_after(headers.get("Retry-After")),
        )
    return DownloadError(f"the hub answered HTTP {status} for {what}", PERMANENT, status=status)


def classify(exc: BaseException, what: str, endpoint: str) -> DownloadError:
    """Turn an exception raised while talking to the hub into a DownloadError."""
    import httpx

    if isinstance(exc, DownloadError):
        return exc
    if is_disk_full(exc):
        return DownloadError(
            f"the disk is full while downloading {what}",
            DISK,
            hint="Free some space, or point --cache-dir at a drive with room.",
        )
    if isinstance(exc, httpx.ConnectError):
        return DownloadError(
            f"cannot reach {endpoint} ({exc})",
            UNREACHABLE,
            hint="Check your network, proxy or HF_ENDPOINT; a cached model needs no network.",
        )
    if isinstance(exc, httpx.TimeoutException):
        phase = "connecting" if isinstance(exc, httpx.ConnectTimeout) else "waiting for data"
        return DownloadError(f"timed out {phase} from {endpoint} for {what}", TRANSIENT)
    if isinstance(exc, httpx.TransportError):
        return DownloadError(f"the connection broke while downloading {what} ({exc})", TRANSIENT)
    if isinstance(exc, OSError):
        return DownloadError(f"a file operation failed while downloading {what}: {exc}", TRANSIENT)
    raise exc


# ----------------------------------------------------------------------------- metadata


def open_client(token: str | None, stall_timeout: float) -> httpx.Client:
    """The HTTP client of one attempt (metadata and bodies share its connection).

    The read timeout is the stall watchdog: an attempt that receives no byte for
    `stall_timeout` seconds ends with a transient error (and the next one resumes).
    """
    import httpx

    headers = {"User-Agent": f"robo-backend/{__version__}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    stall = stall_timeout if stall_timeout > 0 else None
    timeout = httpx.Timeout(stall, connect=min(CONNECT_TIMEOUT, stall or CONNECT_TIMEOUT))
    return httpx.Client(headers=headers, timeout=timeout, follow_redirects=True)


def _metadata_error(response: httpx.Response, spec: ModelSpec, endpoint: str) -> DownloadError:
    code = response.headers.get("X-Error-Code", "")
    if code == "GatedRepo":
        return DownloadError(
            f"{spec.repo} is a gated repo (HTTP {response.status_code})",
            PERMANENT,
            hint="Set HF_TOKEN to a token that has access to the repo (and accept its terms).",
            status=response.status_code,
        )
    if response.status_code == 404 or code in ("RepoNotFound", "RevisionNotFound"):
        return DownloadError(
            f"{spec.repo} does not exist on {endpoint} (HTTP {response.status_code})",
            PERMANENT,
            hint="Check the model name, or HF_ENDPOINT if you use a mirror.",
            status=response.status_code,
        )
    return error_from_status(response.status_code, response.headers, spec.repo)


def fetch_remote(client: httpx.Client, spec: ModelSpec, *, endpoint: str) -> RemoteModel:
    """One request: the commit of `main` and, per wanted file, its size and hash.

    The same API call as huggingface_hub's `HfApi.model_info(repo, revision="main",
    files_metadata=True)`, made on our client: huggingface_hub builds its headers with an
    agent-detection lookup sent to the endpoint it read from the environment at import time
    (not the `endpoint=` it is given), and it reads HF_HUB_OFFLINE at import time too.
    """
    url = f"{endpoint}/api/models/{spec.repo}/revision/main"
    try:
        response = client.get(url, params={"blobs": "true"})
    except Exception as exc:  # classified below; anything unexpected is re-raised there
        raise classify(exc, spec.repo, endpoint) from exc
    if response.status_code != 200:
        raise _metadata_error(response, spec, endpoint)
    try:
        info = response.json()
        commit = str(info["sha"])
        siblings = {s["rfilename"]: s for s in info.get("siblings") or []}
    except (ValueError, KeyError, TypeError) as exc:
        raise DownloadError(
            f"{endpoint} answered the model info of {spec.repo} with something unexpected",
            TRANSIENT,
            hint="If HF_ENDPOINT points at a mirror, check that it serves the hub API.",
        ) from exc
    files: list[RemoteFile] = []
    for path in spec.files:
        sibling = siblings.get(path)
        if sibling is None:
            if spec.is_required(path):
                raise DownloadError(
                    f"{spec.repo} has no file {path}",
                    PERMANENT,
                    hint="The repo does not hold this model; check the model name.",
                )
            continue
        lfs = sibling.get("lfs") or None
        blob_id = str(sibling.get("blobId") or "")
        etag = str(lfs.get("sha256") or "") if lfs else blob_id
        size = sibling.get("size")
        if not isinstance(size, int) or len(etag) not in (40, 64):
            raise DownloadError(
                f"the hub did not say the size and hash of {spec.repo}/{path}", TRANSIENT
            )
        files.append(RemoteFile(path, size, etag.lower(), blob_id, lfs is not None))
    return RemoteModel(spec.repo, commit, tuple(files))


# ----------------------------------------------------------------------------- disk space


def disk_free(path: Path) -> int:
    """Free bytes on the drive holding `path` (the one seam tests patch to fake a full disk)."""
    probe = Path(path)
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def _existing_bytes(folder: Path, remote: RemoteModel) -> int:
    blobs = folder / "blobs"
    total = 0
    for rf in remote.files:
        for candidate in (blobs / rf.etag, blobs / (rf.etag + INCOMPLETE_SUFFIX)):
            with contextlib.suppress(OSError):
                total += min(candidate.stat().st_size, rf.size)
                break
    return total


def check_free_space(folder: Path, remote: RemoteModel, label: str) -> int:
    """Refuse to start when the drive lacks (bytes still to fetch) × 2 + a margin.

    Returns the bytes still to fetch. huggingface_hub only warns; a disk that fills up halfway
    costs the whole download and can break other programs, so we stop before the first byte.
    """
    remaining = max(remote.total - _existing_bytes(folder, remote), 0)
    needed = remaining * 2 + DISK_MARGIN
    free = disk_free(folder)
    if free < needed:
        from launcher.progress import human_bytes

        raise DownloadError(
            f"not enough free space for {label} in {folder.parent}: need {human_bytes(needed)} "
            f"({human_bytes(remaining)} to download × 2 + margin), {human_bytes(free)} free",
            DISK,
            hint="Free some space, or point --cache-dir (ROBO_BACKEND_CACHE_DIR) elsewhere.",
        )
    return remaining


# ----------------------------------------------------------------------------- bodies


class _Tally:
    """Overall bytes for the model's progress bar, across files and restarts."""

    def __init__(self, progress: Progress | None, completed: int) -> None:
        self.progress = progress
        self.completed = completed
        self.received = 0  # network bytes, never rewound

    def advance(self, nbytes: int) -> None:
        self.completed += nbytes
        self.received += nbytes
        if self.progress is not None:
            self.progress.advance(nbytes)

    def rewind(self, nbytes: int) -> None:
        self.completed -= nbytes
        if self.progress is not None:
            self.progress.set_completed(self.completed)


def _new_hashers(rf: RemoteFile) -> tuple[Any, Any]:
    sha1 = None if rf.lfs else hashlib.sha1(b"blob %d\0" % rf.size)
    return hashlib.sha256(), sha1


def _hash_prefix(path: Path, hashers: tuple[Any, Any]) -> None:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            for hasher in hashers:
                if hasher is not None:
                    hasher.update(chunk)


def _verify_digest(rf: RemoteFile, hashers: tuple[Any, Any]) -> str | None:
    """The sha256 when the content matches the hub's hash, else None."""
    sha256, sha1 = hashers
    actual = sha256.hexdigest() if rf.lfs else sha1.hexdigest()
    return sha256.hexdigest() if actual == rf.etag else None


def _fetch_file(
    client: httpx.Client,
    url: str,
    rf: RemoteFile,
    blobs: Path,
    tally: _Tally,
    ops: FileOps,
) -> tuple[int, str]:
    """Bring one file into `blobs/<etag>`, resuming `<etag>.incomplete`; (received, sha256)."""
    partial = blobs / (rf.etag + INCOMPLETE_SUFFIX)
    offset = partial.stat().st_size if partial.exists() else 0
    if offset > rf.size:
        ops.unlink(partial)
        tally.rewind(rf.size)
        offset = 0
    hashers = _new_hashers(rf)
    if offset:
        _hash_prefix(partial, hashers)
    received = 0
    if offset < rf.size or rf.size == 0:
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        with client.stream("GET", url, headers=headers) as response:
            status = response.status_code
            if status == 206 and not response.headers.get("Content-Range", "").startswith(
                f"bytes {offset}-"
            ):
                status = 200 if not offset else 416
            if status == 416:
                ops.unlink(partial)
                tally.rewind(offset)
                raise DownloadError(
                    f"the hub refused to resume {rf.path}; starting over", TRANSIENT
                )
            if status not in (200, 206):
                raise error_from_status(status, response.headers, rf.path)
            if status == 200 and offset:
                logger.debug(f"{rf.path}: the server ignored the Range request; starting over")
                tally.rewind(offset)
                offset = 0
                hashers = _new_hashers(rf)
            with open(partial, "ab" if offset else "wb") as handle:
                for chunk in response.iter_raw():
                    if offset + received + len(chunk) > rf.size:
                        handle.close()
                        ops.unlink(partial)
                        tally.rewind(offset + received)
                        raise DownloadError(
                            f"the hub sent more bytes than the {rf.size} announced for {rf.path}",
                            TRANSIENT,
                        )
                    handle.write(chunk)
                    for hasher in hashers:
                        if hasher is not None:
                            hasher.update(chunk)
                    received += len(chunk)
                    tally.advance(len(chunk))
                handle.flush()
                os.fsync(handle.fileno())
    size = offset + received
    if size < rf.size:
        raise DownloadError(
            f"the connection ended after {size} of {rf.size} bytes of {rf.path}", TRANSIENT
        )
    sha256 = _verify_digest(rf, hashers)
    if sha256 is None:
        ops.unlink(partial)
        tally.rewind(size)
        raise DownloadError(
            f"{rf.path} arrived corrupted (its hash does not match the hub's); discarded",
            TRANSIENT,
        )
    ops.move(partial, blobs / rf.etag)
    return received, sha256


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


def _remove_partials(folder: Path, ops: FileOps, keep: set[str] | None = None) -> int:
    freed = 0
    blobs = folder / "blobs"
    with contextlib.suppress(OSError):
        for entry in blobs.iterdir():
            if entry.name.endswith(INCOMPLETE_SUFFIX) and (keep is None or entry.name not in keep):
                with contextlib.suppress(OSError):
                    freed += entry.lstat().st_size
                ops.unlink(entry)
    return freed


def download_model(
    client: httpx.Client,
    spec: ModelSpec,
    remote: RemoteModel,
    folder: Path,
    *,
    endpoint: str,
    progress: Callable[[int, int], contextlib.AbstractContextManager[Progress]] | None = None,
    ops: FileOps = DEFAULT_FILE_OPS,
    symlinks: bool = True,
    verified: dict[str, str] | None = None,
) -> DownloadStats:
    """One attempt: fetch what is missing of `remote` into `folder`, verify, then materialize the
    snapshot (symlinks or moved files), `refs/main`, fastembed's metadata and our stamp.

    Must be called under `cache.model_lock`. `verified` (etag → sha256) carries blobs already
    verified by an earlier attempt of the same run, so a retry does not re-hash them.
    `progress(total, completed)` opens the progress display. Raises DownloadError.
    """
    verified = {} if verified is None else verified
    blobs = folder / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
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
        with opener(remote.total, _existing_bytes(folder, remote)) as bar:
            tally = _Tally(bar, _existing_bytes(folder, remote))
            current = ""
            try:
                for rf in todo:
                    current = rf.path
                    base = endpoint.rstrip("/")
                    url = f"{base}/{remote.repo}/resolve/{remote.commit}/{quote(rf.path)}"
                    _received, sha = _fetch_file(client, url, rf, blobs, tally, ops)
                    sha256s[rf.etag] = sha
                    verified[rf.etag] = sha
            except DownloadError as error:
                error.bytes_received = tally.received
                raise
            except Exception as exc:
                error = classify(exc, f"{spec.repo}/{current}", endpoint)
                error.bytes_received = tally.received
                if error.kind == DISK:
                    freed = _remove_partials(folder, ops)
                    from launcher.progress import human_bytes

                    error.message += f"; removed {human_bytes(freed)} of partial files"
                raise error from exc
            stats.bytes_received = tally.received
    stats.snapshot = _materialize(spec, remote, folder, sha256s, ops, symlinks)
    stats.files = [rf.path for rf in remote.files]
    _remove_partials(folder, ops)
    return stats


@contextlib.contextmanager
def _no_progress(total: int, completed: int) -> Iterator[None]:
    yield None


def _materialize(
    spec: ModelSpec,
    remote: RemoteModel,
    folder: Path,
    sha256s: dict[str, str],
    ops: FileOps,
    symlinks: bool,
) -> Path:
    """Make the verified blobs visible the way huggingface_hub/fastembed expect them."""
    blobs = folder / "blobs"
    snapshot = folder / "snapshots" / remote.commit
    placed: dict[str, Path] = {}
    for rf in remote.files:
        target = snapshot / rf.path
        target.parent.mkdir(parents=True, exist_ok=True)
        blob = blobs / rf.etag
        if symlinks:
            temp = target.with_name(f".{target.name}.{os.getpid()}.link")
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            os.symlink(os.path.relpath(blob, target.parent), temp)
            ops.move(temp, target)
        elif rf.etag in placed:  # the same content under two names: copy the first
            shutil.copy2(placed[rf.etag], target)
        else:
            ops.move(blob, target)
            placed[rf.etag] = target
    atomic_write_text(folder / "refs" / "main", remote.commit, ops)
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
    )
    return snapshot
