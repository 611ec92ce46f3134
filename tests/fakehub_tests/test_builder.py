"""The stand-in model is a real ONNX model + tokenizer, deterministic, and bag-of-words-like."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from tests.fakehub.builder import build_embedding_model

EXPECTED_FILES = {
    "config.json",
    "model.onnx",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
}


def _run(model_dir: Path, texts: list[str], model_file: str = "model.onnx") -> np.ndarray:
    """Feed the model the way fastembed does: padded batch, attention mask, token types."""
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    encodings = tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    session = ort.InferenceSession(str(model_dir / model_file), providers=["CPUExecutionProvider"])
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    return session.run(None, feed)[0]


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_writes_the_files_fastembed_reads_and_returns_their_bytes(tmp_path: Path) -> None:
    files = build_embedding_model(tmp_path, dim=16)
    assert set(files) == EXPECTED_FILES
    for name, content in files.items():
        assert (tmp_path / name).read_bytes() == content


def test_same_arguments_give_the_same_bytes_and_other_seeds_do_not(tmp_path: Path) -> None:
    first = build_embedding_model(tmp_path / "a", model_file="model_optimized.onnx")
    again = build_embedding_model(tmp_path / "b", model_file="model_optimized.onnx")
    other = build_embedding_model(tmp_path / "c", model_file="model_optimized.onnx", seed=7)

    def digest(files: dict[str, bytes]) -> str:
        return hashlib.sha256(files["model_optimized.onnx"]).hexdigest()

    assert first == again
    assert digest(first) == digest(again)
    assert digest(other) != digest(first)


def test_output_is_a_masked_mean_at_every_position(tmp_path: Path) -> None:
    build_embedding_model(tmp_path, dim=24)
    out = _run(tmp_path, ["humanoid robot balance", "a robot"])
    assert out.shape[0] == 2 and out.shape[2] == 24
    # every position holds the same vector, so CLS pooling == mean pooling
    for row in out:
        assert np.allclose(row, row[0])
    # padding does not leak in: the short text alone gives the same vector as in the batch
    alone = _run(tmp_path, ["a robot"])
    assert np.allclose(alone[0, 0], out[1, 0], atol=1e-6)


def test_texts_sharing_words_are_closer_than_unrelated_ones(tmp_path: Path) -> None:
    build_embedding_model(tmp_path, dim=64)
    query, near, far = _run(
        tmp_path,
        [
            "humanoid robot balance",
            "The humanoid robot keeps its balance on rough terrain.",
            "Chop the onions and simmer the tomato sauce.",
        ],
    )[:, 0]
    assert _cosine(query, near) > _cosine(query, far) + 0.3


def test_tokenizer_lowercases_wraps_in_cls_sep_and_maps_unknown_words(tmp_path: Path) -> None:
    build_embedding_model(tmp_path)
    tokenizer = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    encoding = tokenizer.encode("Humanoid ROBOTS zzyzx")
    assert encoding.tokens == ["[CLS]", "humanoid", "robots", "[UNK]", "[SEP]"]


def test_padding_bytes_grow_the_file_without_changing_the_embeddings(tmp_path: Path) -> None:
    small = build_embedding_model(tmp_path / "small")
    big = build_embedding_model(tmp_path / "big", padding_bytes=2_000_000)
    assert len(big["model.onnx"]) >= len(small["model.onnx"]) + 2_000_000
    texts = ["lidar sensor for the humanoid", "cook pasta"]
    assert np.allclose(_run(tmp_path / "small", texts), _run(tmp_path / "big", texts))


def test_the_shipped_standard_models_are_what_the_builder_makes(tmp_path: Path) -> None:
    """The demo hub serves pre-built files (no onnx needed); they must not drift from the
    builder, or the demo would serve other models than the tests use."""
    from tests.fakehub.standard import build_standard_models, shipped_models

    assert shipped_models() == build_standard_models(tmp_path)
