"""A loopback fake Hugging Face hub and tiny real ONNX embedding models (see README.md).

Importing the package imports nothing outside the standard library (the demo hub runs from a
plain install); `build_embedding_model` loads the builder (onnx, tokenizers, numpy) on use.
"""

from __future__ import annotations

from typing import Any

from tests.fakehub.server import FakeHub, RequestRecord

__all__ = ["FakeHub", "RequestRecord", "build_embedding_model"]


def __getattr__(name: str) -> Any:
    if name == "build_embedding_model":
        from tests.fakehub.builder import build_embedding_model

        return build_embedding_model
    raise AttributeError(name)
