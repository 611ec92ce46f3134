"""A run that resolves to another model than the last one is recorded, warned about, or refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from launcher.errors import ModelError
from launcher.models.statusfile import read_status
from launcher.models.switch import last_switch, last_used_model, settle_model

BGE = "BAAI/bge-small-en-v1.5"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def model(resolved: str | None, state: str = "ready") -> dict[str, object]:
    return {
        "requested": BGE,
        "resolved": resolved,
        "state": state,
        "attempt_count": 1,
        "attempts": [],
        "cache_dir": "/c",
        "path": None,
    }


def test_fallback_then_back_is_recorded_both_ways(tmp_path: Path) -> None:
    status = tmp_path / "status.json"
    assert last_used_model(status) is None
    assert settle_model(status, model(BGE), None) is None
    assert read_status(status)["model"]["changed_from"] is None

    before = last_used_model(status)
    switch = settle_model(status, model(MINILM, "fallback"), before)
    assert switch is not None and (switch.before, switch.now) == (BGE, MINILM)
    assert "Vectors stored with BAAI/bge-small-en-v1.5 do not match" in switch.warning()
    assert read_status(status)["model"]["changed_from"] == BGE
    assert last_switch(status) == switch

    switch = settle_model(status, model(BGE), last_used_model(status))
    assert switch is not None and (switch.before, switch.now) == (MINILM, BGE)
    assert read_status(status)["model"]["changed_from"] == MINILM


def test_a_degraded_run_is_no_switch_and_keeps_the_reference(tmp_path: Path) -> None:
    status = tmp_path / "status.json"
    settle_model(status, model(BGE), None)
    assert settle_model(status, model(None, "degraded"), last_used_model(status)) is None
    assert last_used_model(status) == BGE
    assert last_switch(status) is None


def test_refused_switch_fails_and_keeps_the_model_in_use(tmp_path: Path) -> None:
    status = tmp_path / "status.json"
    settle_model(status, model(BGE), None)
    with pytest.raises(ModelError) as caught:
        settle_model(status, model(MINILM, "fallback"), BGE, allow_switch=False)
    assert caught.value.exit_code == 1
    assert "from BAAI/bge-small-en-v1.5 to sentence-transformers/all-MiniLM-L6-v2" in str(
        caught.value.message
    )
    assert "robo-backend prefetch" in caught.value.hint
    written = json.loads(status.read_text())["model"]
    assert written["state"] == "failed" and written["resolved"] is None
    assert written["refused"] == MINILM
    assert last_used_model(status) == BGE
    # the next run back on bge is no switch at all
    assert settle_model(status, model(BGE), last_used_model(status), allow_switch=False) is None
