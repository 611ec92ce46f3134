"""A future fastembed that renames its repos again, and opens its own cache folder: no code
change needed. The "future" release is a real package written into a real venv (uv), whose
descriptions spell bge `QDRANT/BGE-SMALL-EN-V1.5-ONNX-Q` and whose `define_cache_dir` ignores
FASTEMBED_CACHE_PATH; the loopback hub resolves that spelling like the real Hub would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from launcher.fastembed.probe import describe_models, ignored_cache_dir, read_from_source
from launcher.models.fetch import prefetch
from launcher.models.options import PrefetchOptions
from tests.fakehub.fixtures import BGE_MODEL
from tests.fakehub.server import FakeHub

UV = Path(sys.executable).parent / "uv"
FUTURE_REPO = "QDRANT/BGE-SMALL-EN-V1.5-ONNX-Q"

FUTURE_INIT = f'''__version__ = "9.0.0"


class _Sources:
    hf = "{FUTURE_REPO}"


class _Description:
    model = "BAAI/bge-small-en-v1.5"
    sources = _Sources()
    model_file = "model_optimized.onnx"
    additional_files = []
    size_in_GB = 0.067


class TextEmbedding:
    @classmethod
    def _list_supported_models(cls):
        return [_Description()]
'''

FUTURE_UTILS = """from pathlib import Path

OWN = Path(__file__).resolve().parents[3] / "future-fastembed-cache"


def define_cache_dir(cache_dir=None):
    path = Path(cache_dir) if cache_dir else OWN
    path.mkdir(parents=True, exist_ok=True)
    return path
"""


@pytest.fixture
def future_venv(tmp_path: Path) -> Path:
    if not UV.is_file():
        pytest.skip("uv is not installed next to the test interpreter")
    venv = tmp_path / "venv"
    subprocess.run([str(UV), "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    package = site / "fastembed"
    (package / "common").mkdir(parents=True)
    (package / "__init__.py").write_text(FUTURE_INIT)
    (package / "common" / "__init__.py").write_text("")
    (package / "common" / "utils.py").write_text(FUTURE_UTILS)
    (site / "fastembed-9.0.0.dist-info").mkdir()
    (site / "fastembed-9.0.0.dist-info" / "METADATA").write_text(
        "Name: fastembed\nVersion: 9.0.0\n"
    )
    return venv


def test_a_renamed_repo_and_its_own_cache_need_no_code_change(
    future_venv: Path, fake_hub: FakeHub, tmp_path: Path
) -> None:
    ours = tmp_path / "our-cache"
    state = tmp_path / "state"
    python = future_venv / "bin" / "python"
    # its source is not laid out as any fastembed so far: not read, its python is asked
    assert read_from_source(future_venv, [BGE_MODEL], cache=ours) is None
    specs = describe_models(future_venv, python, [BGE_MODEL], cache=ours, state_dir=state)
    assert specs[BGE_MODEL.lower()].repo == FUTURE_REPO
    elsewhere = ignored_cache_dir(future_venv, state, [BGE_MODEL])
    assert elsewhere is not None and elsewhere.name == "future-fastembed-cache"

    options = PrefetchOptions(
        model=BGE_MODEL, fallback_model=None, cache=elsewhere, endpoint=fake_hub.url,
        retries=1, described=specs,
    )  # fmt: skip
    result = prefetch(options)
    assert result.state == "ready", result.last_error
    assert (elsewhere / "models--QDRANT--BGE-SMALL-EN-V1.5-ONNX-Q" / "refs" / "main").is_file()
    assert not ours.exists() or not any(ours.iterdir())
    assert os.path.commonpath([result.path or "", str(elsewhere)]) == str(elsewhere)
