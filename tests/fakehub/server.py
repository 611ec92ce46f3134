"""A loopback stand-in for the Hugging Face hub, with fault injection.

The real hub is unreachable from tests and CI, but the launcher must be tested against the
real `huggingface_hub` and `fastembed` clients, over real sockets. `FakeHub` is a threaded
stdlib HTTP server on 127.0.0.1 that answers exactly the requests those clients make:

- `GET /api/models/{repo}` and `/api/models/{repo}/revision/{rev}` (model info; `?blobs=true`
  adds size, blobId and lfs to each sibling),
- `GET /api/models/{repo}/tree/{rev}[/{path}]` (tree listing, `?recursive=true`),
- `HEAD`/`GET /{repo}/resolve/{rev}/{file}` with ETag, X-Repo-Commit, X-Linked-Etag,
  X-Linked-Size, Content-Length, Accept-Ranges, and a single `Range: bytes=N-[M]` → 206;
  with `redirect_lfs()`, LFS files answer 302 to `/cdn-lfs/...` on host `localhost`, as the
  real hub redirects to its CDN.

Faults (503s, connection resets, truncation, corruption, stalls, a missing repo, a refused
port, throttling) are armed by method calls, each counting down its `times` and then
disarming, and every request is logged so tests can assert what the client really did.

Which requests each fault applies to:
- `fail_requests`: any request (API, HEAD or GET) whose raw path contains `path_contains`.
- `reset_after`, `truncate`, `corrupt`, `throttle`: only file downloads (`GET .../resolve/...`
  or `/cdn-lfs/...`), since those are the bodies a download can lose.
- `stall`: with `after_bytes > 0` only file downloads (headers and `after_bytes` are sent, then
  silence); with `after_bytes == 0` any matching request, before anything is sent (an endpoint
  that accepts the connection but never answers).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

LFS_POINTER_SIZE = 134
FAKE_DATE = "2024-01-01T00:00:00.000Z"
_SLICE = 0.05  # seconds: how often sleeping handlers check whether the hub is stopping
_LOG_WAIT = 5.0  # seconds the log waits, at most, for answers being sent to reach it
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
# Redirected LFS downloads go to this name for the same loopback server: a different host
# string, so huggingface_hub treats it as a CDN (does not follow the HEAD redirect), as with
# the real hub.
_CDN_HOST = "localhost"


# Memoized (bytes keep their hash; lookups of the same object are O(1)): without it every
# request re-hashed a big file (~0.15 s for 60 MB), a cost the real hub never charges.
@functools.lru_cache(maxsize=256)
def git_blob_sha1(content: bytes) -> str:
    """The git object id of a file, which is what the hub reports as blobId/ETag for non-LFS."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@functools.lru_cache(maxsize=256)
def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@dataclass(frozen=True)
class RequestRecord:
    """One request as the hub saw it (logged once its response is over or aborted)."""

    method: str
    path: str  # the URL path, unquoted, without the query string
    range: str | None  # the raw Range header, e.g. "bytes=1000-"
    status: int
    bytes_sent: int  # body bytes actually written
    query: str = ""
    fault: str | None = None  # which fault, if any, shaped this response
    host: str = ""  # the Host header as sent (a redirect to `localhost` shows here)
    authorization: bool = False  # whether the request carried an Authorization header


@dataclass
class _Fault:
    kind: str
    times: int
    path_contains: str = ""
    nbytes: int = 0
    status: int = 503
    retry_after: float | None = None
    seconds: float = 0.0


@dataclass
class _Commit:
    sha: str
    files: dict[str, bytes]
    lfs: frozenset[str]


@dataclass
class _Repo:
    repo_id: str
    commits: dict[str, _Commit] = field(default_factory=dict)
    head: str = ""


class _Aborted(Exception):
    """The handler cut the connection on purpose; nothing more may be written."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog is 5: a client opening many connections at once (parallel
    # ranged parts) would see dropped SYNs and a 1 s retransmit that no real hub causes
    request_queue_size = 128

    def __init__(self, hub: FakeHub, address: tuple[str, int]) -> None:
        self.hub = hub
        super().__init__(address, _Handler)


class FakeHub:
    """A real HTTP server on 127.0.0.1 that looks enough like the hub for real clients.

    Use as `with FakeHub() as hub:` or `.start()`/`.stop()`; `.url` is `http://127.0.0.1:PORT`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._repos: dict[str, _Repo] = {}
        self._missing: set[str] = set()
        self._faults: list[_Fault] = []
        self._throttle: float | None = None
        self._requests: list[RequestRecord] = []
        # Handlers sending an answer (by thread) → awake: not in a stall or a throttle's pause.
        # A client can hold a whole answer before its handler logged it: the log waits for
        # the awake ones, so a test never reads it a moment too early.
        self._answering: dict[int, bool] = {}
        self._logged = threading.Condition(self._lock)
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._refusing = False
        self._redirect_lfs = False
        self._basic_auth: str | None = None
        self._ranges = True
        self._lie: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self._redirect_loop: str | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> FakeHub:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._refusing = False
        self._listen()
        return self

    def _listen(self) -> None:
        self._server = _Server(self, (self._host, self._port))
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _SLICE},
            name=f"fakehub-{self._port}",
            daemon=True,
        )
        self._thread.start()

    def _close_listener(self) -> None:
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=1)

    def _drop_connections(self) -> None:
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        """Stop serving; returns quickly even if a client is stalled mid-download."""
        self._stopping.set()
        self._drop_connections()
        self._close_listener()
        self._refusing = False

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Where clients should point `HF_ENDPOINT`/`endpoint=` (stays valid while refusing)."""
        return f"http://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    # ---------------------------------------------------------------- content
    def add_repo(self, repo_id: str, files: dict[str, bytes], lfs: set[str] | None = None) -> str:
        """Publish `files` as the new head of `repo_id`; returns its commit sha.

        `lfs` names the files served as LFS (sha256 ETag, X-Linked-*); by default the .onnx
        files, as on the real model repos. Earlier commits stay reachable by their sha.
        """
        lfs_names = frozenset(
            lfs if lfs is not None else {name for name in files if name.endswith(".onnx")}
        )
        digest = hashlib.sha1(repo_id.encode())
        for name in sorted(files):
            digest.update(b"\0" + name.encode() + b"\0" + git_blob_sha1(files[name]).encode())
        sha = digest.hexdigest()
        commit = _Commit(sha=sha, files=dict(files), lfs=lfs_names)
        with self._lock:
            repo = self._repos.setdefault(repo_id, _Repo(repo_id))
            repo.commits[sha] = commit
            repo.head = sha
        return sha

    def commit_sha(self, repo_id: str) -> str:
        with self._lock:
            return self._repos[repo_id].head

    def repo_files(self, repo_id: str) -> dict[str, bytes]:
        with self._lock:
            repo = self._repos[repo_id]
            return dict(repo.commits[repo.head].files)

    # ---------------------------------------------------------------- faults
    def _arm(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def fail_requests(
        self,
        n: int,
        status: int = 503,
        path_contains: str = "",
        retry_after: float | None = None,
    ) -> None:
        """The next `n` matching requests (any kind) get `status` with a JSON error body."""
        self._arm(_Fault("fail", n, path_contains, status=status, retry_after=retry_after))

    def reset_after(self, nbytes: int, times: int = 1, path_contains: str = "") -> None:
        """Send `nbytes` of a file body, then abort the TCP connection (RST)."""
        self._arm(_Fault("reset", times, path_contains, nbytes=nbytes))

    def truncate(self, nbytes: int, times: int = 1, path_contains: str = "") -> None:
        """Announce the full length, send `nbytes` of a file body, then close cleanly (FIN)."""
        self._arm(_Fault("truncate", times, path_contains, nbytes=nbytes))

    def corrupt(self, times: int = 1, path_contains: str = "") -> None:
        """Serve a file body of the right length with some bytes flipped."""
        self._arm(_Fault("corrupt", times, path_contains))

    def stall(
        self, seconds: float, after_bytes: int = 0, times: int = 1, path_contains: str = ""
    ) -> None:
        """Go silent for `seconds` (see the module docstring for where)."""
        self._arm(_Fault("stall", times, path_contains, nbytes=after_bytes, seconds=seconds))

    def not_found(self, repo_id: str) -> None:
        """Answer 404 RepoNotFound for `repo_id` (even if it was added) until cleared."""
        with self._lock:
            self._missing.add(repo_id)

    def refuse_all(self) -> None:
        """Close the listening socket (and open connections): connects get ECONNREFUSED."""
        self._refusing = True
        self._close_listener()
        self._drop_connections()

    def redirect_lfs(self, enabled: bool = True) -> None:
        """Answer LFS `resolve` requests with a 302 to a CDN-like url, as the real hub does.

        The 302 carries X-Repo-Commit, X-Linked-Etag and X-Linked-Size; the Location is
        `http://localhost:PORT/cdn-lfs/{repo}/{sha256}/{file}` (Range and body faults work
        there too). A downloader that doesn't follow redirects fails, as it would for real.
        Not a fault: `clear_faults()` leaves it as it is.
        """
        self._redirect_lfs = enabled

    def require_basic_auth(self, user: str, password: str) -> None:
        """Answer 401 to any hub request without these credentials (a mirror behind basic
        auth, reached as `http://user:password@host/`). Not a fault: `clear_faults()` leaves it.
        The CDN-like LFS urls stay open, as a real CDN's signed urls are."""
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._basic_auth = f"Basic {token}"

    def lie(self, rewrite: Callable[[dict[str, Any]], dict[str, Any]] | None) -> None:
        """Send every model info through `rewrite` (a lying hub or mirror), until cleared."""
        self._lie = rewrite

    def honour_ranges(self, enabled: bool = True) -> None:
        """With False, answer every file request whole (200), as a mirror without Range does."""
        self._ranges = enabled

    def redirect_loop(self, path_contains: str | None = "") -> None:
        """Answer every request whose raw path contains `path_contains` with a 302 to a URL
        that answers the same (a mirror caught in a redirect loop), until cleared; None stops.
        The loop alternates between this host and `localhost` (another host name for the same
        server), so it is a cross-host redirect too."""
        self._redirect_loop = path_contains

    def throttle(self, bytes_per_second: float) -> None:
        """Pace file bodies to about `bytes_per_second` until cleared."""
        self._throttle = float(bytes_per_second) if bytes_per_second > 0 else None

    def clear_faults(self) -> None:
        """Disarm every fault; a refusing hub listens again on the same port."""
        with self._lock:
            self._faults.clear()
            self._missing.clear()
        self._throttle = None
        self._lie = None
        self._ranges = True
        self._redirect_loop = None
        if self._refusing:
            self._refusing = False
            if not self._stopping.is_set():
                self._listen()

    def _take_fault(
        self, path: str, kinds: tuple[str, ...], pre_stall: bool | None = None
    ) -> _Fault | None:
        """Consume one count of the first armed matching fault.

        `pre_stall` narrows stalls: True takes only `after_bytes == 0` stalls (silence before
        any response), False only mid-body ones.
        """
        with self._lock:
            for fault in self._faults:
                if fault.kind not in kinds or fault.times <= 0:
                    continue
                if fault.path_contains not in path:
                    continue
                wrong_stall = pre_stall is not None and pre_stall != (fault.nbytes == 0)
                if fault.kind == "stall" and wrong_stall:
                    continue
                fault.times -= 1
                return fault
        return None

    # ---------------------------------------------------------------- log
    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the request log, oldest first, with every answer a client may
        already hold (answers not paused in a stall or a throttle)."""
        with self._lock:
            self._settle()
            return list(self._requests)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RequestRecord]:
        """The log once it holds `count` requests (or what it holds after `timeout`): for
        requests a client has not seen answered yet (a stalled one, another process's)."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.requests

    def reset_log(self) -> None:
        """Empty the log (after the answers being sent are in it: they are not the next
        step's)."""
        with self._lock:
            self._settle()
            self._requests.clear()

    def _settle(self) -> None:
        """Wait (bounded; the lock held) until no handler is awake sending an answer."""
        self._logged.wait_for(lambda: not any(self._answering.values()), timeout=_LOG_WAIT)

    def _log(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)
            self._answering.pop(threading.get_ident(), None)
            self._logged.notify_all()

    def _answer_started(self) -> None:
        with self._lock:
            self._answering.setdefault(threading.get_ident(), True)

    def _awake(self, awake: bool) -> None:
        with self._lock:
            ident = threading.get_ident()
            if ident in self._answering:
                self._answering[ident] = awake
                self._logged.notify_all()

    # ---------------------------------------------------------------- helpers for handlers
    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _sleep(self, seconds: float) -> bool:
        """Sleep (a paused answer: the log does not wait for it); False if the hub started
        stopping meanwhile."""
        self._awake(False)
        try:
            return not self._stopping.wait(max(0.0, seconds))
        finally:
            self._awake(True)

    def _lookup(self, repo_id: str) -> _Repo | None:
        """The repo, matched case-insensitively like the real Hub (`qdrant/x-q` is `Qdrant/x-Q`)."""
        with self._lock:
            if repo_id.lower() in {missing.lower() for missing in self._missing}:
                return None
            exact = self._repos.get(repo_id)
            if exact is not None:
                return exact
            return next((r for k, r in self._repos.items() if k.lower() == repo_id.lower()), None)

    def _split_repo(self, parts: list[str]) -> tuple[str, list[str]]:
        """Split path segments into (repo_id, rest): `ns/name` or a legacy single-name repo."""
        with self._lock:
            known = {name.lower() for name in self._repos}
        parts_lower = [part.lower() for part in parts]
        if parts and parts_lower[0] in known and "/".join(parts_lower[:2]) not in known:
            return parts[0], parts[1:]
        return "/".join(parts[:2]), parts[2:]


def _resolve_commit(repo: _Repo, revision: str) -> _Commit | None:
    if revision in ("main", "HEAD", ""):
        return repo.commits.get(repo.head)
    if _COMMIT_RE.match(revision):
        return repo.commits.get(revision)
    return None


def _file_entry(commit: _Commit, name: str) -> dict[str, object]:
    """A tree / paths-info entry for a file, as the hub's JSON spells it."""
    content = commit.files[name]
    entry: dict[str, object] = {
        "type": "file",
        "oid": git_blob_sha1(content),
        "size": len(content),
        "path": name,
    }
    if name in commit.lfs:
        entry["lfs"] = {
            "oid": sha256_hex(content),
            "size": len(content),
            "pointerSize": LFS_POINTER_SIZE,
        }
    return entry


def _folder_entry(commit: _Commit, folder: str) -> dict[str, object]:
    oid = hashlib.sha1(f"tree {commit.sha} {folder}".encode()).hexdigest()
    return {"type": "directory", "oid": oid, "size": 0, "path": folder}


def _folders_of(names: list[str]) -> set[str]:
    folders: set[str] = set()
    for name in names:
        parts = name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            folders.add("/".join(parts[:depth]))
    return folders


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeHub/1.0"
    timeout = 30  # idle keep-alive connections go away on their own
    # TCP_NODELAY, like real servers: otherwise headers and body go out as two writes, Nagle
    # holds the second until the client's delayed ACK (40 ms) on every reused connection.
    disable_nagle_algorithm = True
    server: _Server

    # quiet: tests read the structured log, not stderr
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return

    def setup(self) -> None:
        super().setup()
        self.hub: FakeHub = self.server.hub
        self.hub._track(self.connection, True)

    def finish(self) -> None:
        self.hub._track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def handle(self) -> None:
        with contextlib.suppress(_Aborted, ConnectionError, OSError):
            super().handle()

    # ---------------------------------------------------------------- dispatch
    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        self._method = method
        self._fault_name: str | None = None
        self._bytes_sent = 0
        self._status = 0
        split = urlsplit(self.path)
        self._url_path = unquote(split.path)
        self._query = split.query
        # Read the request body, if any (paths-info), so keep-alive stays in sync.
        length = int(self.headers.get("Content-Length") or 0)
        self._body = self.rfile.read(length) if length else b""
        try:
            self._route(method, split.path, parse_qs(split.query))
        finally:
            self.hub._log(
                RequestRecord(
                    method=method,
                    path=self._url_path,
                    range=self.headers.get("Range"),
                    status=self._status,
                    bytes_sent=self._bytes_sent,
                    query=self._query,
                    fault=self._fault_name,
                    host=self.headers.get("Host", ""),
                    authorization="Authorization" in self.headers,
                )
            )

    def _route(self, method: str, raw_path: str, query: dict[str, list[str]]) -> None:
        hub = self.hub
        # A stall before anything is sent applies to every request; mid-body ones to downloads.
        stall = hub._take_fault(self.path, ("stall",), pre_stall=True)
        if stall is not None:
            self._fault_name = "stall"
            if not hub._sleep(stall.seconds):
                raise _Aborted
        loop = hub._redirect_loop
        if loop is not None and loop in self.path:
            self._loop_again()
            return
        failure = hub._take_fault(self.path, ("fail",))
        if failure is not None:
            self._fault_name = f"fail:{failure.status}"
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = f"{failure.retry_after:g}"
            self._send_json(
                failure.status,
                {"error": f"Injected failure (HTTP {failure.status})"},
                headers,
            )
            return

        parts = [unquote(part) for part in raw_path.split("/") if part]
        if not self._authorized(parts):
            self._send_json(
                401, {"error": "Unauthorized"}, {"WWW-Authenticate": 'Basic realm="mirror"'}
            )
            return
        if parts[:2] == ["api", "models"] and len(parts) >= 3:
            self._api(method, parts[2:], query)
            return
        if parts and parts[0] == "cdn-lfs" and method in ("GET", "HEAD"):
            self._cdn(method, parts)
            return
        if "resolve" in parts and method in ("GET", "HEAD"):
            self._resolve(method, parts)
            return
        self._send_json(404, {"error": "Not Found"}, {"X-Error-Code": "NotFound"})

    def _loop_again(self) -> None:
        """One turn of a redirect loop: back to the same path, on the other host name."""
        self._fault_name = "redirect-loop"
        host = "127.0.0.1" if self.headers.get("Host", "").startswith(_CDN_HOST) else _CDN_HOST
        location = f"http://{host}:{self.hub.port}{self.path}"
        self._send_text(302, f"Found. Redirecting to {location}", {"Location": location})

    def _authorized(self, parts: list[str]) -> bool:
        expected = self.hub._basic_auth
        if expected is None or (parts and parts[0] == "cdn-lfs"):
            return True
        return self.headers.get("Authorization") == expected

    # ---------------------------------------------------------------- API
    def _api(self, method: str, parts: list[str], query: dict[str, list[str]]) -> None:
        repo_id, rest = self.hub._split_repo(parts)
        repo = self.hub._lookup(repo_id)
        if repo is None:
            self._repo_not_found()
            return
        if not rest:
            self._model_info(repo, repo.commits[repo.head], query)
            return
        if rest[0] == "revision" and len(rest) >= 2:
            commit = _resolve_commit(repo, "/".join(rest[1:]))
            if commit is None:
                self._revision_not_found("/".join(rest[1:]))
                return
            self._model_info(repo, commit, query)
            return
        if rest[0] == "tree" and len(rest) >= 2:
            commit = _resolve_commit(repo, rest[1])
            if commit is None:
                self._revision_not_found(rest[1])
                return
            recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
            self._tree(commit, "/".join(rest[2:]), recursive)
            return
        if rest[0] == "paths-info" and len(rest) >= 2 and method == "POST":
            commit = _resolve_commit(repo, rest[1])
            if commit is None:
                self._revision_not_found(rest[1])
                return
            self._paths_info(commit)
            return
        self._send_json(404, {"error": "Not Found"}, {"X-Error-Code": "NotFound"})

    def _sibling(self, commit: _Commit, name: str, blobs: bool) -> dict[str, object]:
        sibling: dict[str, object] = {"rfilename": name}
        if blobs:
            content = commit.files[name]
            sibling["size"] = len(content)
            sibling["blobId"] = git_blob_sha1(content)
            if name in commit.lfs:
                sibling["lfs"] = {
                    "sha256": sha256_hex(content),
                    "size": len(content),
                    "pointerSize": LFS_POINTER_SIZE,
                }
        return sibling

    def _model_info(self, repo: _Repo, commit: _Commit, query: dict[str, list[str]]) -> None:
        blobs = query.get("blobs", ["false"])[0].lower() in ("1", "true")
        names = sorted(commit.files)
        author = repo.repo_id.split("/")[0] if "/" in repo.repo_id else None
        info = {
            "_id": hashlib.md5(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": author,
            "sha": commit.sha,
            "lastModified": FAKE_DATE,
            "createdAt": FAKE_DATE,
            "private": False,
            "disabled": False,
            "gated": False,
            "downloads": 0,
            "likes": 0,
            "library_name": "onnx",
            "pipeline_tag": "feature-extraction",
            "tags": ["onnx", "feature-extraction", "fake-hub"],
            "siblings": [self._sibling(commit, name, blobs) for name in names],
            "usedStorage": sum(len(content) for content in commit.files.values()),
        }
        if self.hub._lie is not None:
            info = self.hub._lie(info)
        self._send_json(200, info, {"X-Repo-Commit": commit.sha})

    def _tree(self, commit: _Commit, under: str, recursive: bool) -> None:
        prefix = under.strip("/") + "/" if under.strip("/") else ""
        names = sorted(name for name in commit.files if name.startswith(prefix))
        folders = _folders_of(names)
        if prefix and not names:
            self._send_json(
                404, {"error": f"Entry not found: {under}"}, {"X-Error-Code": "EntryNotFound"}
            )
            return
        entries: list[dict[str, object]] = []
        for folder in sorted(folders):
            if not folder.startswith(prefix) or folder == prefix.rstrip("/"):
                continue
            if not recursive and "/" in folder[len(prefix) :]:
                continue
            entries.append(_folder_entry(commit, folder))
        for name in names:
            if not recursive and "/" in name[len(prefix) :]:
                continue
            entries.append(_file_entry(commit, name))
        self._send_json(200, entries, {"X-Repo-Commit": commit.sha})

    def _paths_info(self, commit: _Commit) -> None:
        """`HfApi.get_paths_info`: POSTed form `paths=...`, unknown paths are left out."""
        form = parse_qs(self._body.decode("utf-8", "replace"))
        folders = _folders_of(list(commit.files))
        entries: list[dict[str, object]] = []
        for path in form.get("paths", []):
            path = path.strip("/")
            if path in commit.files:
                entries.append(_file_entry(commit, path))
            elif path in folders:
                entries.append(_folder_entry(commit, path))
        self._send_json(200, entries, {"X-Repo-Commit": commit.sha})

    # ---------------------------------------------------------------- resolve
    def _resolve(self, method: str, parts: list[str]) -> None:
        marker = parts.index("resolve")
        prefix = parts[:marker]
        if prefix and prefix[0] == "models":  # /models/{repo}/resolve/... also exists
            prefix = prefix[1:]
        repo_id = "/".join(prefix)
        repo = self.hub._lookup(repo_id)
        if repo is None or len(parts) < marker + 3:
            self._repo_not_found()
            return
        revision, filename = parts[marker + 1], "/".join(parts[marker + 2 :])
        commit = _resolve_commit(repo, revision)
        if commit is None:
            self._revision_not_found(revision)
            return
        if filename not in commit.files:
            self._send_json(
                404,
                {"error": "Entry not found"},
                {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit.sha},
            )
            return
        content = commit.files[filename]
        total = len(content)
        base_name = filename.rsplit("/", 1)[-1]
        headers = {"X-Repo-Commit": commit.sha}
        if filename in commit.lfs:
            etag = f'"{sha256_hex(content)}"'
            headers["X-Linked-Etag"] = etag
            headers["X-Linked-Size"] = str(total)
            if self.hub._redirect_lfs:
                # Like the real hub: LFS files live on a CDN host; the 302 carries the metadata.
                location = (
                    f"http://{_CDN_HOST}:{self.hub.port}/cdn-lfs/{repo.repo_id}/"
                    f"{sha256_hex(content)}/{filename}"
                )
                headers["ETag"] = f'"{git_blob_sha1(content)}"'
                headers["Location"] = location
                self._send_text(302, f"Found. Redirecting to {location}", headers)
                return
        else:
            etag = f'"{git_blob_sha1(content)}"'
        headers["ETag"] = etag
        self._serve_file(method, content, base_name, headers)

    def _cdn(self, method: str, parts: list[str]) -> None:
        """`/cdn-lfs/{repo}/{sha256}/{file}`: where redirected LFS downloads land."""
        digest_at = next((i for i, part in enumerate(parts) if _SHA256_RE.match(part)), None)
        repo = self.hub._lookup("/".join(parts[1:digest_at])) if digest_at else None
        content = None
        if repo is not None and digest_at is not None:
            digest = parts[digest_at]
            with self.hub._lock:
                blobs = [c.files[n] for c in repo.commits.values() for n in c.files]
            content = next((b for b in blobs if sha256_hex(b) == digest), None)
        if content is None or digest_at is None:
            self._send_text(404, "NoSuchKey", {})
            return
        self._serve_file(method, content, parts[-1], {"ETag": f'"{parts[digest_at]}"'})

    def _serve_file(
        self, method: str, content: bytes, base_name: str, headers: dict[str, str]
    ) -> None:
        """Send `content` (or the asked Range of it) with the download headers."""
        total = len(content)
        headers = {
            **headers,
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f'attachment; filename="{base_name}"',
        }
        start, end = 0, total - 1
        status = 200
        range_header = self.headers.get("Range") if self.hub._ranges else None
        if range_header:
            parsed = _parse_range(range_header, total)
            if parsed is None:
                headers["Content-Range"] = f"bytes */{total}"
                self._send_json(416, {"error": "Range Not Satisfiable"}, headers)
                return
            start, end = parsed
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{total}"
        body = content[start : end + 1]
        headers["Content-Length"] = str(len(body))

        if method == "HEAD":
            self._send_head(status, headers)
            return
        self._send_body(status, headers, body)

    def _send_body(self, status: int, headers: dict[str, str], body: bytes) -> None:
        hub = self.hub
        fault = hub._take_fault(
            self.path, ("reset", "truncate", "corrupt", "stall"), pre_stall=False
        )
        if fault is not None:
            self._fault_name = fault.kind
        if fault is not None and fault.kind == "corrupt" and body:
            body = _flip_bytes(body)
        self._send_head(status, headers)
        limit = len(body)
        if fault is not None and fault.kind in ("reset", "truncate", "stall"):
            limit = min(fault.nbytes, len(body))
        self._write_paced(body[:limit])
        if fault is None or fault.kind == "corrupt":
            return
        if fault.kind == "stall":
            if not hub._sleep(fault.seconds):
                raise _Aborted
            self._write_paced(body[limit:])
            return
        self.close_connection = True
        if fault.kind == "reset":
            # SO_LINGER 0 + close → the kernel sends RST instead of FIN: a real abort.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        else:  # truncate: a clean close before Content-Length bytes were sent
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            self.connection.close()
        raise _Aborted

    def _write_paced(self, data: bytes) -> None:
        hub = self.hub
        view = memoryview(data)
        offset = 0
        while offset < len(view):
            if hub._stopping.is_set():
                raise _Aborted
            rate = hub._throttle
            chunk = max(1, int(rate * _SLICE)) if rate else 64 * 1024
            piece = view[offset : offset + chunk]
            self.wfile.write(piece)
            offset += len(piece)
            self._bytes_sent += len(piece)
            last = offset >= len(view)  # no pause after it: the answer is complete
            if rate and not last and not hub._sleep(len(piece) / rate):
                raise _Aborted

    # ---------------------------------------------------------------- responses
    def _send_head(self, status: int, headers: dict[str, str]) -> None:
        self.hub._answer_started()
        self._status = status
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send_json(
        self, status: int, payload: object, headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(payload).encode()
        all_headers = {"Content-Type": "application/json; charset=utf-8"}
        all_headers.update(headers or {})
        all_headers["Content-Length"] = str(len(body))
        self._send_head(status, all_headers)
        if self._method != "HEAD":
            self.wfile.write(body)
            self._bytes_sent += len(body)

    def _send_text(self, status: int, text: str, headers: dict[str, str]) -> None:
        body = text.encode()
        all_headers = {"Content-Type": "text/plain; charset=utf-8", **headers}
        all_headers["Content-Length"] = str(len(body))
        self._send_head(status, all_headers)
        if self._method != "HEAD":
            self.wfile.write(body)
            self._bytes_sent += len(body)

    def _repo_not_found(self) -> None:
        self._send_json(
            404,
            {"error": "Repository not found"},
            {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"},
        )

    def _revision_not_found(self, revision: str) -> None:
        self._send_json(
            404,
            {"error": f"Invalid rev id: {revision}"},
            {"X-Error-Code": "RevisionNotFound", "X-Error-Message": f"Invalid rev id: {revision}"},
        )


def _parse_range(value: str, total: int) -> tuple[int, int] | None:
    """Parse a single `bytes=N-`, `bytes=N-M` or `bytes=-K`; None if unsatisfiable."""
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", value)
    if match is None or (not match.group(1) and not match.group(2)):
        return None
    if not match.group(1):  # suffix range: the last K bytes
        length = int(match.group(2))
        if length == 0 or total == 0:
            return None
        return max(0, total - length), total - 1
    start = int(match.group(1))
    end = int(match.group(2)) if match.group(2) else total - 1
    if start >= total or end < start:
        return None
    return start, min(end, total - 1)


def _flip_bytes(body: bytes) -> bytes:
    """Invert up to 64 bytes in the middle: same length, different sha256."""
    data = bytearray(body)
    middle = len(data) // 2
    for index in range(middle, min(len(data), middle + 64)):
        data[index] ^= 0xFF
    return bytes(data)


@contextlib.contextmanager
def running_hub() -> Iterator[FakeHub]:
    """A started hub for scripts; stopped on exit."""
    hub = FakeHub().start()
    try:
        yield hub
    finally:
        hub.stop()
