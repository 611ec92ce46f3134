"""The model download `up` starts before the install (launcher/up/background.py), in-process
against the loopback hub: nothing is started when there is nothing to do, a cancel stops it
and leaves its partial files for the next run, and the model step after a failed background
download makes no network attempt of its own."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from launcher.model_step import decide_cache, prefetch_options
from launcher.models.fetch import prefetch
from launcher.models.statusfile import read_status
from launcher.settings import resolve_settings
from launcher.up.background import BackgroundModel
from tests.fakehub.fixtures import BGE_FILE, BGE_REPO
from tests.fakehub.server import FakeHub

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def settings_for(project: Path, cache: Path, **flags: Any) -> Any:
    return resolve_settings(project, {"cache_dir": str(cache), "retry_delay": 0.01, **flags}, {})


def start(settings: Any, hub: FakeHub) -> tuple[BackgroundModel, Any, dict[str, str]]:
    env = {"HF_ENDPOINT": hub.url}
    cache = decide_cache(settings, env).location
    jobs = BackgroundModel()
    jobs.start_download(settings, env, cache)
    options = prefetch_options(settings, env, cache, {}, show_progress=False)
    return jobs, options, env


def test_nothing_starts_offline_without_prefetch_turned_off_or_with_the_model_cached(
    project: Path, tmp_path: Path, fake_hub: FakeHub
) -> None:
    cache = tmp_path / "cache"
    for flags in ({"offline": True}, {"prefetch": False}, {"background_model": False}):
        jobs, _, _ = start(settings_for(project, cache, **flags), fake_hub)
        assert jobs.download is None, flags
    settings, env = settings_for(project, cache), {"HF_ENDPOINT": fake_hub.url}
    prefetch(prefetch_options(settings, env, decide_cache(settings, env).location, {}))
    fake_hub.reset_log()
    jobs, _, _ = start(settings_for(project, cache), fake_hub)
    assert jobs.download is None and fake_hub.requests == []


def test_a_cancelled_download_stops_and_its_partial_is_resumed_by_the_next_run(
    project: Path, tmp_path: Path, fake_hub: FakeHub
) -> None:
    cache = tmp_path / "cache"
    fake_hub.throttle(20_000)
    jobs, options, _ = start(settings_for(project, cache, fallback_model=""), fake_hub)
    assert jobs.download is not None
    deadline = time.monotonic() + 60
    onnx_partial: list[Path] = []
    while not onnx_partial and time.monotonic() < deadline:
        onnx_partial = [p for p in cache.rglob("*.incomplete") if p.stat().st_size > 40_000]
        time.sleep(0.1)
    assert onnx_partial, "the download should be under way"
    jobs.stop()
    assert not jobs.download.running, "a cancel stops the download thread"
    kept = onnx_partial[0].stat().st_size
    assert onnx_partial[0].exists() and kept > 0

    fake_hub.clear_faults()
    fake_hub.reset_log()
    result = prefetch(options)
    assert result.state == "ready"
    # (the cancelled request itself may be logged late, when its connection is found closed)
    gets = [r for r in fake_hub.requests if r.path.endswith(BGE_FILE) and r.method == "GET"]
    resumed = [r for r in gets if r.range is not None]
    assert len(resumed) == 1, gets
    assert resumed[0].range == f"bytes={kept}-"


@pytest.mark.parametrize("refused", ["every request", "the main repo"])
def test_after_a_failed_background_download_the_model_step_uses_the_cache_only(
    project: Path, tmp_path: Path, fake_hub: FakeHub, refused: str
) -> None:
    if refused == "every request":
        fake_hub.refuse_all()
    else:
        fake_hub.not_found(BGE_REPO)
    settings = settings_for(project, tmp_path / "cache")
    jobs, options, _ = start(settings, fake_hub)
    assert jobs.download is not None
    first = jobs.download.wait()
    assert first is not None and first.state in ("degraded", "fallback")
    fake_hub.clear_faults()  # the hub answers now: the model step must not ask it again
    fake_hub.reset_log()

    result, _ = jobs.settle(settings, options, {"activation": "direct"})

    assert fake_hub.requests == []
    assert result.state == first.state and result.attempts == first.attempts
    document = read_status(settings.status_file)
    assert document is not None and document["environment"] == {"activation": "direct"}
    assert document["model"]["state"] == first.state
    if refused == "the main repo":
        assert result.resolved == MINILM and result.path and Path(result.path).is_dir()
    assert jobs.recovery is not None, "the main model will be fetched while the backend serves"
