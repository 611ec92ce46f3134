"""A server (or proxy) that ignores `Range` and answers 200 with the whole file: the partial is
dropped and the file starts over, instead of appending a second copy to the first half."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from launcher.models.condition import inspect_model
from launcher.models.fetch import prefetch
from tests.fakehub.fixtures import BGE_FILE, BGE_MODEL, BGE_REPO
from tests.fakehub.server import FakeHub


class _RangeStrippingProxy(BaseHTTPRequestHandler):
    """Forwards GETs to the hub without their Range header; records the Ranges it dropped."""

    protocol_version = "HTTP/1.1"
    upstream = ""
    dropped: list[str] = []

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return

    def do_GET(self) -> None:  # noqa: N802
        if self.headers.get("Range"):
            self.dropped.append(self.headers["Range"])
        reply = httpx.get(self.upstream + self.path, timeout=30)
        body = reply.content
        self.send_response(reply.status_code)
        for name in ("Content-Type", "ETag", "X-Repo-Commit", "X-Error-Code"):
            if name in reply.headers:
                self.send_header(name, reply.headers[name])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def range_stripping_proxy(fake_hub: FakeHub) -> Iterator[type[_RangeStrippingProxy]]:
    handler = type("Proxy", (_RangeStrippingProxy,), {"upstream": fake_hub.url, "dropped": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_200_answer_to_a_range_request_starts_the_file_over(
    fake_hub: FakeHub,
    embedding_models: dict[str, dict[str, bytes]],
    range_stripping_proxy: type[_RangeStrippingProxy],
    make_options,
    cache_root: Path,
) -> None:
    import hashlib

    data = embedding_models[BGE_REPO][BGE_FILE]
    etag = hashlib.sha256(data).hexdigest()
    blobs = cache_root / "models--Qdrant--bge-small-en-v1.5-onnx-Q" / "blobs"
    blobs.mkdir(parents=True)
    (blobs / f"{etag}.incomplete").write_bytes(data[: len(data) // 2])

    result = prefetch(make_options(endpoint=range_stripping_proxy.url))  # type: ignore[attr-defined]

    assert result.state == "ready" and result.attempt_count == 1
    assert range_stripping_proxy.dropped == [f"bytes={len(data) // 2}-"]
    assert inspect_model(cache_root, BGE_MODEL, deep=True).ok
    assert (Path(result.path) / BGE_FILE).read_bytes() == data
