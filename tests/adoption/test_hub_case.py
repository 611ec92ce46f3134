"""The loopback hub resolves repo ids case-insensitively, as the real Hub does.

fastembed 0.5-0.8 ask for `qdrant/bge-small-en-v1.5-onnx-q`, 0.9 for
`Qdrant/bge-small-en-v1.5-onnx-Q`: both must reach the same repo, and huggingface_hub names the
cache folder after the id exactly as the caller spelled it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import RepositoryNotFoundError

from tests.fakehub.fixtures import BGE_FILE, BGE_REPO
from tests.fakehub.server import FakeHub


def test_any_casing_reaches_the_repo_and_names_the_folder_as_spelled(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    lower = BGE_REPO.lower()
    path = hf_hub_download(lower, BGE_FILE, cache_dir=tmp_path, endpoint=fake_hub.url)
    assert Path(path).read_bytes() == fake_hub.repo_files(BGE_REPO)[BGE_FILE]
    assert (tmp_path / "models--qdrant--bge-small-en-v1.5-onnx-q").is_dir()
    assert not (tmp_path / "models--Qdrant--bge-small-en-v1.5-onnx-Q").exists()
    hf_hub_download(BGE_REPO, "config.json", cache_dir=tmp_path, endpoint=fake_hub.url)
    assert (tmp_path / "models--Qdrant--bge-small-en-v1.5-onnx-Q").is_dir()
    seen = {r.path.split("/resolve/")[0] for r in fake_hub.requests if "/resolve/" in r.path}
    assert seen == {"/" + lower, "/" + BGE_REPO}
    assert all(r.status in (200, 302) for r in fake_hub.requests)


def test_not_found_is_case_insensitive_too(fake_hub: FakeHub, tmp_path: Path) -> None:
    fake_hub.not_found(BGE_REPO)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(BGE_REPO.upper(), BGE_FILE, cache_dir=tmp_path, endpoint=fake_hub.url)
