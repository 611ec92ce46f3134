"""Discovery stays inside the project: a nested project's files are not this project's code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from launcher.discover import discover_app, find_hardwired
from launcher.discover.files import belongs, project_sources
from launcher.errors import ProjectError
from tests.fakehub.server import FakeHub
from tests.helpers.cli import CliRunner

NESTED_BACKEND = (
    "from fastapi import FastAPI\nfrom fastembed import TextEmbedding\n\n"
    "embedder = TextEmbedding(model_name='sentence-transformers/all-MiniLM-L6-v2', "
    'cache_dir="./cache/models")\napp = FastAPI()\n'
)


def workspace(root: Path, marker: str = "requirements.txt") -> Path:
    """A folder that is no backend (notes, a script) with a backend three folders down."""
    (root / "notes.md").parent.mkdir(parents=True, exist_ok=True)
    (root / "notes.md").write_text("# hackathon notes\n", encoding="utf-8")
    (root / "tools.py").write_text("print('helper')\n", encoding="utf-8")
    backend = root / "projects" / "team-3" / "backend"
    backend.mkdir(parents=True)
    (backend / "main.py").write_text(NESTED_BACKEND, encoding="utf-8")
    if marker == ".git":
        (backend / ".git").mkdir()
    else:
        (backend / marker).write_text("fastapi\nfastembed\n", encoding="utf-8")
    return backend


@pytest.mark.parametrize(
    "marker", ["requirements.txt", "requirements-dev.txt", "pyproject.toml", "setup.py", ".git"]
)
def test_a_nested_project_is_not_read(tmp_path: Path, marker: str) -> None:
    backend = workspace(tmp_path, marker)
    assert project_sources(tmp_path) == [tmp_path / "tools.py"]
    assert not belongs(tmp_path, backend / "main.py")
    found = find_hardwired(tmp_path, env={})
    assert found.model is None and found.cache_dir is None
    # from the backend's own folder, it is the project
    inside = find_hardwired(backend, env={})
    assert inside.cache_dir is not None
    assert inside.cache_dir.value == str(backend / "cache" / "models")


def test_the_app_of_a_nested_project_is_not_served_but_pointed_at(tmp_path: Path) -> None:
    workspace(tmp_path / "repo")
    (tmp_path / "repo" / "pyproject.toml").write_text('[project]\nname = "tools"\n')
    with pytest.raises(ProjectError) as caught:
        discover_app(tmp_path / "repo", None)
    assert "projects/team-3/backend" not in caught.value.hint  # three levels: not a -p guess
    assert "main:app" not in caught.value.hint


def test_prefetch_in_a_folder_that_is_no_backend_keeps_to_its_own_cache(
    fake_hub: FakeHub, tmp_path: Path, run_cli: CliRunner
) -> None:
    """The seen failure: `prefetch` in a workspace adopted `cache_dir="./cache/models"` from a
    backend three folders down and wrote a cache there. Now: the default cache, bge, nothing
    written into the nested backend."""
    root = tmp_path / "workspace"
    backend = workspace(root)
    done = run_cli("prefetch", "-p", str(root), "--json", env={"HF_ENDPOINT": fake_hub.url})
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["resolved"] == "BAAI/bge-small-en-v1.5"
    assert not (backend / "cache").exists()
    assert not Path(document["cache_dir"]).is_relative_to(backend)
    assert "team-3" not in done.stderr
