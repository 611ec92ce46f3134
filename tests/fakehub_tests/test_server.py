"""The fake hub answers the real huggingface_hub client, and each fault does what it says."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from tests.fakehub.builder import build_embedding_model
from tests.fakehub.fixtures import BGE_FILE, BGE_REPO, MINILM_FILE, MINILM_REPO
from tests.fakehub.server import FakeHub, git_blob_sha1

REPO_ROOT = Path(__file__).resolve().parents[2]


def _resolve_url(hub: FakeHub, repo: str, filename: str, revision: str = "main") -> str:
    return f"{hub.url}/{repo}/resolve/{revision}/{filename}"


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


# ---------------------------------------------------------------- serving like the hub


def test_snapshot_download_gets_byte_identical_files(
    fake_hub: FakeHub, embedding_models: dict[str, dict[str, bytes]], tmp_path: Path
) -> None:
    for repo in (BGE_REPO, MINILM_REPO):
        folder = Path(snapshot_download(repo, cache_dir=tmp_path, endpoint=fake_hub.url))
        assert folder.name == fake_hub.commit_sha(repo)
        expected = embedding_models[repo]
        assert sorted(p.name for p in folder.iterdir()) == sorted(expected)
        for name, content in expected.items():
            assert (folder / name).read_bytes() == content, name


def test_model_info_and_tree_report_sizes_blob_ids_and_lfs(
    fake_hub: FakeHub, embedding_models: dict[str, dict[str, bytes]]
) -> None:
    api = HfApi(endpoint=fake_hub.url)
    files = embedding_models[BGE_REPO]
    info = api.model_info(BGE_REPO, files_metadata=True)
    assert info.sha == fake_hub.commit_sha(BGE_REPO)
    siblings = {s.rfilename: s for s in info.siblings or []}
    assert set(siblings) == set(files)
    for name, content in files.items():
        assert siblings[name].size == len(content)
        assert siblings[name].blob_id == git_blob_sha1(content)
    assert siblings[BGE_FILE].lfs is not None
    assert siblings[BGE_FILE].lfs.sha256 == _sha256(files[BGE_FILE])
    assert siblings["tokenizer.json"].lfs is None

    tree = {f.path: f for f in api.list_repo_tree(BGE_REPO, recursive=True, revision=info.sha)}
    assert set(tree) == set(files)
    assert tree[BGE_FILE].lfs is not None and tree[BGE_FILE].lfs.sha256 == _sha256(files[BGE_FILE])
    assert tree["config.json"].blob_id == git_blob_sha1(files["config.json"])


def test_paths_info_reports_the_asked_files_only(
    fake_hub: FakeHub, embedding_models: dict[str, dict[str, bytes]]
) -> None:
    api = HfApi(endpoint=fake_hub.url)
    infos = api.get_paths_info(BGE_REPO, [BGE_FILE, "config.json", "nope.txt"])
    by_path = {info.path: info for info in infos}
    assert set(by_path) == {BGE_FILE, "config.json"}
    onnx = embedding_models[BGE_REPO][BGE_FILE]
    assert by_path[BGE_FILE].lfs is not None and by_path[BGE_FILE].lfs.sha256 == _sha256(onnx)


def test_nested_files_show_folders_in_the_tree(fake_hub: FakeHub, tmp_path: Path) -> None:
    fake_hub.add_repo("acme/nested", {"onnx/model.onnx": b"x" * 10, "config.json": b"{}"})
    api = HfApi(endpoint=fake_hub.url)
    top = {(f.path, type(f).__name__) for f in api.list_repo_tree("acme/nested")}
    assert top == {("onnx", "RepoFolder"), ("config.json", "RepoFile")}
    deep = {f.path for f in api.list_repo_tree("acme/nested", recursive=True)}
    assert "onnx/model.onnx" in deep
    path = hf_hub_download(
        "acme/nested", "onnx/model.onnx", cache_dir=tmp_path, endpoint=fake_hub.url
    )
    assert Path(path).read_bytes() == b"x" * 10


def test_head_headers_match_the_hub_for_lfs_and_plain_files(
    fake_hub: FakeHub, embedding_models: dict[str, dict[str, bytes]]
) -> None:
    files = embedding_models[MINILM_REPO]
    commit = fake_hub.commit_sha(MINILM_REPO)
    lfs = httpx.head(_resolve_url(fake_hub, MINILM_REPO, MINILM_FILE))
    assert lfs.status_code == 200
    assert lfs.headers["X-Repo-Commit"] == commit
    assert lfs.headers["ETag"] == f'"{_sha256(files[MINILM_FILE])}"'
    assert lfs.headers["X-Linked-Etag"] == lfs.headers["ETag"]
    assert int(lfs.headers["X-Linked-Size"]) == len(files[MINILM_FILE])
    assert int(lfs.headers["Content-Length"]) == len(files[MINILM_FILE])

    plain = httpx.head(_resolve_url(fake_hub, MINILM_REPO, "tokenizer.json", revision=commit))
    assert plain.headers["ETag"] == f'"{git_blob_sha1(files["tokenizer.json"])}"'
    assert "X-Linked-Etag" not in plain.headers


def test_range_requests_get_206_and_are_logged(
    fake_hub: FakeHub, embedding_models: dict[str, dict[str, bytes]]
) -> None:
    content = embedding_models[BGE_REPO][BGE_FILE]
    url = _resolve_url(fake_hub, BGE_REPO, BGE_FILE)
    fake_hub.reset_log()
    part = httpx.get(url, headers={"Range": "bytes=1000-"})
    assert part.status_code == 206
    assert part.content == content[1000:]
    assert part.headers["Content-Range"] == f"bytes 1000-{len(content) - 1}/{len(content)}"
    window = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert window.status_code == 206 and window.content == content[10:20]
    beyond = httpx.get(url, headers={"Range": f"bytes={len(content)}-"})
    assert beyond.status_code == 416
    assert [r.range for r in fake_hub.wait_for_requests(3)] == [
        "bytes=1000-",
        "bytes=10-19",
        f"bytes={len(content)}-",
    ]
    assert fake_hub.requests[0].bytes_sent == len(content) - 1000


def test_a_new_commit_becomes_main_and_the_old_sha_still_resolves(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    old = fake_hub.add_repo("acme/evolving", {"config.json": b'{"v": 1}'})
    new = fake_hub.add_repo("acme/evolving", {"config.json": b'{"v": 2}'})
    assert old != new and len(new) == 40
    assert HfApi(endpoint=fake_hub.url).model_info("acme/evolving").sha == new
    path = hf_hub_download(
        "acme/evolving", "config.json", revision=old, cache_dir=tmp_path, endpoint=fake_hub.url
    )
    assert Path(path).read_bytes() == b'{"v": 1}'


def test_lfs_redirect_mode_sends_downloads_to_a_cdn_host_like_the_hub(
    fake_hub: FakeHub, embedding_models: dict[str, dict[str, bytes]], tmp_path: Path
) -> None:
    files = embedding_models[BGE_REPO]
    fake_hub.redirect_lfs()
    fake_hub.reset_log()
    folder = Path(snapshot_download(BGE_REPO, cache_dir=tmp_path, endpoint=fake_hub.url))
    for name, content in files.items():
        assert (folder / name).read_bytes() == content
    onnx_requests = [(r.method, r.status, r.path) for r in fake_hub.requests if BGE_FILE in r.path]
    assert ("HEAD", 302) in {(method, status) for method, status, _ in onnx_requests}
    assert any(m == "GET" and s == 200 and p.startswith("/cdn-lfs/") for m, s, p in onnx_requests)

    url = _resolve_url(fake_hub, BGE_REPO, BGE_FILE)
    redirect = httpx.get(url)
    assert redirect.status_code == 302
    assert redirect.headers["X-Linked-Etag"] == f'"{_sha256(files[BGE_FILE])}"'
    assert redirect.headers["Location"].startswith("http://localhost:")
    resumed = httpx.get(url, headers={"Range": "bytes=100-"}, follow_redirects=True)
    assert resumed.status_code == 206 and resumed.content == files[BGE_FILE][100:]


def test_unknown_revision_and_file_raise_the_hubs_errors(fake_hub: FakeHub, tmp_path: Path) -> None:
    with pytest.raises(RevisionNotFoundError):
        HfApi(endpoint=fake_hub.url).model_info(BGE_REPO, revision="no-such-branch")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(BGE_REPO, "missing.bin", cache_dir=tmp_path, endpoint=fake_hub.url)


def test_request_log_is_complete_under_concurrency(fake_hub: FakeHub) -> None:
    fake_hub.reset_log()
    url = f"{fake_hub.url}/api/models/{BGE_REPO}"

    def fetch() -> None:
        for _ in range(5):
            httpx.get(url).raise_for_status()

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    records = fake_hub.requests  # every answer a client holds is in the log
    assert len(records) == 30
    assert {(r.method, r.status) for r in records} == {("GET", 200)}


# ---------------------------------------------------------------- faults


def test_fail_requests_answers_503_n_times_then_recovers(fake_hub: FakeHub) -> None:
    url = f"{fake_hub.url}/api/models/{BGE_REPO}"
    fake_hub.fail_requests(2, retry_after=3)
    first, second, third = (httpx.get(url) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert first.headers["Retry-After"] == "3"
    assert "error" in first.json()
    assert [r.status for r in fake_hub.requests[-3:]] == [503, 503, 200]


def test_path_contains_limits_a_fault_to_matching_requests(fake_hub: FakeHub) -> None:
    fake_hub.fail_requests(1, status=500, path_contains=BGE_FILE)
    assert httpx.get(_resolve_url(fake_hub, BGE_REPO, "config.json")).status_code == 200
    assert httpx.get(f"{fake_hub.url}/api/models/{BGE_REPO}").status_code == 200
    assert httpx.get(_resolve_url(fake_hub, BGE_REPO, BGE_FILE)).status_code == 500
    assert httpx.get(_resolve_url(fake_hub, BGE_REPO, BGE_FILE)).status_code == 200


def test_reset_after_aborts_the_connection_mid_body(
    fake_hub: FakeHub, embedding_models: dict[str, dict[str, bytes]]
) -> None:
    content = embedding_models[BGE_REPO][BGE_FILE]
    fake_hub.reset_after(50_000, path_contains=BGE_FILE)
    received = bytearray()
    url = _resolve_url(fake_hub, BGE_REPO, BGE_FILE)
    with pytest.raises(httpx.TransportError) as caught, httpx.stream("GET", url) as response:
        assert int(response.headers["Content-Length"]) == len(content)
        for chunk in response.iter_raw():
            received += chunk
    # an RST (ECONNRESET), not a clean end of stream
    assert isinstance(caught.value, httpx.ReadError)
    assert len(received) <= 50_000
    record = fake_hub.requests[-1]
    assert (record.fault, record.bytes_sent) == ("reset", 50_000)
    # the fault counted down: the next download is whole
    assert httpx.get(_resolve_url(fake_hub, BGE_REPO, BGE_FILE)).content == content


def test_truncate_makes_huggingface_hub_resume_with_a_range_request(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    # huggingface_hub only counts bytes in 10 MiB chunks, so resuming needs a bigger file.
    files = build_embedding_model(
        tmp_path / "model", model_file="model.onnx", dim=8, padding_bytes=12 * 1024 * 1024
    )
    fake_hub.add_repo("acme/big", files)
    cut = 11 * 1024 * 1024
    fake_hub.truncate(cut, path_contains="model.onnx")
    fake_hub.reset_log()
    path = hf_hub_download(
        "acme/big", "model.onnx", cache_dir=tmp_path / "cache", endpoint=fake_hub.url
    )
    assert Path(path).read_bytes() == files["model.onnx"]
    gets = [r for r in fake_hub.requests if r.method == "GET"]
    assert [(r.fault, r.bytes_sent) for r in gets][0] == ("truncate", cut)
    assert gets[1].range == f"bytes={10 * 1024 * 1024}-"
    assert gets[1].status == 206


def test_corrupt_keeps_the_length_but_changes_the_sha256(
    fake_hub: FakeHub, embedding_models: dict[str, dict[str, bytes]], tmp_path: Path
) -> None:
    content = embedding_models[MINILM_REPO][MINILM_FILE]
    fake_hub.corrupt(path_contains=MINILM_FILE)
    path = Path(
        hf_hub_download(MINILM_REPO, MINILM_FILE, cache_dir=tmp_path, endpoint=fake_hub.url)
    )
    served = path.read_bytes()
    assert len(served) == len(content)
    assert _sha256(served) != _sha256(content)
    # the ETag still promised the right sha256: that is what a verifier compares against
    assert path.parent.parent.parent.joinpath("blobs", _sha256(content)).exists()
    assert httpx.get(_resolve_url(fake_hub, MINILM_REPO, MINILM_FILE)).content == content


def test_an_answer_the_client_holds_is_in_the_log_at_once(fake_hub: FakeHub) -> None:
    """The log never lags the client: a throttled download (whose handler paused after its
    last piece) and a reset one (logged after the abort) are there as soon as the client has
    them, and `reset_log` does not leave them for the next step."""
    fake_hub.throttle(2_000_000)
    url = _resolve_url(fake_hub, MINILM_REPO, MINILM_FILE)
    for _ in range(5):
        body = httpx.get(url).content
        assert [r.bytes_sent for r in fake_hub.requests if r.path.endswith(MINILM_FILE)] == [
            len(body)
        ]
        fake_hub.reset_log()
    fake_hub.reset_after(1000, times=5, path_contains=MINILM_FILE)
    for _ in range(5):
        with pytest.raises(httpx.HTTPError):
            httpx.get(url)
        fake_hub.reset_log()
        assert fake_hub.requests == []  # the aborted answer was logged before the reset


def test_stall_before_the_response_times_out_a_client(fake_hub: FakeHub) -> None:
    fake_hub.stall(30, path_contains="/api/models/")
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{fake_hub.url}/api/models/{BGE_REPO}", timeout=0.5)
    # other paths were never stalled
    assert httpx.get(_resolve_url(fake_hub, BGE_REPO, "config.json"), timeout=5).status_code == 200


def test_stall_mid_body_sends_after_bytes_then_goes_silent(
    fake_hub: FakeHub, embedding_models: dict[str, dict[str, bytes]]
) -> None:
    fake_hub.stall(30, after_bytes=20_000, path_contains=BGE_FILE)
    received = bytearray()
    url = _resolve_url(fake_hub, BGE_REPO, BGE_FILE)
    with pytest.raises(httpx.ReadTimeout), httpx.stream("GET", url, timeout=0.5) as response:
        for chunk in response.iter_raw():
            received += chunk
    assert len(received) == 20_000
    assert received == embedding_models[BGE_REPO][BGE_FILE][:20_000]


def test_stop_returns_while_a_client_is_stalled(
    embedding_models: dict[str, dict[str, bytes]],
) -> None:
    hub = FakeHub().start()
    hub.add_repo(BGE_REPO, embedding_models[BGE_REPO])
    hub.stall(120, after_bytes=1000)
    got_first_bytes = threading.Event()
    client_error: list[BaseException] = []

    def download() -> None:
        try:
            with httpx.stream("GET", _resolve_url(hub, BGE_REPO, BGE_FILE), timeout=60) as r:
                for _chunk in r.iter_raw():
                    got_first_bytes.set()
        except httpx.HTTPError as error:
            client_error.append(error)

    client = threading.Thread(target=download)
    client.start()
    assert got_first_bytes.wait(timeout=20)
    stopper = threading.Thread(target=hub.stop)
    stopper.start()
    stopper.join(timeout=20)  # far below the 120 s stall: stop() did not wait for it
    client.join(timeout=20)
    assert not stopper.is_alive()
    assert not client.is_alive()
    assert client_error, "the stalled download should fail when the hub stops"


def test_refuse_all_refuses_connections_until_cleared(fake_hub: FakeHub) -> None:
    url = fake_hub.url
    fake_hub.refuse_all()
    assert fake_hub.url == url
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/api/models/{BGE_REPO}")
    fake_hub.clear_faults()
    assert httpx.get(f"{url}/api/models/{BGE_REPO}").status_code == 200


def test_not_found_answers_like_the_hub(fake_hub: FakeHub, tmp_path: Path) -> None:
    fake_hub.not_found(BGE_REPO)
    response = httpx.get(f"{fake_hub.url}/api/models/{BGE_REPO}")
    assert response.status_code == 404
    assert response.json() == {"error": "Repository not found"}
    assert response.headers["X-Error-Code"] == "RepoNotFound"
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=fake_hub.url).model_info(BGE_REPO)
    with pytest.raises(RepositoryNotFoundError):
        snapshot_download(BGE_REPO, cache_dir=tmp_path, endpoint=fake_hub.url)
    # a repo that was never added is not found either; the other standard repo still works
    assert httpx.get(f"{fake_hub.url}/api/models/nobody/nothing").status_code == 404
    assert httpx.get(f"{fake_hub.url}/api/models/{MINILM_REPO}").status_code == 200


def test_throttle_paces_the_body(
    fake_hub: FakeHub, embedding_models: dict[str, dict[str, bytes]]
) -> None:
    content = embedding_models[MINILM_REPO][MINILM_FILE]
    rate = 1_000_000
    fake_hub.throttle(rate)
    started = time.monotonic()
    assert httpx.get(_resolve_url(fake_hub, MINILM_REPO, MINILM_FILE)).content == content
    # a lower bound only: pacing can make a download slower, never faster than the rate
    assert time.monotonic() - started >= 0.8 * len(content) / rate


# ---------------------------------------------------------------- the runner


def test_module_runner_prints_the_url_serves_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakehub", "--port", "0", "--serve-standard"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        info = json.loads(httpx.get(f"{url}/api/models/{MINILM_REPO}", timeout=10).text)
        assert info["id"] == MINILM_REPO
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=20)
