"""Safety: free space, a full disk, Windows-style locked files, no-symlink mode, file locks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from launcher.errors import ModelError
from launcher.fileops import FileOps
from launcher.models import space
from launcher.models.condition import inspect_model
from launcher.models.fetch import prefetch
from launcher.models.lock import lock_holder, lock_path, model_lock
from tests.fakehub.fixtures import BGE_FILE, BGE_MODEL, BGE_REPO, MINILM_MODEL
from tests.fakehub.server import FakeHub
from tests.helpers.cli import launcher_argv
from tests.models.conftest import (
    REPO_ROOT,
    hub_requests,
    subprocess_env,
)


def _body_gets(hub: FakeHub) -> list:
    return [r for r in hub.requests if "/resolve/" in r.path]


def test_not_enough_free_space_downloads_nothing(
    fake_hub: FakeHub,
    make_options,
    cache_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    log_lines: list[str],
) -> None:
    monkeypatch.setattr(space, "disk_free", lambda path: 10_000)

    result = prefetch(make_options())

    assert result.state == "degraded"
    assert "not enough free space" in result.attempts[0].error
    assert "10.0 kB free" in result.attempts[0].error
    assert [a.attempt for a in result.attempts if a.model == BGE_MODEL] == [1]  # not retried
    assert _body_gets(fake_hub) == []
    assert not any((cache_root).rglob("*.incomplete"))
    assert any("not enough free space" in line for line in log_lines)
    # The advice says what to free and how much, not "wait for the hub".
    degraded = next(line for line in log_lines if "DEGRADED" in line)
    assert "Free at least" in degraded and "once the hub is reachable" not in degraded
    assert "Free at least" in (result.last_hint or "")


def test_the_free_space_rule_asks_for_the_download_plus_a_margin_not_twice(
    fake_hub: FakeHub, make_options, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = fake_hub.repo_files(BGE_REPO)
    total = sum(len(body) for body in files.values())
    margin = space.DISK_MARGIN
    monkeypatch.setattr(space, "disk_free", lambda path: total + margin - 1)  # one byte short

    short = prefetch(make_options(fallback_model=None))

    assert short.state == "degraded"
    error = short.attempts[0].error or ""
    assert "to download + " in error and "renamed into place, never copied" in error
    assert "× 2" not in error
    monkeypatch.setattr(space, "disk_free", lambda path: total + margin)  # just enough
    assert prefetch(make_options(fallback_model=None)).state == "ready"


def test_disk_full_mid_download_cleans_partials(
    fake_hub: FakeHub, make_options, tiny_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The free-space probe is told there is room, so the download starts and the disk fills up.
    monkeypatch.setattr(space, "disk_free", lambda path: 10**12)

    result = prefetch(make_options(cache=tiny_disk))

    assert [(a.model, a.attempt) for a in result.attempts[:2]] == [
        (BGE_MODEL, 1),
        (MINILM_MODEL, 1),
    ]  # not retried
    assert all("disk is full" in a.error for a in result.attempts[:2])
    assert "removed" in result.attempts[0].error  # the partial was deleted
    assert "Free at least" in (result.last_hint or "")  # what to free, and how much
    assert list(tiny_disk.rglob("*.incomplete")) == []
    assert not list(tiny_disk.rglob("snapshots/*/*"))  # nothing promoted
    assert result.state == "degraded"


def test_renames_retry_while_a_scanner_holds_the_file(
    fake_hub: FakeHub, make_options, cache_root: Path
) -> None:
    calls: list[str] = []

    def flaky_replace(src: os.PathLike[str] | str, dst: os.PathLike[str] | str) -> None:
        calls.append(str(dst))
        if len(calls) <= 3:  # WinError 32: "being used by another process"
            raise PermissionError(32, "The process cannot access the file")
        os.replace(src, dst)

    ops = FileOps(replace=flaky_replace, backoff=0.001)

    result = prefetch(make_options(file_ops=ops))

    assert result.state == "ready" and result.attempt_count == 1
    assert len(calls) > 3
    assert inspect_model(cache_root, BGE_MODEL, deep=True).ok


def test_a_rename_that_never_succeeds_is_an_error_not_a_hang(
    fake_hub: FakeHub, make_options
) -> None:
    def locked(src: os.PathLike[str] | str, dst: os.PathLike[str] | str) -> None:
        raise PermissionError(32, "The process cannot access the file")

    ops = FileOps(replace=locked, tries=3, backoff=0.001)

    result = prefetch(make_options(file_ops=ops, fallback_model=None))

    assert result.state == "degraded"
    assert result.attempt_count == 3  # the skipped sentence-transformers link is no attempt
    assert "file operation failed" in result.attempts[0].error
    assert "Errno 32" in result.attempts[0].error


def test_without_symlinks_files_are_real_and_fastembed_loads_them(
    fake_hub: FakeHub, make_options, cache_root: Path, tmp_path: Path
) -> None:
    from tests.models.conftest import fastembed_embeds

    result = prefetch(make_options(symlinks=False))

    snapshot = Path(result.path)
    files = list(snapshot.iterdir())
    assert files and not any(f.is_symlink() for f in files)
    assert inspect_model(cache_root, BGE_MODEL, deep=True).ok
    assert len(fastembed_embeds(cache_root, BGE_MODEL, tmp_path)) == 4


def test_lock_holder_names_a_live_holder(cache_root: Path) -> None:
    assert lock_holder(cache_root, BGE_MODEL) is None
    with model_lock(cache_root, BGE_MODEL):
        assert lock_holder(cache_root, BGE_MODEL) == os.getpid()
    assert lock_holder(cache_root, BGE_MODEL) is None


def _hold_lock_in_child(cache_root: Path, tmp_path: Path) -> subprocess.Popen[str]:
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from launcher.models.lock import model_lock\n"
        "with model_lock(Path(sys.argv[1]), sys.argv[2]):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(cache_root), BGE_MODEL],
        env=subprocess_env(tmp_path),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "held"
    return child


def test_lock_of_a_killed_process_is_recovered(cache_root: Path, tmp_path: Path) -> None:
    child = _hold_lock_in_child(cache_root, tmp_path)
    try:
        assert lock_holder(cache_root, BGE_MODEL) == child.pid
        with pytest.raises(ModelError) as caught, model_lock(cache_root, BGE_MODEL, timeout=0.2):
            pass
        assert str(child.pid) in caught.value.message
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)

    assert lock_path(cache_root, BGE_MODEL).exists()  # the file stays; the OS lock died
    assert lock_holder(cache_root, BGE_MODEL) is None
    with model_lock(cache_root, BGE_MODEL, timeout=0):
        pass


def test_two_concurrent_prefetches_download_once(
    fake_hub: FakeHub, big_model_files: dict[str, bytes], tmp_path: Path
) -> None:
    fake_hub.add_repo(BGE_REPO, big_model_files)
    fake_hub.throttle(1_000_000)  # ~4 s per download: the second process starts well within
    cache = tmp_path / "shared-cache"
    env = subprocess_env(tmp_path, fake_hub.url)
    procs: list[subprocess.Popen[str]] = []
    try:
        for index in range(2):
            project = tmp_path / f"project{index}"
            project.mkdir()
            procs.append(
                subprocess.Popen(
                    launcher_argv("prefetch", "-p", str(project), "--cache-dir", str(cache)),
                    env=env,
                    cwd=REPO_ROOT,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
            if index == 0:  # start the second one once the first holds the lock
                deadline = time.monotonic() + 30
                while not list(cache.glob("models--*/blobs/*.incomplete")):
                    assert procs[0].poll() is None, procs[0].communicate()
                    assert time.monotonic() < deadline, "the first prefetch never started"
                    time.sleep(0.02)
        outputs = [p.communicate(timeout=60) for p in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)

    assert [p.returncode for p in procs] == [0, 0], outputs
    onnx = hub_requests(fake_hub, lambda r: r.path.endswith(BGE_FILE), at_least=1)
    assert len(onnx) == 1  # one download, shared
    assert f"Waiting for pid {procs[0].pid} to finish downloading BGE model" in outputs[1][1]
    second = outputs[1][0] + outputs[1][1]  # the report (stdout) and the log (stderr)
    assert "already in the cache" in second
    assert MINILM_MODEL not in second
