"""The hub's HTTP side: the client of one attempt and the model-info request (commit, hashes).

Metadata is the hub API call huggingface_hub's `model_info(files_metadata=True)` makes (commit,
sizes, sha256/blob ids: one request), sent ourselves because huggingface_hub adds an
agent-detection request to the endpoint it read at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from launcher import __version__
from launcher.errors import UsageError
from launcher.models.failures import (
    MAX_REDIRECTS,
    PERMANENT,
    TOKEN_HINT,
    TRANSIENT,
    DownloadError,
    classify,
    error_from_status,
)
from launcher.models.names import is_commit, is_etag, is_repo_id, is_repo_path
from launcher.models.registry import ModelSpec
from launcher.redact import redact_url

if TYPE_CHECKING:
    import httpx

CONNECT_TIMEOUT = 10.0


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


def check_endpoint(endpoint: str) -> None:
    """A malformed HF_ENDPOINT (not http(s), no valid host or port) is bad input (UsageError,
    exit 2), said in one line: not a retried "connection broke", nor a crash in the client."""
    problem = None
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        problem = redact_url(str(exc))
    else:
        if parts.scheme not in ("http", "https"):
            problem = f"the scheme must be http or https, not {parts.scheme or 'none'!r}"
        elif not parts.hostname or any(c.isspace() for c in parts.netloc):
            problem = "it names no valid host"
    if problem is not None:
        raise UsageError(
            f"HF_ENDPOINT is not a usable hub URL ({redact_url(endpoint)}): {problem}",
            "Set HF_ENDPOINT to the hub or a mirror, e.g. https://huggingface.co (or unset it).",
        )


def open_client(token: str | None, stall_timeout: float) -> httpx.Client:
    """The HTTP client of one attempt (metadata and bodies share its connection).

    The read timeout is the stall watchdog. Redirects (the hub sends LFS files to its CDN) are
    followed, at most MAX_REDIRECTS, http(s) only; Authorization never goes to another host.
    """
    import httpx

    headers = {"User-Agent": f"robo-backend/{__version__}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    stall = stall_timeout if stall_timeout > 0 else None
    timeout = httpx.Timeout(stall, connect=min(CONNECT_TIMEOUT, stall or CONNECT_TIMEOUT))
    return httpx.Client(
        headers=headers, timeout=timeout, follow_redirects=True, max_redirects=MAX_REDIRECTS
    )


def _metadata_error(response: httpx.Response, spec: ModelSpec, endpoint: str) -> DownloadError:
    code = response.headers.get("X-Error-Code", "")
    if code == "GatedRepo":
        return DownloadError(
            f"{spec.repo} is a gated repo (HTTP {response.status_code})",
            PERMANENT,
            hint=TOKEN_HINT,
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


def _untrusted(display: str, what: str) -> DownloadError:
    """A hub answer whose value would name a file outside the model's folder (or is simply
    not of its form): refused before any file operation, never retried."""
    return DownloadError(
        f"{display} answered with an invalid {what}; nothing was written",
        PERMANENT,
        hint="If HF_ENDPOINT points at a mirror, it is broken or hostile; unset it or fix it.",
    )


def _remote_file(spec: ModelSpec, path: str, sibling: dict[str, Any], display: str) -> RemoteFile:
    lfs = sibling.get("lfs") or None
    if lfs is not None and not isinstance(lfs, dict):
        raise _untrusted(display, f"LFS record for {spec.repo}/{path}")
    blob_id = sibling.get("blobId") or ""
    etag = (lfs.get("sha256") or "") if lfs else blob_id
    size = sibling.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise DownloadError(
            f"the hub did not say the size and hash of {spec.repo}/{path}", TRANSIENT
        )
    if not is_etag(etag) or not isinstance(blob_id, str):
        raise _untrusted(display, f"file hash for {spec.repo}/{path}")
    return RemoteFile(path, size, etag, blob_id, lfs is not None)


def fetch_remote(
    client: httpx.Client, spec: ModelSpec, *, endpoint: str, shown: str | None = None
) -> RemoteModel:
    """One request: the commit of `main` and, per wanted file, its size and hash (see the module
    docstring). `shown` is the endpoint as messages may name it; it defaults to `endpoint`."""
    display = shown or endpoint
    if not is_repo_id(spec.repo):
        raise DownloadError(
            f"{spec.repo!r} is not a valid hub repo id", PERMANENT, hint="Check the model name."
        )
    url = f"{endpoint}/api/models/{spec.repo}/revision/main"
    try:
        response = client.get(url, params={"blobs": "true"})
    except Exception as exc:  # classified below; anything unexpected is re-raised there
        raise classify(exc, spec.repo, display) from exc
    if response.status_code != 200:
        raise _metadata_error(response, spec, display)
    try:
        info = response.json()
        commit = info["sha"]
        siblings = {s["rfilename"]: s for s in info.get("siblings") or []}
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise DownloadError(
            f"{display} answered the model info of {spec.repo} with something unexpected",
            TRANSIENT,
            hint="If HF_ENDPOINT points at a mirror, check that it serves the hub API.",
        ) from exc
    if not is_commit(commit):
        raise _untrusted(display, f"commit id for {spec.repo}")
    files: list[RemoteFile] = []
    for path in spec.files:
        if not is_repo_path(path):
            raise DownloadError(
                f"the description of {spec.name} names a file outside its repo: {path!r}",
                PERMANENT,
                hint="Check the model name and the backend's fastembed.",
            )
        sibling = siblings.get(path)
        if isinstance(sibling, dict):
            files.append(_remote_file(spec, path, sibling, display))
        elif spec.is_required(path):
            raise DownloadError(
                f"{spec.repo} has no file {path}",
                PERMANENT,
                hint="The repo does not hold this model; check the model name.",
            )
    return RemoteModel(spec.repo, commit, tuple(files))
