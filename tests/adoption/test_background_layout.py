"""The download `up` starts before the install uses the built-in table's spelling; the model
step then lays it out for the backend's own fastembed. With fastembed 0.7.4 (which spells bge
`qdrant/bge-small-en-v1.5-onnx-q`) that means: exactly one download, the folder 0.7.4 opens,
its files hard links of the downloaded ones, and 0.7.4 loading it offline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from launcher.model_step import decide_cache, make_model_ready
from launcher.settings import resolve_settings
from launcher.up.background import BackgroundModel
from tests.adoption.test_fastembed_versions import load_offline
from tests.fakehub.fixtures import BGE_FILE
from tests.fakehub.server import FakeHub

pytestmark = pytest.mark.e2e


def test_one_download_laid_out_as_fastembed_07_opens_it(
    venvs: dict[str, Path], fake_hub: FakeHub, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    (project / ".venv").symlink_to(venvs["0.7"], target_is_directory=True)
    cache = tmp_path / "cache"
    env = {"HF_ENDPOINT": fake_hub.url}
    settings = resolve_settings(project, {"cache_dir": str(cache)}, env)
    choice = decide_cache(settings, env)

    jobs = BackgroundModel()
    jobs.start_download(settings, env, choice.location)  # before the install: built-in spelling
    assert jobs.download is not None
    venv = project / ".venv"
    # after it: the model step as `up` runs it, laid out as the venv's fastembed names the model
    step = make_model_ready(
        settings, env, choice, venv, venv / "bin" / "python", settle=jobs.settle
    )
    result = step.result

    assert result.state == "ready", result.last_error
    gets = [r for r in fake_hub.requests if r.method == "GET" and r.path.endswith(BGE_FILE)]
    assert len(gets) == 1, fake_hub.requests
    opened = cache / "models--qdrant--bge-small-en-v1.5-onnx-q"
    downloaded = cache / "models--Qdrant--bge-small-en-v1.5-onnx-Q"
    assert result.path is not None and Path(result.path).is_relative_to(opened)
    for blob in (downloaded / "blobs").iterdir():
        assert os.path.samefile(blob, opened / "blobs" / blob.name), "a link, not a copy"
    assert result.attempt_count == 1 and result.attempts[0].bytes > 0  # the download's attempt
    loaded = load_offline(venvs["0.7"], cache)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.strip().splitlines()[-1] == "384"
