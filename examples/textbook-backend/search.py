"""The embedding index: load the model from the local cache only, embed the passages once.

The launcher prefetches the model and starts the backend with HF_HUB_OFFLINE=1; this module
therefore never downloads (`local_files_only=True`). When no model is named, or it cannot be
loaded, the index stays empty and says why: the backend then runs degraded instead of dying.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from passages import PASSAGES, Passage

log = logging.getLogger("uvicorn.error")  # uvicorn's logger: our lines look like its lines


@dataclass
class Hit:
    passage: Passage
    score: float


@dataclass
class SearchIndex:
    """Passages embedded with one model; `reason` says why it is not loaded, when it is not."""

    model_name: str | None = None
    reason: str | None = None
    _model: Any = None
    _vectors: Any = None
    _passages: tuple[Passage, ...] = field(default=PASSAGES)

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SearchIndex:
        """Load ROBO_BACKEND_MODEL from FASTEMBED_CACHE_PATH, or explain why not."""
        environ = os.environ if env is None else env
        name = environ.get("ROBO_BACKEND_MODEL", "").strip()
        if not name:
            launched = "ROBO_BACKEND_STATUS_FILE" in environ
            index = cls(
                reason="no embedding model: robo-backend could not make one ready (see the "
                "status file and `robo-backend doctor`)"
                if launched
                else "no embedding model: ROBO_BACKEND_MODEL is not set (started without "
                "robo-backend; run `robo-backend up` to prefetch one)"
            )
            log.warning(f"running degraded: {index.reason}")
            return index
        cache_dir = environ.get("FASTEMBED_CACHE_PATH") or None
        index = cls(model_name=name)
        started = time.perf_counter()
        try:
            index._load(name, cache_dir)
        except Exception as exc:  # any load failure means degraded, never a crash
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            index._model = None
            index.reason = (
                f"model {name} could not be loaded from the cache "
                f"{cache_dir or '(fastembed default)'}: {first_line}"
            )
            log.warning(f"running degraded: {index.reason}")
            return index
        log.info(
            f"model {name} loaded, {len(index._passages)} passages embedded "
            f"({time.perf_counter() - started:.2f} s)"
        )
        return index

    def _load(self, name: str, cache_dir: str | None) -> None:
        import numpy as np

        if name.startswith(ST_PREFIX):
            model: Any = _SentenceTransformerModel(name[len(ST_PREFIX) :], cache_dir)
        else:
            from fastembed import TextEmbedding

            model = TextEmbedding(model_name=name, cache_dir=cache_dir, local_files_only=True)
        texts = [f"{p.title}. {p.text}" for p in self._passages]
        vectors = np.array(list(model.embed(texts)), dtype=np.float32)
        self._vectors = _normalise(vectors)
        self._model = model

    def search(self, query: str, k: int) -> list[Hit]:
        """The k passages closest to the query (cosine similarity), best first."""
        import numpy as np

        if self._model is None:
            raise RuntimeError(self.reason or "no model loaded")
        query_vector = np.array(list(self._model.query_embed(query))[0], dtype=np.float32)
        scores = self._vectors @ _normalise(query_vector[None, :])[0]
        order = np.argsort(-scores, kind="stable")[:k]
        return [Hit(self._passages[i], float(scores[i])) for i in order]


ST_PREFIX = "sentence-transformers:"
"""robo-backend's name for a model it could only get through the sentence-transformers package
(the last link of its fallback chain, used when the optional extra is installed)."""


class _SentenceTransformerModel:
    """fastembed's `embed`/`query_embed` on top of a sentence-transformers model."""

    def __init__(self, name: str, cache_dir: str | None) -> None:
        from sentence_transformers import SentenceTransformer

        folder = os.path.join(cache_dir, "sentence-transformers") if cache_dir else None
        self._model = SentenceTransformer(name, cache_folder=folder, local_files_only=True)

    def embed(self, texts: list[str]) -> Any:
        return list(self._model.encode(texts))

    def query_embed(self, query: str) -> Any:
        return list(self._model.encode([query]))


def _normalise(vectors: Any) -> Any:
    import numpy as np

    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
