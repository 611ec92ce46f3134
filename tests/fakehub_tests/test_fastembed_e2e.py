"""Real fastembed downloads the stand-in models from the fake hub and embeds sensibly.

fastembed reads HF_ENDPOINT when huggingface_hub is imported, so it runs in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.fakehub.fixtures import BGE_MODEL, BGE_REPO, MINILM_MODEL, MINILM_REPO
from tests.fakehub.server import FakeHub

EMBED_SCRIPT = r"""
import json, sys
import numpy as np
from fastembed import TextEmbedding

cache_dir, local_only = sys.argv[1], sys.argv[2] == "1"
texts = [
    "humanoid robot balance",
    "The humanoid robot keeps its balance while walking on stairs.",
    "Chop the onions and simmer the tomato sauce for dinner.",
]
result = {}
for name in sys.argv[3:]:
    model = TextEmbedding(model_name=name, cache_dir=cache_dir, local_files_only=local_only)
    query, near, far = (np.asarray(v) for v in model.embed(texts))
    result[name] = {
        "dim": int(query.shape[0]),
        "declared_dim": model.embedding_size,
        "near": float(query @ near),
        "far": float(query @ far),
        "norm": float(np.linalg.norm(query)),
    }
print(json.dumps(result))
"""


def _embed(
    cache: Path, models: list[str], env: dict[str, str], local_only: bool = False
) -> dict[str, dict[str, float]]:
    done = subprocess.run(
        [sys.executable, "-c", EMBED_SCRIPT, str(cache), "1" if local_only else "0", *models],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_fastembed_downloads_both_models_and_similar_texts_are_closer(
    fake_hub: FakeHub, hub_env: dict[str, str], tmp_path: Path
) -> None:
    fake_hub.reset_log()
    result = _embed(tmp_path / "cache", [BGE_MODEL, MINILM_MODEL], hub_env)
    for name in (BGE_MODEL, MINILM_MODEL):
        scores = result[name]
        assert scores["dim"] == scores["declared_dim"] == 384
        assert abs(scores["norm"] - 1.0) < 1e-3  # fastembed normalised it
        assert scores["near"] > scores["far"] + 0.3, scores
    fetched = {r.path.rsplit("/", 1)[-1] for r in fake_hub.requests if r.method == "GET"}
    assert {"model_optimized.onnx", "model.onnx", "tokenizer.json"} <= fetched
    repos_asked = {r.path for r in fake_hub.requests if r.path.startswith("/api/models/")}
    assert any(BGE_REPO in p for p in repos_asked) and any(MINILM_REPO in p for p in repos_asked)


def test_fastembed_loads_from_cache_offline_once_downloaded(
    fake_hub: FakeHub, hub_env: dict[str, str], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    fake_hub.redirect_lfs()  # the ONNX file comes through a CDN-style redirect, as for real
    _embed(cache, [MINILM_MODEL], hub_env)
    assert any(r.path.startswith("/cdn-lfs/") for r in fake_hub.requests)
    fake_hub.refuse_all()  # the hub is gone; only the cache can serve now
    offline = _embed(cache, [MINILM_MODEL], hub_env, local_only=True)
    assert offline[MINILM_MODEL]["near"] > offline[MINILM_MODEL]["far"]
