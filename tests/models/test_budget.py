"""The model step's budget: a hub that never answers costs at most `model_budget` seconds of
no progress for the whole chain, then the backend starts degraded and says which budget ran
out and how to change it; a download that is making progress is never stopped by it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from launcher.models.fetch import prefetch
from launcher.models.options import PrefetchOptions
from launcher.models.registry import (
    DEFAULT_MODEL_BUDGET,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_DELAY,
    DEFAULT_STALL_TIMEOUT,
)
from tests.fakehub.fixtures import BGE_MODEL, MINILM_REPO
from tests.fakehub.server import FakeHub
from tests.models.conftest import assert_status_schema, read_status

HANG = 3600.0  # seconds: accept the connection, never answer
SCALE = 100  # the defaults' times, divided by this, keep their proportions


def test_hung_hub_with_default_settings_starts_degraded_naming_the_budget(
    fake_hub: FakeHub, tmp_path: Path, cache_root: Path, sleeps, log_lines: list[str]
) -> None:
    fake_hub.stall(HANG, times=100)
    status_file = tmp_path / "status.json"
    defaults = PrefetchOptions(  # the defaults, but this hub and a private cache
        cache=cache_root, endpoint=fake_hub.url, legacy_dir=tmp_path / "no-legacy"
    )
    assert defaults.budget == DEFAULT_MODEL_BUDGET <= 45
    assert (defaults.stall_timeout, defaults.retry_delay, defaults.retries) == (
        DEFAULT_STALL_TIMEOUT,
        DEFAULT_RETRY_DELAY,
        DEFAULT_RETRIES,
    )
    # Why a retry does not fit: after one silent attempt, less than a retry delay is left.
    assert DEFAULT_STALL_TIMEOUT + DEFAULT_RETRY_DELAY >= DEFAULT_MODEL_BUDGET
    assert DEFAULT_RETRIES > 1  # so it is the budget that stops the chain, not the count
    # The hub's silence is real (a socket read timeout), so the three times are scaled down
    # together: the same decisions as the defaults, in a hundredth of the wait.
    options = replace(
        defaults,
        stall_timeout=defaults.stall_timeout / SCALE,
        retry_delay=defaults.retry_delay / SCALE,
        budget=defaults.budget / SCALE,
    )

    result = prefetch(options, status_file=status_file, sleep=sleeps)

    assert result.state == "degraded"
    assert result.budget_reason is not None
    assert f"{options.budget:g} s (model_budget)" in result.budget_reason
    assert "model_budget" in (result.last_hint or "")
    assert result.last_error == result.budget_reason
    # One silent attempt of stall_timeout; the next would not fit: no retry, no fallback.
    assert [a.model for a in result.attempts] == [BGE_MODEL]
    assert result.attempts[0].seconds >= options.stall_timeout  # it did wait for the silence
    assert sleeps == []
    assert not [r for r in fake_hub.requests if MINILM_REPO.lower() in r.path.lower()]
    warning = next(line for line in log_lines if "DEGRADED" in line)
    assert "budget ran out" in warning and "model_budget" in warning
    document = read_status(status_file)
    assert_status_schema(document)
    assert "model_budget" in document["model"]["attempts"][0]["error"]


def test_retries_that_receive_nothing_count_against_the_budget(
    fake_hub: FakeHub, make_options, sleeps, log_lines: list[str]
) -> None:
    fake_hub.fail_requests(100, status=503)

    result = prefetch(make_options(retries=10, retry_delay=1.0, budget=2.5), sleep=sleeps)

    assert result.state == "degraded"
    assert result.budget_reason is not None and "2.5 s (model_budget)" in result.budget_reason
    assert len(sleeps) == 2  # 1 s + 1 s charged; a third delay would not fit in 2.5 s
    assert {a.model for a in result.attempts} == {BGE_MODEL}  # the fallback is not tried
    assert any("not downloaded, the model step's budget has run out" in line for line in log_lines)


def test_a_hub_that_hangs_is_cut_at_the_budget_not_the_stall_timeout(
    fake_hub: FakeHub, make_options, sleeps
) -> None:
    fake_hub.stall(HANG, times=100)

    result = prefetch(make_options(stall_timeout=600.0, budget=1.0), sleep=sleeps)

    assert result.state == "degraded" and result.budget_reason is not None
    assert result.attempts[0].seconds < 600  # the per-attempt timeout was the budget's rest


def test_a_download_making_progress_is_never_cut_by_the_budget(
    fake_hub: FakeHub, make_options, sleeps
) -> None:
    fake_hub.throttle(400_000)  # the ~0.7 MB of the model take ~2 s, twice the budget

    result = prefetch(make_options(budget=1.0), sleep=sleeps)

    assert result.state == "ready" and result.resolved == BGE_MODEL
    assert result.budget_reason is None


def test_no_budget_when_zero(fake_hub: FakeHub, make_options, sleeps) -> None:
    fake_hub.fail_requests(4, status=503)

    result = prefetch(make_options(retries=5, retry_delay=100.0, budget=0), sleep=sleeps)

    assert result.state == "ready" and sleeps == [100.0] * 4
