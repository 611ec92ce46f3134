"""Reading fastembed's source instead of importing it: for each real release (0.5.1, 0.7.4,
0.9.x from PyPI) the answer read from the installed files equals the answer of the venv's own
python importing fastembed; a source it cannot be sure of (a field that is not a literal, a
cache folder not taken from FASTEMBED_CACHE_PATH, a model it does not list, a model listed twice
with two descriptions) is not read, and the venv's python is asked as before.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from launcher.fastembed.probe import (
    ask_fastembed,
    installed_fastembed,
    probe_fastembed,
    read_from_source,
)
from launcher.fastembed.static import read_source_answer
from tests.adoption.conftest import UV
from tests.fakehub.fixtures import BGE_MODEL

pytestmark = pytest.mark.e2e

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
NAMES = [
    BGE_MODEL,
    MINILM,
    "intfloat/multilingual-e5-large",  # 0.5: its own class; a model.onnx_data next to the model
    "nomic-ai/nomic-embed-text-v1.5",  # a pooled, normalized one
    "Qdrant/clip-ViT-B-32-text",  # CLIP's text half
]
BGE_REPO = {
    "0.5": "qdrant/bge-small-en-v1.5-onnx-q",
    "0.7": "qdrant/bge-small-en-v1.5-onnx-q",
    "0.9": "Qdrant/bge-small-en-v1.5-onnx-Q",
}


@pytest.mark.parametrize("version", ["0.5", "0.7", "0.9"])
def test_the_source_says_what_the_import_says(
    venvs: dict[str, Path], version: str, tmp_path: Path
) -> None:
    venv = venvs[version]
    cache = tmp_path / "cache"
    read = read_from_source(venv, NAMES, cache=cache)
    asked = ask_fastembed(venv, venv / "bin" / "python", NAMES, cache=cache)
    assert read is not None and asked is not None
    assert read.how == "read from its source" and asked.how == "asked"
    assert read.version == asked.version and (read.version or "").startswith(version)
    assert read.cache_dir == asked.cache_dir == cache
    assert read.follows_env and asked.follows_env
    assert sorted(read.models) == sorted(asked.models) == sorted(n.lower() for n in NAMES)
    for key, described in asked.models.items():
        assert read.models[key] == described, key  # repo, model_file, additional_files, size
    bge = read.describe(BGE_MODEL)
    assert bge is not None and bge.repo == BGE_REPO[version]
    assert bge.model_file == "model_optimized.onnx" and bge.size_in_gb == pytest.approx(0.067)
    e5 = read.describe("intfloat/multilingual-e5-large")
    assert e5 is not None and "model.onnx_data" in e5.additional_files


def test_a_cold_probe_reads_the_source_and_starts_no_python(
    venvs: dict[str, Path], tmp_path: Path
) -> None:
    """No interpreter at the given path: the answer can only come from the source files."""
    venv = venvs["0.7"]
    state = tmp_path / "state"
    answer = probe_fastembed(
        venv, tmp_path / "no-python", [BGE_MODEL, MINILM], cache=tmp_path, state_dir=state
    )
    assert answer.version == "0.7.4" and answer.how == "read from its source"
    minilm = answer.describe(MINILM)
    assert minilm is not None and minilm.repo == "qdrant/all-MiniLM-L6-v2-onnx"
    again = probe_fastembed(venv, tmp_path / "no-python", [BGE_MODEL, MINILM], cache=tmp_path,
                            state_dir=state)  # fmt: skip
    assert again.cached and again.models == answer.models  # the read answer is remembered


def test_a_model_that_fastembed_does_not_list_is_asked_about(
    venvs: dict[str, Path], tmp_path: Path
) -> None:
    venv = venvs["0.7"]
    names = [BGE_MODEL, "acme/not-a-fastembed-model"]
    assert read_from_source(venv, names, cache=tmp_path) is None
    answer = probe_fastembed(
        venv, venv / "bin" / "python", names, cache=tmp_path, state_dir=tmp_path / "state"
    )
    assert answer.how == "asked" and answer.version == "0.7.4"
    assert answer.describe("acme/not-a-fastembed-model") is None
    bge = answer.describe(BGE_MODEL)
    assert bge is not None and bge.repo == BGE_REPO["0.7"]


def edited_venv(real: Path, root: Path, edits: dict[str, tuple[str, str]]) -> Path:
    """A real venv (uv) whose site-packages links every entry of `real`'s, except fastembed,
    copied with `edits` ({file under fastembed/: (old, new)}) applied: it still imports."""
    venv = root / "venv"
    subprocess.run([str(UV), "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    real_dist = installed_fastembed(real)
    assert real_dist is not None
    for entry in real_dist.parent.iterdir():
        if entry.name in ("fastembed", real_dist.name):
            shutil.copytree(entry, site / entry.name)
        elif not (site / entry.name).exists():
            os.symlink(entry, site / entry.name)
    for name, (old, new) in edits.items():
        path = site / "fastembed" / name
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} is not in {path} once"
        path.write_text(text.replace(old, new), encoding="utf-8")
    return venv


def test_a_description_that_is_not_a_literal_is_asked_about(
    venvs: dict[str, Path], tmp_path: Path
) -> None:
    venv = edited_venv(
        venvs["0.7"],
        tmp_path,
        {"text/onnx_embedding.py": (
            'hf="qdrant/bge-small-en-v1.5-onnx-q"', 'hf="qdrant/bge-small-en-v1.5-onnx-q".upper()'
        )},
    )  # fmt: skip
    assert read_from_source(venv, [BGE_MODEL], cache=tmp_path) is None
    answer = probe_fastembed(
        venv, venv / "bin" / "python", [BGE_MODEL], cache=tmp_path, state_dir=tmp_path / "state"
    )
    bge = answer.describe(BGE_MODEL)
    assert answer.how == "asked" and bge is not None
    assert bge.repo == "QDRANT/BGE-SMALL-EN-V1.5-ONNX-Q"  # what that fastembed really says


def test_a_cache_folder_not_taken_from_the_environment_is_asked_about(
    venvs: dict[str, Path], tmp_path: Path
) -> None:
    venv = edited_venv(
        venvs["0.7"],
        tmp_path,
        {"common/utils.py": (
            'cache_path = Path(os.getenv("FASTEMBED_CACHE_PATH", default_cache_dir))',
            'cache_path = Path(__file__).parent / "own-cache"',
        )},
    )  # fmt: skip
    ours = tmp_path / "ours"
    assert read_from_source(venv, [BGE_MODEL], cache=ours) is None
    answer = probe_fastembed(
        venv, venv / "bin" / "python", [BGE_MODEL], cache=ours, state_dir=tmp_path / "state"
    )
    assert answer.how == "asked" and not answer.follows_env
    assert answer.cache_dir is not None and answer.cache_dir.name == "own-cache"


def source_copy(real: Path, root: Path) -> Path:
    """fastembed's package and dist-info alone (no venv, nothing importable): the dist-info."""
    dist = installed_fastembed(real)
    assert dist is not None
    site = root / "lib" / "python3" / "site-packages"
    shutil.copytree(dist.parent / "fastembed", site / "fastembed")
    shutil.copytree(dist, site / dist.name)
    return site / dist.name


@pytest.mark.parametrize(
    ("repo", "readable"),
    [("qdrant/bge-small-en-v1.5-onnx-q", True), ("Qdrant/bge-small-en-v1.5-onnx-Q", False)],
)
def test_a_model_listed_twice_is_read_only_when_both_say_the_same(
    venvs: dict[str, Path], tmp_path: Path, repo: str, readable: bool
) -> None:
    dist = source_copy(venvs["0.7"], tmp_path)
    pooled = dist.parent / "fastembed" / "text" / "pooled_embedding.py"
    text = pooled.read_text(encoding="utf-8")
    twin = (
        "    DenseModelDescription(\n"
        f'        model="{BGE_MODEL}", dim=384, description="", license="mit",\n'
        f'        size_in_GB=0.067, sources=ModelSource(hf="{repo}"),\n'
        '        model_file="model_optimized.onnx",\n'
        "    ),\n"
    )
    opening = "supported_pooled_models: list[DenseModelDescription] = [\n"
    assert text.count(opening) == 1
    pooled.write_text(text.replace(opening, opening + twin), encoding="utf-8")
    answer = read_source_answer(dist, [BGE_MODEL], tmp_path)
    if readable:
        assert answer is not None
        assert answer["models"][BGE_MODEL.lower()]["repo"] == repo
    else:
        assert answer is None
