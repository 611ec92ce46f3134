"""The two standard stand-in models the loopback hub serves, shipped pre-built.

`tests/fakehub/prebuilt/<repo id>/` holds the files `builder.py` makes for the bge-small and
all-MiniLM-L6-v2 repos (byte for byte: a test rebuilds them and compares), so the hub can serve
them from a plain install: no pytest, no `onnx`, no `tokenizers`, no numpy. Only the standard
library is imported here; the builder is imported only to rebuild.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
# fastembed declares 384 for both models; the stand-ins match so its `embedding_size` is true.
STANDARD_DIM = 384
SHIPPED = Path(__file__).resolve().parent / "prebuilt"


def shipped_models() -> dict[str, dict[str, bytes]]:
    """The pre-built standard repos: {repo_id: {filename: bytes}}."""
    models: dict[str, dict[str, bytes]] = {}
    for repo_id in (repo for repo, _ in STANDARD_MODELS.values()):
        folder = SHIPPED / repo_id
        models[repo_id] = {
            path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*"))
            if path.is_file()
        }
    return models


def build_standard_models(root: Path) -> dict[str, dict[str, bytes]]:
    """Build both standard repos under `root/<repo_id>` (needs the test extras: onnx,
    tokenizers, numpy); {repo_id: {filename: bytes}}."""
    from tests.fakehub.builder import build_embedding_model

    models: dict[str, dict[str, bytes]] = {}
    for seed, (repo_id, model_file) in enumerate(STANDARD_MODELS.values()):
        models[repo_id] = build_embedding_model(
            root / repo_id, model_file=model_file, dim=STANDARD_DIM, seed=seed
        )
    return models


def serve_standard_models(hub: FakeHub, models: dict[str, dict[str, bytes]]) -> None:
    for repo_id, files in models.items():
        hub.add_repo(repo_id, files)
