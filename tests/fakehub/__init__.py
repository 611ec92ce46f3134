"""A loopback fake Hugging Face hub and tiny real ONNX embedding models (see README.md)."""

from tests.fakehub.builder import build_embedding_model
from tests.fakehub.server import FakeHub, RequestRecord

__all__ = ["FakeHub", "RequestRecord", "build_embedding_model"]
