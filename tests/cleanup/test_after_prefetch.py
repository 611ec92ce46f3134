"""doctor and clear-cache on a cache written by the real prefetch from the loopback hub:
the layout they judge is the one users really have (stamps, metadata, `.locks`)."""

from __future__ import annotations

import json
from pathlib import Path

from launcher.models.fetch import PrefetchOptions, prefetch
from launcher.models.layout import repo_folder_name
from launcher.models.location import CacheLocation
from tests.fakehub.fixtures import BGE_MODEL, BGE_REPO, MINILM_MODEL, MINILM_REPO
from tests.fakehub.server import FakeHub
from tests.helpers.cli import CliRunner
from tests.helpers.schemas import CLEAR_CACHE_SCHEMA, validate


def test_prefetched_models_are_ok_then_broken_then_cleared(
    fake_hub: FakeHub, tmp_path: Path, run_cli: CliRunner
) -> None:
    root = tmp_path / "cache"
    for name in (BGE_MODEL, MINILM_MODEL):
        options = PrefetchOptions(
            model=name,
            fallback_model=None,
            cache=CacheLocation(root, "--cache-dir", True),
            endpoint=fake_hub.url,
            retry_delay=0,
            sentence_transformers=False,
            legacy_dir=tmp_path / "no-legacy",
        )
        assert prefetch(options).state == "ready"
    env = {"HF_ENDPOINT": fake_hub.url}
    report = json.loads(run_cli("doctor", "--cache-dir", str(root), "--json", env=env).stdout)
    states = {c["id"]: c for c in report["checks"]}
    assert states[f"model:{BGE_MODEL}"]["status"] == "ok"
    assert states[f"model:{MINILM_MODEL}"]["details"]["state"] == "ok"

    # A temp cleaner deletes MiniLM's ONNX blob: doctor and clear-cache --broken agree.
    snapshot = next((root / repo_folder_name(MINILM_REPO) / "snapshots").iterdir())
    (snapshot / "model.onnx").resolve().unlink()
    report = json.loads(
        run_cli("doctor", "--json", env={**env, "ROBO_BACKEND_CACHE_DIR": str(root)}).stdout
    )
    minilm = next(c for c in report["checks"] if c["id"] == f"model:{MINILM_MODEL}")
    assert minilm["status"] == "warn" and minilm["details"]["state"] == "partial"

    done = run_cli("clear-cache", "--cache-dir", str(root), "--broken", "--yes", "--json")
    data = json.loads(done.stdout)
    validate(data, CLEAR_CACHE_SCHEMA)
    assert [Path(e["path"]).name for e in data["entries"]] == [repo_folder_name(MINILM_REPO)]
    assert (root / repo_folder_name(BGE_REPO)).is_dir()

    data = json.loads(run_cli("clear-cache", "--cache-dir", str(root), "--yes", "--json").stdout)
    assert data["freed_bytes"] > 0
    assert not (root / repo_folder_name(BGE_REPO)).exists()
    assert (root / ".locks").is_dir()  # lock files stay unless --all
