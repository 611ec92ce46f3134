"""Provenance: every cached model's stamp says where it came from (endpoint without
credentials, revision, commit, date), and inspection reports it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from launcher.models.condition import inspect_model
from launcher.models.fetch import prefetch
from launcher.models.provenance import Provenance, current_endpoint
from launcher.models.verified import STAMP_NAME
from tests.fakehub.fixtures import BGE_FILE, BGE_MODEL, BGE_REPO
from tests.fakehub.server import FakeHub
from tests.helpers.cli import CliRunner


def _stamp(cache_root: Path) -> dict:
    state = inspect_model(cache_root, BGE_MODEL)
    assert state.folder is not None
    return json.loads((state.folder / STAMP_NAME).read_text(encoding="utf-8"))


def test_a_download_records_endpoint_revision_commit_and_date(
    fake_hub: FakeHub, make_options, cache_root: Path
) -> None:
    prefetch(make_options())

    state = inspect_model(cache_root, BGE_MODEL)
    assert state.ok and state.source is not None
    assert state.source.how == "download"
    assert state.source.endpoint == fake_hub.url
    assert state.source.revision == "main"
    assert state.source.commit == fake_hub.commit_sha(BGE_REPO)
    assert state.source.fetched_at.endswith("Z") and len(state.source.fetched_at) == 20
    assert state.to_json()["source"]["endpoint"] == fake_hub.url
    assert state.source.describe().startswith(f"from {fake_hub.url}, main @ ")


def test_credentials_never_reach_the_stamp(fake_hub: FakeHub, make_options, cache_root: Path):
    url = fake_hub.url.replace("http://", "http://user:hunter2-token@")

    prefetch(make_options(endpoint=url))

    stamp = _stamp(cache_root)
    assert stamp["source"]["endpoint"] == fake_hub.url.replace("http://", "http://***@")
    assert "hunter2" not in json.dumps(stamp)


def test_a_restamp_after_a_touch_keeps_where_the_model_came_from(
    fake_hub: FakeHub, make_options, cache_root: Path
) -> None:
    prefetch(make_options())
    first = inspect_model(cache_root, BGE_MODEL)
    model_file = Path(str(first.path)) / BGE_FILE
    os.utime(model_file, ns=(1, 1))  # touched: the next check re-hashes and re-stamps

    prefetch(make_options(endpoint="http://other-mirror.invalid"))

    again = inspect_model(cache_root, BGE_MODEL)
    assert again.verified == "stamp" and again.source == first.source


def test_another_endpoint_than_the_current_one_is_recognised() -> None:
    source = Provenance.download("http://u:p@127.0.0.1:8900/", "c" * 40)

    assert source.endpoint == "http://***@127.0.0.1:8900"
    assert not source.other_endpoint("http://127.0.0.1:8900")
    assert source.other_endpoint("https://huggingface.co")
    assert current_endpoint({}) == "https://huggingface.co"
    assert current_endpoint({"HF_ENDPOINT": "HTTP://Mirror.Example/"}) == "http://mirror.example"
    assert not Provenance.unknown("found", None).other_endpoint("https://huggingface.co")


def test_clear_cache_dry_run_says_where_each_model_came_from(
    fake_hub: FakeHub, make_options, cache_root: Path, tmp_path: Path, run_cli: CliRunner
) -> None:
    prefetch(make_options())
    project = tmp_path / "project"
    project.mkdir()

    done = run_cli(
        "clear-cache", "--dry-run", "--json", "-p", str(project),
        "--cache-dir", str(cache_root),
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)["entries"]
    model = next(e for e in entries if e["kind"] == "model")
    assert f"from {fake_hub.url}, main @ " in model["reason"]
