"""pytest fixtures of the loopback fake Hugging Face hub (a plugin, see tests/conftest.py).

- `embedding_models` (session): the two standard models (shipped pre-built), as
  {repo_id: {filename: bytes}}.
- `fake_hub` (function): a started `FakeHub` serving both, `HF_ENDPOINT` set to its url via
  monkeypatch; faults cleared and the hub stopped at teardown.
- `hub_env` (function): the env vars a subprocess needs to talk to `fake_hub`.
- `big_model_files` (session): a multi-MB variant of the bge repo for resume/kill tests;
  serve it with `fake_hub.add_repo(BGE_REPO, big_model_files)`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakehub.server import FakeHub
from tests.fakehub.standard import (
    BGE_FILE,
    BGE_MODEL,
    BGE_REPO,
    MINILM_FILE,
    MINILM_MODEL,
    MINILM_REPO,
    STANDARD_DIM,
    STANDARD_MODELS,
    build_standard_models,
    serve_standard_models,
    shipped_models,
)

__all__ = [
    "BGE_FILE",
    "BGE_MODEL",
    "BGE_REPO",
    "BIG_MODEL_PADDING",
    "MINILM_FILE",
    "MINILM_MODEL",
    "MINILM_REPO",
    "STANDARD_DIM",
    "STANDARD_MODELS",
    "build_standard_models",
    "serve_standard_models",
]

BIG_MODEL_PADDING = 4_000_000


@pytest.fixture(scope="session")
def embedding_models() -> dict[str, dict[str, bytes]]:
    """The two standard models (bge and MiniLM repos), as shipped pre-built (the same bytes the
    builder makes: tests/fakehub_tests checks it)."""
    return shipped_models()


@pytest.fixture(scope="session")
def big_model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The bge repo's files with a ~4 MB ONNX file (same model, padded) for resume tests."""
    from tests.fakehub.builder import build_embedding_model

    return build_embedding_model(
        tmp_path_factory.mktemp("fakehub-big"),
        model_file=BGE_FILE,
        dim=STANDARD_DIM,
        padding_bytes=BIG_MODEL_PADDING,
        seed=0,
    )


@pytest.fixture
def fake_hub(
    embedding_models: dict[str, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeHub]:
    """A started fake hub serving the standard models, with HF_ENDPOINT pointing at it."""
    hub = FakeHub().start()
    serve_standard_models(hub, embedding_models)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    try:
        yield hub
    finally:
        hub.stop()
        hub.clear_faults()


@pytest.fixture
def hub_env(fake_hub: FakeHub) -> dict[str, str]:
    """Env vars for a subprocess that must use `fake_hub` (merge into a copy of os.environ)."""
    return {"HF_ENDPOINT": fake_hub.url, "HF_HUB_DISABLE_TELEMETRY": "1"}
