"""Every fastembed line from 0.5.1 to the newest, in a real venv, loads the prefetched model with
exactly the environment `up` gives the backend (`hub_access_for` + `backend_env`, the calls
`plan_server` makes through up/contract.py), with the loopback hub answering and refusing.

0.5.x and 0.7.4+ load from the cache offline either way. 0.6.0-0.7.3 ask the hub before their
cache: with the hub answering they get no HF_HUB_OFFLINE and load the cached files without a
download; with it refusing, `up` says before the start that they cannot, and why, and they
indeed cannot. The venvs come from conftest.py's `matrix` (few base venvs, one fastembed each).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.fastembed.offline import OFFLINE, HubAccess, hub_access_for
from launcher.fastembed.probe import describe_models
from launcher.fastembed.trial import LoadResult, try_load
from launcher.models.fetch import prefetch
from launcher.models.options import PrefetchOptions
from launcher.up.contract import backend_env
from launcher.venvs import VenvInfo, activated_env
from tests.adoption.conftest import MATRIX
from tests.fakehub.fixtures import BGE_MODEL, serve_standard_models
from tests.fakehub.server import FakeHub
from tests.fakehub.standard import shipped_models

pytestmark = pytest.mark.e2e

HUB_FIRST = ("0.6.1", "0.7.0", "0.7.3")


@pytest.fixture(scope="module")
def hub() -> Iterator[FakeHub]:
    with FakeHub() as fake:
        serve_standard_models(fake, shipped_models())
        yield fake


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("matrix-cache")


def user_env(hub: FakeHub) -> dict[str, str]:
    """The environment `up` is started with: the loopback hub as HF_ENDPOINT, no HF_HUB_OFFLINE."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    environ.update(HF_ENDPOINT=hub.url, HF_HUB_DISABLE_TELEMETRY="1")
    return environ


def lay_out_and_prefetch(venv: Path, hub: FakeHub, cache: Path, state: Path) -> None:
    """`up`'s model step: the model laid out as this venv's fastembed names it, then fetched."""
    specs = describe_models(
        venv, venv / "bin" / "python", [BGE_MODEL], cache=cache, state_dir=state
    )
    options = PrefetchOptions(
        model=BGE_MODEL, fallback_model=None, cache=cache, endpoint=hub.url, described=specs
    )
    result = prefetch(options)
    assert result.state == "ready", result.last_error


def start_as_up(
    venv: Path, hub: FakeHub, cache: Path, folder: Path, access: HubAccess | None = None
) -> tuple[HubAccess, dict[str, str], LoadResult]:
    """The decision and the environment `up` gives the backend, and the model load under it."""
    user = user_env(hub)
    if access is None:
        access = hub_access_for(venv, BGE_MODEL, user)
    python = venv / "bin" / "python"
    env = backend_env(
        activated_env(VenvInfo(venv, python, False, "reused", ""), user),
        cache_dir=cache,
        model=BGE_MODEL,
        status_file=folder / "status.json",
        hub=access,
    )
    return access, env, try_load(python, BGE_MODEL, env, folder)


def downloads(hub: FakeHub) -> list[str]:
    return [r.path for r in hub.requests if "/resolve/" in r.path and r.method == "GET"]


@pytest.mark.parametrize("row", list(MATRIX))
def test_the_prefetched_model_loads_with_the_environment_up_gives(
    row: str, matrix: dict[str, Path], hub: FakeHub, cache: Path, tmp_path: Path
) -> None:
    venv = matrix[row]
    lay_out_and_prefetch(venv, hub, cache, tmp_path / "state")
    hub_first = row in HUB_FIRST

    hub.reset_log()
    access, env, loaded = start_as_up(venv, hub, cache, tmp_path)
    assert loaded.ok, loaded.reason()
    assert loaded.fastembed is not None and loaded.fastembed.startswith(row)
    assert loaded.dim == 384
    assert access.warning is None
    assert env.get("HF_HUB_OFFLINE") == (None if hub_first else "1")
    assert downloads(hub) == [], "the prefetched model must load without a download"
    if not hub_first:
        assert hub.requests == [], "an offline load asks the hub nothing"

    hub.refuse_all()
    try:
        access, env, loaded = start_as_up(venv, hub, cache, tmp_path)
    finally:
        hub.clear_faults()
    assert env["HF_HUB_OFFLINE"] == "1"
    if not hub_first:
        assert loaded.ok, loaded.reason()
        assert access.warning is None
        return
    assert not loaded.ok, "a fastembed that asks the hub first cannot load without it"
    assert access.warning is not None
    assert f"fastembed {row} in the backend's venv cannot load {BGE_MODEL}" in access.warning
    assert "unreachable" in access.warning and "ask the hub before their cache" in access.warning
    assert '"fastembed>=0.7.4"' in access.hint


def test_a_blanket_offline_mode_breaks_a_fastembed_that_asks_the_hub_first(
    matrix: dict[str, Path], hub: FakeHub, cache: Path, tmp_path: Path
) -> None:
    """Why HF_HUB_OFFLINE=1 is not set for 0.6.0-0.7.3: with it they fail although the hub
    answers and the model is cached."""
    lay_out_and_prefetch(matrix["0.7.3"], hub, cache, tmp_path / "state")
    _, env, loaded = start_as_up(matrix["0.7.3"], hub, cache, tmp_path, access=OFFLINE)
    assert env["HF_HUB_OFFLINE"] == "1"
    assert not loaded.ok
    assert "offline mode is enabled" in loaded.cause
