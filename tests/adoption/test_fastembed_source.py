"""Reading fastembed's source instead of importing it: for every release the launcher supports
(each fastembed from 0.5.0 to 0.9.1 on PyPI) the answer read from the installed files equals, for
every text model that release lists, the answer of that release imported; a source it cannot be
sure of (a field that is not a literal, a cache folder not taken from FASTEMBED_CACHE_PATH, a
model it does not list, a model listed twice with two descriptions) is not read, and the venv's
python is asked as before; with ROBO_BACKEND_FAST_START=0 it is always asked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from launcher.fastembed.probe import (
    ASK_SCRIPT,
    installed_fastembed,
    probe_fastembed,
    read_from_source,
)
from launcher.fastembed.static import read_source_answer
from launcher.faststart import SWITCH
from tests.adoption.conftest import UV, UV_CACHE
from tests.fakehub.fixtures import BGE_MODEL

pytestmark = pytest.mark.e2e

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
# bge's repo as fastembed spells it: lower-cased up to 0.8.0, as on the hub from 0.8.1 on
BGE_05, BGE_09 = "qdrant/bge-small-en-v1.5-onnx-q", "Qdrant/bge-small-en-v1.5-onnx-Q"
E5 = "intfloat/multilingual-e5-large"  # 0.5: its own class; a model.onnx_data beside the model
# Every release from 0.5 to 0.9. Up to 0.7.3 fastembed wants huggingface_hub < 1: those import
# in the session's 0.5 venv, the later ones in its 0.9 venv (only the package differs).
RELEASES = {
    "0.5": ["0.5.0", "0.5.1", "0.6.0", "0.6.1", "0.7.0", "0.7.1", "0.7.2", "0.7.3"],
    "0.9": ["0.7.4", "0.8.0", "0.8.1", "0.9.0", "0.9.1"],
}

# Run by a venv's python: imports each release in turn (its folder first on sys.path, the one
# before forgotten) and prints, per release, what ask.py says about every model it lists.
ASK_EACH = """
import importlib, json, runpy, sys
ask = runpy.run_path(sys.argv[1])["ask"]
answers = {}
for folder in sys.argv[2:]:
    for name in [m for m in sys.modules if m.split(".")[0] == "fastembed"]:
        del sys.modules[name]
    sys.path.insert(0, folder)
    importlib.invalidate_caches()
    from fastembed import TextEmbedding
    listing = getattr(TextEmbedding, "_list_supported_models", None)
    listed = listing() if listing is not None else TextEmbedding.list_supported_models()
    names = [d["model"] if isinstance(d, dict) else d.model for d in listed]
    answers[folder] = dict(ask(names), file=sys.modules["fastembed"].__file__)
    sys.path.remove(folder)
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def releases(
    venvs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, dict[str, Any]]]:
    """{version: (its dist-info, what it says imported)}: each release installed on its own
    (`uv pip install --target`, no dependencies), asked with FASTEMBED_CACHE_PATH=<root>/cache."""
    root = tmp_path_factory.mktemp("fastembed-releases")
    env = dict(os.environ, UV_CACHE_DIR=UV_CACHE, FASTEMBED_CACHE_PATH=str(root / "cache"))
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    for base, versions in RELEASES.items():
        python = venvs[base] / "bin" / "python"
        folders = [root / version for version in versions]
        for version, folder in zip(versions, folders, strict=True):
            install = [str(UV), "pip", "install", "-q", "--python", str(python), "--no-deps"]
            subprocess.run([*install, "--target", str(folder), f"fastembed=={version}"],
                           env=env, check=True, timeout=300)  # fmt: skip
        argv = [str(python), "-I", "-c", ASK_EACH, str(ASK_SCRIPT), *map(str, folders)]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        answers = json.loads(done.stdout.splitlines()[-1])
        for version, folder in zip(versions, folders, strict=True):
            answer = answers[str(folder)]
            assert answer.pop("file").startswith(str(folder))  # that release, not the venv's
            found[version] = (folder / f"fastembed-{version}.dist-info", answer)
    return found


@pytest.mark.parametrize("version", [v for versions in RELEASES.values() for v in versions])
def test_every_release_reads_as_it_answers_imported(
    releases: dict[str, tuple[Path, dict[str, Any]]], version: str
) -> None:
    dist_info, imported = releases[version]
    cache = Path(imported["cache_dir"])
    names = [described["model"] for described in imported["models"].values()]
    assert imported["fastembed"] == version and imported["error"] is None
    assert len(names) >= 29  # the whole table, not a few models
    read = read_source_answer(dist_info, names, cache)
    assert read == imported  # every model: repo as spelled, files, size; the cache folder
    bge = read["models"][BGE_MODEL.lower()]
    assert bge["repo"] == (BGE_05 if version < "0.8.1" else BGE_09)
    assert bge["model_file"] == "model_optimized.onnx"
    assert "model.onnx_data" in read["models"][E5.lower()]["additional_files"]


def test_the_switch_off_asks_the_venv_even_when_its_source_reads(
    venvs: dict[str, Path], tmp_path: Path
) -> None:
    """ROBO_BACKEND_FAST_START=0: neither the remembered answer nor the source is used."""
    venv, state = venvs["0.7"], tmp_path / "state"
    python = venv / "bin" / "python"
    first = probe_fastembed(venv, python, [BGE_MODEL], cache=tmp_path, state_dir=state)
    assert first.how == "read from its source"
    off = dict(os.environ, **{SWITCH: "0"})
    again = probe_fastembed(venv, python, [BGE_MODEL], cache=tmp_path, state_dir=state, env=off)
    assert again.how == "asked" and not again.cached
    assert again.models == first.models


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
    assert bge is not None and bge.repo == BGE_05


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
