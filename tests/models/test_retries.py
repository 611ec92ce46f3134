"""Download attempts against a faulty hub: retries, resume, verification (in-process prefetch,
real loopback HTTP)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from launcher.models.condition import inspect_model
from launcher.models.fetch import prefetch
from tests.fakehub.fixtures import BGE_FILE, BGE_MODEL, BGE_REPO
from tests.fakehub.server import FakeHub
from tests.models.conftest import assert_status_schema, hub_requests, read_status


def _onnx_gets(hub: FakeHub, at_least: int = 2) -> list:
    return hub_requests(
        hub, lambda r: r.method == "GET" and r.path.endswith(BGE_FILE), at_least=at_least
    )


def test_503_then_success_counts_two_attempts(
    fake_hub: FakeHub, make_options, sleeps, tmp_path: Path
) -> None:
    fake_hub.fail_requests(1, status=503)
    status_file = tmp_path / "status.json"

    result = prefetch(make_options(retry_delay=7), status_file=status_file, sleep=sleeps)

    assert result.state == "ready" and result.resolved == BGE_MODEL
    document = read_status(status_file)
    assert_status_schema(document)
    model = document["model"]
    assert model["attempt_count"] == 2
    assert [a["ok"] for a in model["attempts"]] == [False, True]
    assert "503" in model["attempts"][0]["error"]
    assert sleeps == [7]  # one pause, the configured delay


def test_attempt_log_line(fake_hub: FakeHub, make_options, sleeps, log_lines: list[str]) -> None:
    fake_hub.fail_requests(1, status=502)

    prefetch(make_options(), sleep=sleeps)

    assert "Downloading BGE model... (Attempt 1/3)" in log_lines
    assert "Downloading BGE model... (Attempt 2/3)" in log_lines


def test_other_models_are_named_in_the_attempt_line(
    fake_hub: FakeHub, make_options, log_lines: list[str]
) -> None:
    prefetch(make_options(model="sentence-transformers/all-MiniLM-L6-v2", retries=2))

    assert "Downloading sentence-transformers/all-MiniLM-L6-v2... (Attempt 1/2)" in log_lines


def test_reset_at_half_resumes_with_range(
    fake_hub: FakeHub, big_model_files: dict[str, bytes], make_options, sleeps, cache_root: Path
) -> None:
    fake_hub.add_repo(BGE_REPO, big_model_files)
    size = len(big_model_files[BGE_FILE])
    # Paced like a real link, so what the hub sent before the RST is what the client read
    # (an unpaced burst sits in socket buffers, which a reset throws away on arrival).
    fake_hub.throttle(8_000_000)
    fake_hub.reset_after(size // 2, path_contains=BGE_FILE)

    result = prefetch(make_options(), sleep=sleeps)

    assert result.state == "ready"
    first, second = _onnx_gets(fake_hub)
    assert first.range is None and first.fault == "reset"
    assert second.range is not None and second.range.startswith("bytes=")
    resumed_from = int(second.range.split("=")[1].rstrip("-"))
    assert resumed_from > size * 0.4  # it kept what it had
    resent = first.bytes_sent + second.bytes_sent - size
    assert resent < size * 0.10
    assert second.status == 206
    assert inspect_model(cache_root, BGE_MODEL, deep=True).ok
    assert [a["bytes"] for a in result.to_json()["attempts"]][1] == second.bytes_sent


def test_corrupted_body_is_rejected_and_fetched_again(
    fake_hub: FakeHub, embedding_models, make_options, sleeps, cache_root: Path
) -> None:
    fake_hub.corrupt(path_contains=BGE_FILE)

    result = prefetch(make_options(), sleep=sleeps)

    assert result.state == "ready"
    assert result.attempt_count == 2
    assert "corrupted" in result.attempts[0].error
    gets = _onnx_gets(fake_hub)
    assert [g.fault for g in gets] == ["corrupt", None]
    assert gets[1].range is None  # a corrupt partial is never resumed
    blob = Path(result.path) / BGE_FILE
    expected = hashlib.sha256(embedding_models[BGE_REPO][BGE_FILE]).hexdigest()
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == expected


def test_truncated_body_resumes(
    fake_hub: FakeHub, big_model_files: dict[str, bytes], make_options, sleeps
) -> None:
    fake_hub.add_repo(BGE_REPO, big_model_files)
    size = len(big_model_files[BGE_FILE])
    fake_hub.truncate(size // 3, path_contains=BGE_FILE)

    result = prefetch(make_options(), sleep=sleeps)

    assert result.state == "ready" and result.attempt_count == 2
    second = _onnx_gets(fake_hub)[1]
    assert second.range == f"bytes={size // 3}-"


def test_stall_watchdog_ends_the_attempt_and_resumes(
    fake_hub: FakeHub, big_model_files: dict[str, bytes], make_options, sleeps
) -> None:
    fake_hub.add_repo(BGE_REPO, big_model_files)
    fake_hub.stall(30, after_bytes=1_000_000, path_contains=BGE_FILE)

    result = prefetch(make_options(stall_timeout=0.5), sleep=sleeps)

    assert result.state == "ready"
    assert "timed out waiting for data" in result.attempts[0].error
    # (the stalled response is still "in progress" on the hub side, so it is not logged yet)
    resumed = _onnx_gets(fake_hub, at_least=1)
    assert [r.range for r in resumed] == ["bytes=1000000-"]


def test_429_honours_retry_after(fake_hub: FakeHub, make_options, sleeps) -> None:
    fake_hub.fail_requests(1, status=429, retry_after=3)

    result = prefetch(make_options(retry_delay=0.5), sleep=sleeps)

    assert result.state == "ready"
    assert sleeps == [3.0]  # Retry-After wins over the shorter configured delay
    assert "429" in result.attempts[0].error


def test_retries_exhausted_then_fallback(
    fake_hub: FakeHub, make_options, sleeps, tmp_path: Path
) -> None:
    fake_hub.fail_requests(3, status=500, path_contains="bge")

    result = prefetch(make_options(retry_delay=2), status_file=tmp_path / "s.json", sleep=sleeps)

    assert result.state == "fallback"
    assert result.resolved == "sentence-transformers/all-MiniLM-L6-v2"
    assert [(a.model, a.attempt, a.ok) for a in result.attempts] == [
        (BGE_MODEL, 1, False),
        (BGE_MODEL, 2, False),
        (BGE_MODEL, 3, False),
        ("sentence-transformers/all-MiniLM-L6-v2", 1, True),
    ]
    assert sleeps == [2, 2]  # between attempts, not after the last
    assert_status_schema(read_status(tmp_path / "s.json"))
