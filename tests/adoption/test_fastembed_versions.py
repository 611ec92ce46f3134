"""Real fastembed releases (0.5.x and 0.9.x, installed from PyPI with uv) on this
case-sensitive disk: the probe learns each one's spelling, prefetch lays the model out that way,
and that fastembed then loads it offline (HF_HUB_OFFLINE=1) from the loopback hub's model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from launcher.fastembed.probe import describe_models, probe_fastembed, remembered_specs
from launcher.models.fetch import prefetch
from launcher.models.options import PrefetchOptions
from tests.fakehub.fixtures import BGE_MODEL
from tests.fakehub.server import FakeHub
from tests.helpers.cli import CliRunner

pytestmark = pytest.mark.e2e

LOAD = (
    "from fastembed import TextEmbedding\n"
    "m = TextEmbedding('BAAI/bge-small-en-v1.5')\n"
    "print(len(next(iter(m.embed(['a humanoid keeps its balance'])))))\n"
)


def load_offline(venv: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", FASTEMBED_CACHE_PATH=str(cache))
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", LOAD],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_each_fastembed_gets_its_own_spelling_and_loads_offline(
    venvs: dict[str, Path], fake_hub: FakeHub, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    for version, folder in (
        ("0.9", "models--Qdrant--bge-small-en-v1.5-onnx-Q"),
        ("0.5", "models--qdrant--bge-small-en-v1.5-onnx-q"),
    ):
        venv = venvs[version]
        state = tmp_path / f"state-{version}"
        fake_hub.reset_log()
        specs = describe_models(
            venv, venv / "bin" / "python", [BGE_MODEL], cache=cache, state_dir=state
        )
        options = PrefetchOptions(
            model=BGE_MODEL,
            fallback_model=None,
            cache=cache,
            endpoint=fake_hub.url,
            retries=1,
            described=specs,
        )
        result = prefetch(options)
        assert result.state == "ready", result.last_error
        assert (cache / folder).is_dir(), sorted(p.name for p in cache.iterdir())
        downloads = [r for r in fake_hub.requests if "/resolve/" in r.path and r.method == "GET"]
        if version == "0.5":  # the 0.9 folder is copied under 0.5's spelling, not downloaded
            assert downloads == []
            assert result.source == "cache"
        loaded = load_offline(venv, cache)
        assert loaded.returncode == 0, loaded.stderr[-2000:]
        assert loaded.stdout.strip().splitlines()[-1] == "384"

        answer = probe_fastembed(
            venv, venv / "bin" / "python", [BGE_MODEL], cache=tmp_path / "other", state_dir=state
        )
        assert answer.cached, "the second ask must be answered from the remembered file"
        assert answer.follows_env
        kept = remembered_specs(venv, state, [BGE_MODEL])  # doctor's view: no process at all
        assert "models--" + kept[BGE_MODEL.lower()].repo.replace("/", "--") == folder
        assert answer.version is not None and answer.version.startswith(version)


def test_a_venv_without_fastembed_starts_no_probe(tmp_path: Path) -> None:
    venv = tmp_path / "empty"
    (venv / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    answer = probe_fastembed(
        venv, tmp_path / "no-such-python", [BGE_MODEL], cache=tmp_path, state_dir=tmp_path
    )
    assert answer.version is None and answer.models == {}


def test_prefetch_command_uses_the_projects_fastembed_and_hardwired_model(
    venvs: dict[str, Path], fake_hub: FakeHub, tmp_path: Path, run_cli: CliRunner
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    (project / "main.py").write_text(
        "from fastembed import TextEmbedding\n"
        "embedder = TextEmbedding('sentence-transformers/all-MiniLM-L6-v2')\n"
    )
    (project / ".venv").symlink_to(venvs["0.5"], target_is_directory=True)
    cache = tmp_path / "cache"
    done = run_cli(
        "prefetch", "-p", str(project), "--cache-dir", str(cache), "--json",
        env={"HF_ENDPOINT": fake_hub.url}, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["resolved"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert (cache / "models--qdrant--all-MiniLM-L6-v2-onnx").is_dir()
    assert not (cache / "models--Qdrant--all-MiniLM-L6-v2-onnx").exists()


def test_a_fastembed_that_does_not_import_is_asked_once(tmp_path: Path) -> None:
    """A dist-info without a working package (say a broken install): the probe answers "no
    fastembed" (the built-in table serves) and remembers it, so warm starts stay free."""
    venv = tmp_path / "venv"
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    (site / "site-packages" / "fastembed-0.0.1.dist-info").mkdir(parents=True)
    state = tmp_path / "state"
    python = Path(sys.base_prefix) / "bin" / "python3"  # the base interpreter: no fastembed
    first = probe_fastembed(venv, python, [BGE_MODEL], cache=tmp_path, state_dir=state)
    assert first.version is None and not first.cached
    again = probe_fastembed(venv, python, [BGE_MODEL], cache=tmp_path, state_dir=state)
    assert again.version is None and again.cached


def test_doctor_inspects_the_layout_the_backends_fastembed_opens(
    venvs: dict[str, Path], fake_hub: FakeHub, tmp_path: Path
) -> None:
    """A cache laid out for fastembed 0.9 only: for a project on 0.5 (whose answer `up`
    remembered) doctor reports the model as not there, under 0.5's spelling."""
    from launcher.checks import DoctorContext
    from launcher.checks.cache import check_models

    cache = tmp_path / "cache"
    result = prefetch(
        PrefetchOptions(model=BGE_MODEL, fallback_model=None, cache=cache, endpoint=fake_hub.url)
    )
    assert result.state == "ready" and (cache / "models--Qdrant--bge-small-en-v1.5-onnx-Q").is_dir()
    project = tmp_path / "project"
    project.mkdir()
    (project / ".venv").symlink_to(venvs["0.5"], target_is_directory=True)
    venv = project / ".venv"
    names = [BGE_MODEL, "sentence-transformers/all-MiniLM-L6-v2"]
    describe_models(
        venv, venv / "bin" / "python", names, cache=cache, state_dir=project / ".robo-backend"
    )

    context = DoctorContext.build(project, flags={"cache_dir": str(cache)}, env={})
    check = next(c for c in check_models(context) if c.id == f"model:{BGE_MODEL}")
    assert check.details["repo"] == "qdrant/bge-small-en-v1.5-onnx-q"
    assert check.details["state"] == "missing"
    assert check.status != "ok"
