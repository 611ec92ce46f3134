"""The fallback chain: permanent errors, an unreachable hub, offline mode, degraded mode."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from launcher.errors import UsageError
from launcher.models.fetch import prefetch
from tests.fakehub.fixtures import BGE_MODEL, BGE_REPO, MINILM_MODEL, MINILM_REPO
from tests.fakehub.server import FakeHub
from tests.helpers.cli import CliRunner
from tests.models.conftest import assert_status_schema, read_status

ST_SKIP = "skipped, the sentence-transformers package is not installed"


def test_bge_404_falls_back_at_once_even_with_the_default_delay(
    fake_hub: FakeHub, make_options, sleeps, tmp_path: Path
) -> None:
    fake_hub.not_found(BGE_REPO)

    result = prefetch(make_options(retry_delay=10.0), status_file=tmp_path / "s.json", sleep=sleeps)

    assert result.state == "fallback" and result.resolved == MINILM_MODEL
    assert sleeps == []  # no retry, no sleep: a 404 is permanent
    bge = [a for a in result.attempts if a.model == BGE_MODEL]
    assert len(bge) == 1 and "404" in bge[0].error
    bge_requests = [r for r in fake_hub.requests if BGE_REPO in r.path]
    assert len(bge_requests) == 1  # one metadata request, nothing else
    document = read_status(tmp_path / "s.json")
    assert_status_schema(document)
    assert document["model"]["state"] == "fallback"
    assert document["model"]["path"].endswith(result.path.split("/")[-1])


def test_gated_repo_is_not_retried_and_hints_at_the_token(
    fake_hub: FakeHub, make_options, sleeps, log_lines: list[str]
) -> None:
    fake_hub.fail_requests(1, status=403, path_contains=BGE_REPO)

    result = prefetch(make_options(), sleep=sleeps)

    assert result.state == "fallback"
    assert sleeps == []
    assert "403" in result.attempts[0].error
    assert any("HF_TOKEN" in line for line in log_lines)


def test_both_models_unavailable_is_degraded(
    fake_hub: FakeHub, make_options, sleeps, tmp_path: Path, log_lines: list[str]
) -> None:
    fake_hub.not_found(BGE_REPO)
    fake_hub.not_found(MINILM_REPO)

    result = prefetch(make_options(), status_file=tmp_path / "s.json", sleep=sleeps)

    assert result.state == "degraded" and result.resolved is None and result.path is None
    assert result.error() is None  # degraded is not an error without --require-model
    # The sentence-transformers link was skipped (the package is not installed): it is no
    # attempt, so attempt_count says how many tries really happened.
    assert [a.model for a in result.attempts] == [BGE_MODEL, MINILM_MODEL]
    assert any(ST_SKIP in line for line in log_lines)
    assert any("DEGRADED" in line for line in log_lines)
    document = read_status(tmp_path / "s.json")
    assert_status_schema(document)
    assert document["model"]["state"] == "degraded"
    assert document["model"]["attempt_count"] == 2


def test_require_model_turns_degraded_into_failed(
    fake_hub: FakeHub, make_options, sleeps, tmp_path: Path
) -> None:
    fake_hub.not_found(BGE_REPO)
    fake_hub.not_found(MINILM_REPO)

    result = prefetch(make_options(require_model=True), status_file=tmp_path / "s.json")

    assert result.state == "failed"
    error = result.error()
    assert error is not None and error.exit_code == 1 and error.hint
    assert read_status(tmp_path / "s.json")["model"]["state"] == "failed"


def test_unreachable_hub_goes_to_the_fallback_without_sleeping(
    fake_hub: FakeHub, make_options, sleeps, log_lines: list[str]
) -> None:
    fake_hub.refuse_all()

    result = prefetch(make_options(retry_delay=10.0), sleep=sleeps)

    assert result.state == "degraded"
    assert sleeps == []
    assert [(a.model, a.attempt) for a in result.attempts] == [
        (BGE_MODEL, 1),
        (MINILM_MODEL, 1),
    ]
    assert "cannot reach" in result.attempts[0].error
    # "(Attempt 1/3)" was announced; the failure says that no attempt 2 follows.
    assert any(line.startswith("BGE model: not retried: cannot reach") for line in log_lines)
    assert not any("retrying in" in line for line in log_lines)


def test_valid_cache_needs_no_network(fake_hub: FakeHub, make_options, sleeps) -> None:
    prefetch(make_options())
    fake_hub.refuse_all()
    fake_hub.reset_log()

    started = time.perf_counter()
    result = prefetch(make_options(), sleep=sleeps)
    seconds = time.perf_counter() - started

    assert result.state == "ready" and result.source == "cache"
    assert fake_hub.requests == []
    assert result.attempts[0].bytes == 0 and result.attempts[0].ok
    # Speed is a benchmark target (docs/models.md), not asserted here; shown with -s.
    print(f"warm prefetch with the hub refusing connections: {seconds * 1000:.1f} ms")


def test_offline_with_the_model_missing_is_degraded_with_zero_requests(
    fake_hub: FakeHub, make_options, sleeps
) -> None:
    result = prefetch(make_options(offline=True), sleep=sleeps)

    assert result.state == "degraded"
    assert fake_hub.requests == []
    assert "offline" in result.attempts[0].error and "missing" in result.attempts[0].error


def test_offline_uses_a_cached_fallback(fake_hub: FakeHub, make_options, sleeps) -> None:
    prefetch(make_options(model=MINILM_MODEL))
    fake_hub.reset_log()

    result = prefetch(make_options(offline=True), sleep=sleeps)

    assert result.state == "fallback" and result.resolved == MINILM_MODEL
    assert fake_hub.requests == []


def test_unknown_model_is_bad_input(make_options) -> None:
    with pytest.raises(UsageError) as caught:
        prefetch(make_options(model="no-such/model"))
    assert caught.value.exit_code == 2
    assert BGE_MODEL in caught.value.hint


def test_cli_degraded_exits_0_and_require_model_exits_1(
    fake_hub: FakeHub, tmp_path: Path, run_cli: CliRunner
) -> None:
    fake_hub.not_found(BGE_REPO)
    fake_hub.not_found(MINILM_REPO)
    project = tmp_path / "project"
    project.mkdir()
    common = ("prefetch", "-p", str(project), "--cache-dir", str(tmp_path / "cache"))

    degraded = run_cli(*common, "--json", env={"HF_ENDPOINT": fake_hub.url})
    failed = run_cli(*common, "--require-model", env={"HF_ENDPOINT": fake_hub.url})

    assert degraded.returncode == 0, degraded.stderr
    assert json.loads(degraded.stdout)["state"] == "degraded"
    assert "DEGRADED" in degraded.stderr
    assert failed.returncode == 1, failed.stderr
    assert "error: no embedding model could be made ready" in failed.stderr
    assert "hint:" in failed.stderr
    status = read_status(project / ".robo-backend" / "status.json")
    assert_status_schema(status)
    assert status["model"]["state"] == "failed"


def test_cli_unknown_model_exits_2(tmp_path: Path, run_cli: CliRunner) -> None:
    project = tmp_path / "project"
    project.mkdir()

    done = run_cli("prefetch", "-p", str(project), "--model", "nope/nothing")

    assert done.returncode == 2
    assert "unknown embedding model 'nope/nothing'" in done.stderr
    assert done.stdout == ""
