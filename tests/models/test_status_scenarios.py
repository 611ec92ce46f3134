"""The status file holds to schema 1 after every kind of outcome, and says what happened."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from launcher.models.fetch import prefetch
from tests.fakehub.fixtures import BGE_MODEL, BGE_REPO, MINILM_MODEL, MINILM_REPO
from tests.fakehub.server import FakeHub
from tests.models.conftest import assert_status_schema, read_status


def _download(hub: FakeHub, make: Any) -> dict[str, Any]:
    return {}


def _cache_hit(hub: FakeHub, make: Any) -> dict[str, Any]:
    prefetch(make())
    hub.refuse_all()
    return {}


def _503_once(hub: FakeHub, make: Any) -> dict[str, Any]:
    hub.fail_requests(1, status=503)
    return {}


def _bge_missing(hub: FakeHub, make: Any) -> dict[str, Any]:
    hub.not_found(BGE_REPO)
    return {}


def _both_missing(hub: FakeHub, make: Any) -> dict[str, Any]:
    hub.not_found(BGE_REPO)
    hub.not_found(MINILM_REPO)
    return {}


def _both_missing_required(hub: FakeHub, make: Any) -> dict[str, Any]:
    _both_missing(hub, make)
    return {"require_model": True}


def _offline_empty(hub: FakeHub, make: Any) -> dict[str, Any]:
    return {"offline": True}


def _unreachable(hub: FakeHub, make: Any) -> dict[str, Any]:
    hub.refuse_all()
    return {}


SCENARIOS: dict[str, tuple[Callable[[FakeHub, Any], dict[str, Any]], str, str | None, int]] = {
    # name: (setup, state, resolved, attempt_count); a skipped link of the chain (the
    # sentence-transformers package, not installed here) is no attempt
    "download": (_download, "ready", BGE_MODEL, 1),
    "cache hit": (_cache_hit, "ready", BGE_MODEL, 1),
    "503 then ok": (_503_once, "ready", BGE_MODEL, 2),
    "bge 404": (_bge_missing, "fallback", MINILM_MODEL, 2),
    "both 404": (_both_missing, "degraded", None, 2),
    "both 404, required": (_both_missing_required, "failed", None, 2),
    "offline, empty cache": (_offline_empty, "degraded", None, 2),
    "hub unreachable": (_unreachable, "degraded", None, 2),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_status_file_after(
    scenario: str, fake_hub: FakeHub, make_options, sleeps, tmp_path: Path
) -> None:
    setup, state, resolved, count = SCENARIOS[scenario]
    extra = setup(fake_hub, make_options)
    status_file = tmp_path / "project" / ".robo-backend" / "status.json"

    result = prefetch(make_options(**extra), status_file=status_file, sleep=sleeps)

    document = read_status(status_file)
    assert_status_schema(document)
    model = document["model"]
    assert model == result.to_json()
    assert (model["state"], model["resolved"], model["attempt_count"]) == (state, resolved, count)
    assert model["requested"] == BGE_MODEL
    assert (model["path"] is None) == (resolved is None)
    if resolved is not None:
        assert Path(model["path"]).is_dir() and model["path"].startswith(model["cache_dir"])
    assert model["attempts"][-1]["ok"] == (resolved is not None)
