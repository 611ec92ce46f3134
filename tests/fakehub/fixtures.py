"""pytest fixtures of the loopback fake Hugging Face hub (a plugin, see tests/conftest.py).

- `embedding_models` (session): the two standard models, built once, as
  {repo_id: {filename: bytes}}.
- `fake_hub` (function): a started `FakeHub` serving both, `HF_ENDPOINT` set to its url via
  monkeypatch; faults cleared and the hub stopped at teardown.
- `hub_env` (function): the env vars a subprocess needs to talk to `fake_hub`.
- `big_model_files` (session): a multi-MB variant of the bge repo for resume/kill tests;
  serve it with `fake_hub.add_repo(BGE_REPO, big_model_files)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakehub.builder import build_embedding_model
from tests.fakehub.server import FakeHub

BGE_MODEL = "BAAI/bge-small-en-v1.5"
BGE_REPO = "Qdrant/bge-small-en-v1.5-onnx-Q"
BGE_FILE = "model_optimized.onnx"
MINILM_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_REPO = "Qdrant/all-MiniLM-L6-v2-onnx"
MINILM_FILE = "model.onnx"

# fastembed model name → (hub repo, ONNX file name): what fastembed 0.9 asks the hub for.
STANDARD_MODELS: dict[str, tuple[str, str]] = {
    BGE_MODEL: (BGE_REPO, BGE_FILE),
    MINILM_MODEL: (MINILM_REPO, MINILM_FILE),
}
BIG_MODEL_PADDING = 4_000_000
# fastembed declares 384 for both models; the stand-ins match so its `embedding_size` is true.
STANDARD_DIM = 384


def build_standard_models(root: Path) -> dict[str, dict[str, bytes]]:
    """Build both standard repos under `root/<repo_id>`; {repo_id: {filename: bytes}}."""
    models: dict[str, dict[str, bytes]] = {}
    for seed, (repo_id, model_file) in enumerate(STANDARD_MODELS.values()):
        models[repo_id] = build_embedding_model(
            root / repo_id, model_file=model_file, dim=STANDARD_DIM, seed=seed
        )
    return models


def serve_standard_models(hub: FakeHub, models: dict[str, dict[str, bytes]]) -> None:
    for repo_id, files in models.items():
        hub.add_repo(repo_id, files)


@pytest.fixture(scope="session")
def embedding_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    """The two standard models (bge and MiniLM repos), built once per session."""
    return build_standard_models(tmp_path_factory.mktemp("fakehub-models"))


@pytest.fixture(scope="session")
def big_model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The bge repo's files with a ~4 MB ONNX file (same model, padded) for resume tests."""
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
