"""The decision of the backend's hub access (fastembed/offline.py): which fastembed gets
HF_HUB_OFFLINE=1, which must ask the hub, what is said when it cannot, and when the hub is asked
at all (a real request to the loopback hub, only for the releases that need to know)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from launcher.checks.probes import HubAnswer
from launcher.fastembed.offline import (
    asks_hub_first,
    decide,
    hub_access_for,
    hub_state,
    venv_fastembed_version,
)
from tests.fakehub.fixtures import BGE_MODEL, BGE_REPO
from tests.fakehub.server import FakeHub


@pytest.mark.parametrize(
    ("version", "hub_first"),
    [
        ("0.5.1", False),
        ("0.6.0", True),
        ("0.6.1", True),
        ("0.7.0", True),
        ("0.7.3", True),
        ("0.7.3.post1", True),
        ("0.7.4rc1", False),
        ("0.7.4", False),
        ("0.8.1", False),
        ("0.9.1", False),
        ("1.2.0", False),
        (None, False),
        ("not-a-version", False),
    ],
)
def test_which_fastembed_asks_the_hub_before_its_cache(
    version: str | None, hub_first: bool
) -> None:
    assert asks_hub_first(version) is hub_first
    up, down = decide(version, True, model=BGE_MODEL), decide(version, False, model=BGE_MODEL)
    assert up.warning is None
    assert up.apply({"HF_HUB_OFFLINE": "1"}).get("HF_HUB_OFFLINE") == (None if hub_first else "1")
    assert down.apply({}).get("HF_HUB_OFFLINE") == "1"
    assert (down.warning is not None) is hub_first


def test_the_line_before_the_start_names_the_version_why_and_the_fix() -> None:
    access = decide("0.7.3", False, model=BGE_MODEL, why="http://mirror unreachable: refused")
    assert access.warning is not None
    assert access.warning.startswith(
        f"fastembed 0.7.3 in the backend's venv cannot load {BGE_MODEL}"
    )
    assert "(http://mirror unreachable: refused)" in access.warning
    assert "ask the hub before their cache" in access.warning
    assert access.hint.startswith("fastembed 0.7.4 or newer loads the cached model offline")
    assert "\n" not in access.warning + access.hint


def test_no_model_no_warning() -> None:
    """Degraded (no model): nothing to load, offline as before, nothing said."""
    access = decide("0.7.3", False, model=None)
    assert access.offline and access.warning is None


def venv_with(tmp_path: Path, version: str | None) -> Path:
    venv = tmp_path / "venv"
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    (site / "site-packages").mkdir(parents=True)
    if version is not None:
        (site / "site-packages" / f"fastembed-{version}.dist-info").mkdir()
    return venv


def refuse(url: str, timeout: float, token: str | None) -> HubAnswer:
    raise AssertionError(f"the hub must not be asked ({url})")


@pytest.mark.parametrize("version", [None, "0.5.1", "0.7.4", "0.9.1"])
def test_the_hub_is_asked_only_for_a_fastembed_that_needs_it(
    tmp_path: Path, version: str | None
) -> None:
    venv = venv_with(tmp_path, version)
    assert venv_fastembed_version(venv) == version
    access = hub_access_for(venv, BGE_MODEL, {"HF_ENDPOINT": "http://127.0.0.1:9"}, probe=refuse)
    assert access.offline and access.warning is None


def test_the_users_offline_wish_is_kept_without_asking(tmp_path: Path) -> None:
    venv = venv_with(tmp_path, "0.7.3")
    access = hub_access_for(venv, BGE_MODEL, {"HF_HUB_OFFLINE": "1"}, probe=refuse)
    assert access.offline and access.warning is not None
    assert "(HF_HUB_OFFLINE=1 is set)" in access.warning
    setting = hub_access_for(venv, BGE_MODEL, {}, True, probe=refuse)
    assert setting.warning is not None and "(offline mode is on)" in setting.warning


def test_a_hub_first_fastembed_gets_the_hub_while_it_answers(
    tmp_path: Path, fake_hub: FakeHub
) -> None:
    venv = venv_with(tmp_path, "0.6.1")
    env = {"HF_ENDPOINT": fake_hub.url, "HF_HUB_OFFLINE": "0"}
    access = hub_access_for(venv, BGE_MODEL, env)
    assert not access.offline and access.warning is None
    assert "HF_HUB_OFFLINE" not in access.apply(env)
    assert [r.path for r in fake_hub.requests] == [f"/api/models/{BGE_REPO}"]  # model_info's

    fake_hub.refuse_all()
    down = hub_access_for(venv, BGE_MODEL, env)
    assert down.offline and down.warning is not None
    assert f"{fake_hub.url} unreachable" in down.warning


def test_a_mirror_without_the_repo_is_no_hub(fake_hub: FakeHub) -> None:
    fake_hub.not_found("Qdrant/bge-small-en-v1.5-onnx-Q")
    reachable, why = hub_state(BGE_REPO, {"HF_ENDPOINT": fake_hub.url}, offline=False)
    assert not reachable
    assert why == f"{fake_hub.url} answered 404 for {BGE_REPO}"
