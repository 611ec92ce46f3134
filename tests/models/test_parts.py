"""Several connections per large file: parallel ranged parts against the faulty loopback hub.

The test model's ONNX file is ~4 MB; the threshold is lowered so it comes in 4 parts, and every
fault the one-connection tests inject (reset, truncation, corruption, a stall, a full disk, a
crash between runs) is injected here with 4 parts in flight.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from launcher.models import space
from launcher.models.condition import inspect_model
from launcher.models.fetch import prefetch
from launcher.models.layout import repo_folder_name
from launcher.models.parts import plan_for
from tests.fakehub.fixtures import BGE_FILE, BGE_MODEL, BGE_REPO
from tests.fakehub.server import FakeHub
from tests.models.conftest import hub_requests

PARTS = 4
THRESHOLD = 1_000_000


def _options(make_options, **overrides):  # type: ignore[no-untyped-def]
    return make_options(parts=PARTS, part_threshold=THRESHOLD, fallback_model=None, **overrides)


def _onnx_gets(hub: FakeHub, at_least: int = 0) -> list:
    return hub_requests(
        hub, lambda r: r.method == "GET" and r.path.endswith(BGE_FILE), at_least=at_least
    )


def _start(range_header: str | None) -> int:
    match = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header or "")
    assert match, range_header
    return int(match.group(1))


@pytest.fixture
def big_hub(fake_hub: FakeHub, big_model_files: dict[str, bytes]) -> FakeHub:
    fake_hub.add_repo(BGE_REPO, big_model_files)
    return fake_hub


def _size(files: dict[str, bytes]) -> int:
    return len(files[BGE_FILE])


def test_a_large_file_comes_in_ranged_parts_that_cover_it_exactly_once(
    big_hub: FakeHub, big_model_files: dict[str, bytes], make_options, cache_root: Path
) -> None:
    result = prefetch(_options(make_options))

    assert result.state == "ready" and result.attempt_count == 1
    gets = _onnx_gets(big_hub, at_least=PARTS)
    assert len(gets) == PARTS and all(g.status == 206 for g in gets)
    plan = plan_for(_size(big_model_files), PARTS, THRESHOLD)
    assert plan is not None
    assert sorted(_start(g.range) for g in gets) == [plan.bounds(i)[0] for i in range(PARTS)]
    assert sum(g.bytes_sent for g in gets) == _size(big_model_files)  # not a byte twice
    assert inspect_model(cache_root, BGE_MODEL, deep=True).ok
    assert not list(cache_root.rglob("*.incomplete"))
    # small files (the tokenizer's) still take one plain request each
    small = [r for r in big_hub.requests if r.path.endswith("tokenizer.json")]
    assert [r.range for r in small] == [None]


def test_a_reset_part_resumes_alone_and_little_is_sent_twice(
    big_hub: FakeHub, big_model_files: dict[str, bytes], make_options, sleeps
) -> None:
    size = _size(big_model_files)
    big_hub.throttle(4_000_000)  # paced like a link: what was sent before the RST was read
    big_hub.reset_after(size // PARTS // 2, path_contains=BGE_FILE)

    result = prefetch(_options(make_options), sleep=sleeps)

    assert result.state == "ready"
    assert result.attempt_count == 1  # the part retried by itself; the others never stopped
    gets = _onnx_gets(big_hub, at_least=PARTS + 1)
    reset = [g for g in gets if g.fault == "reset"]
    assert len(reset) == 1 and len(gets) == PARTS + 1
    first, part = _start(reset[0].range), -(-size // PARTS)
    resumed = [g for g in gets if g.fault is None and first < _start(g.range) < first + part]
    assert len(resumed) == 1  # the same part, from where it stopped
    assert first < _start(resumed[0].range) <= first + reset[0].bytes_sent  # kept what it had
    resent = sum(g.bytes_sent for g in gets) - size
    assert resent <= size * 0.05


def test_a_truncated_part_resumes_from_its_last_byte(
    big_hub: FakeHub, big_model_files: dict[str, bytes], make_options, sleeps
) -> None:
    big_hub.truncate(100_000, path_contains=BGE_FILE)

    result = prefetch(_options(make_options), sleep=sleeps)

    assert result.state == "ready"
    gets = _onnx_gets(big_hub, at_least=PARTS + 1)
    cut = next(g for g in gets if g.fault == "truncate")
    assert any(_start(g.range) == _start(cut.range) + cut.bytes_sent for g in gets)


def test_a_corrupt_part_fails_the_whole_file_hash_and_is_fetched_again(
    big_hub: FakeHub, big_model_files: dict[str, bytes], make_options, sleeps, cache_root: Path
) -> None:
    big_hub.corrupt(path_contains=BGE_FILE)

    result = prefetch(_options(make_options), sleep=sleeps)

    assert result.state == "ready" and result.attempt_count == 2
    assert "corrupted" in (result.attempts[0].error or "")
    blob = Path(result.path or "") / BGE_FILE
    expected = hashlib.sha256(big_model_files[BGE_FILE]).hexdigest()
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == expected
    assert inspect_model(cache_root, BGE_MODEL, deep=True).ok


def test_a_stalled_part_is_ended_by_the_watchdog_and_resumed(
    big_hub: FakeHub, big_model_files: dict[str, bytes], make_options, sleeps
) -> None:
    big_hub.stall(30, after_bytes=200_000, path_contains=BGE_FILE)

    result = prefetch(_options(make_options, stall_timeout=0.5), sleep=sleeps)

    assert result.state == "ready" and result.attempt_count == 1
    plan = plan_for(_size(big_model_files), PARTS, THRESHOLD)
    assert plan is not None
    starts = {plan.bounds(i)[0] for i in range(PARTS)}
    # (the stalled response itself is still "in progress" on the hub side: not logged yet)
    again = [g for g in _onnx_gets(big_hub, at_least=PARTS) if _start(g.range) not in starts]
    assert len(again) == 1  # only the stalled part asked again, from where it stopped
    assert _start(again[0].range) - 200_000 in starts


def test_parts_interrupted_in_one_run_resume_in_the_next(
    big_hub: FakeHub, big_model_files: dict[str, bytes], make_options, sleeps, cache_root: Path
) -> None:
    """A first run that dies with every part half-way (here: the hub refuses after a reset of
    every part, so the run ends degraded) leaves part files; the next run asks only for what
    each part is missing."""
    size = _size(big_model_files)
    big_hub.throttle(4_000_000)
    # A quarter of a part per request: each of a part's three requests is cut before the part's
    # end (a cut at or past the end would send everything, and the client may read it all
    # before the reset arrives: a part that finished, and a flaky test).
    big_hub.reset_after(size // PARTS // 4, times=PARTS * 3, path_contains=BGE_FILE)

    first = prefetch(_options(make_options, retries=1), sleep=sleeps)

    assert first.state == "degraded"
    folder = cache_root / repo_folder_name(BGE_REPO)
    left = sum(p.stat().st_size for p in (folder / "blobs").glob("*.incomplete"))
    assert left > size * 0.3
    big_hub.clear_faults()
    big_hub.reset_log()

    second = prefetch(_options(make_options), sleep=sleeps)

    assert second.state == "ready"
    sent = sum(g.bytes_sent for g in _onnx_gets(big_hub, at_least=1))
    assert sent <= size - left + size * 0.05
    assert inspect_model(cache_root, BGE_MODEL, deep=True).ok


def test_a_hub_that_ignores_ranges_gets_one_connection(
    big_hub: FakeHub, big_model_files: dict[str, bytes], make_options, log_lines: list[str]
) -> None:
    big_hub.honour_ranges(False)

    result = prefetch(_options(make_options))

    assert result.state == "ready" and result.attempt_count == 1
    assert any("over one connection" in line for line in log_lines)
    gets = _onnx_gets(big_hub, at_least=1)
    assert [g for g in gets if g.range is None]  # the plain one-connection request


def test_disk_full_with_parts_in_flight_cleans_every_part(
    fake_hub: FakeHub,
    big_model_files: dict[str, bytes],
    make_options,
    tiny_disk: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_hub.add_repo(BGE_REPO, big_model_files)
    monkeypatch.setattr(space, "disk_free", lambda path: 10**12)  # the disk fills up mid-way

    result = prefetch(_options(make_options, cache=tiny_disk))

    assert result.state == "degraded"
    assert "disk is full" in (result.attempts[0].error or "")
    assert list(tiny_disk.rglob("*.incomplete")) == []
    assert not list(tiny_disk.rglob("snapshots/*/*"))
