"""Engine details: CDN redirects, the token, status checkpoints, cheap warm path, registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from launcher.errors import UsageError
from launcher.models.fetch import prefetch
from launcher.models.registry import BUILTIN, lookup
from tests.fakehub.fixtures import BGE_FILE, BGE_MODEL, BGE_REPO
from tests.fakehub.server import FakeHub
from tests.models.conftest import REPO_ROOT, hub_requests, read_status, subprocess_env


def test_lfs_files_behind_a_cdn_redirect_download_and_resume(
    fake_hub: FakeHub, big_model_files: dict[str, bytes], make_options, sleeps, cache_root: Path
) -> None:
    fake_hub.add_repo(BGE_REPO, big_model_files)
    fake_hub.redirect_lfs()
    fake_hub.throttle(8_000_000)
    fake_hub.reset_after(1_500_000, path_contains="/cdn-lfs/")

    result = prefetch(make_options(), sleep=sleeps)

    assert result.state == "ready" and result.attempt_count == 2
    cdn = hub_requests(fake_hub, lambda r: r.path.startswith("/cdn-lfs/"), at_least=2)
    assert cdn[-1].range is not None and cdn[-1].status == 206  # Range survives the redirect


def test_the_token_never_reaches_logs_or_the_status_file(
    fake_hub: FakeHub, make_options, sleeps, tmp_path: Path, log_lines: list[str]
) -> None:
    token = "hf_sEcReTtOkEn1234567890"
    fake_hub.fail_requests(1, status=401)

    result = prefetch(make_options(token=token), status_file=tmp_path / "s.json", sleep=sleeps)

    assert result.state == "fallback"  # 401 is permanent for bge; MiniLM then worked
    assert token not in (tmp_path / "s.json").read_text()
    assert not any(token in line for line in log_lines)


def test_status_file_is_written_after_every_attempt(
    fake_hub: FakeHub, make_options, tmp_path: Path
) -> None:
    status_file = tmp_path / "status.json"
    seen: list[dict] = []
    fake_hub.fail_requests(2, status=503)

    def sleep_and_peek(seconds: float) -> None:
        seen.append(read_status(status_file)["model"])

    result = prefetch(make_options(), status_file=status_file, sleep=sleep_and_peek)

    assert [m["attempt_count"] for m in seen] == [1, 2]
    assert all(m["state"] == "failed" and m["resolved"] is None for m in seen)  # not yet ready
    assert read_status(status_file)["model"]["state"] == "ready"
    assert result.attempt_count == 3


def test_status_file_keeps_the_environment_written_by_up(
    fake_hub: FakeHub, make_options, tmp_path: Path
) -> None:
    from launcher.models.statusfile import write_status

    status_file = tmp_path / "status.json"
    environment = {
        "os": "linux",
        "shell": "bash",
        "activation": "posix",
        "venv": "/v",
        "python": "3",
    }
    write_status(status_file, environment=environment)

    prefetch(make_options(), status_file=status_file)

    assert read_status(status_file)["environment"] == environment


def test_warm_check_imports_nothing_heavy(fake_hub: FakeHub, make_options, tmp_path: Path) -> None:
    prefetch(make_options())
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from launcher.models.fetch import PrefetchOptions, prefetch\n"
        "r = prefetch(PrefetchOptions(cache=Path(sys.argv[1]), endpoint='http://127.0.0.1:9',"
        " legacy_dir=Path(sys.argv[2])))\n"
        "heavy = [m for m in ('fastembed', 'onnxruntime', 'huggingface_hub', 'httpx')"
        " if m in sys.modules]\n"
        "print(json.dumps([r.state, heavy]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "cache"), str(tmp_path / "none")],
        env=subprocess_env(tmp_path),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["ready", []]


def test_builtin_models_need_no_fastembed() -> None:
    spec = lookup("baai/BGE-small-en-v1.5")
    assert spec is BUILTIN["baai/bge-small-en-v1.5"]
    assert (spec.repo, spec.model_file, spec.label) == (BGE_REPO, BGE_FILE, "BGE model")
    assert spec.files[0] == BGE_FILE and "tokenizer.json" in spec.files
    minilm = lookup("sentence-transformers/all-MiniLM-L6-v2")
    assert (minilm.repo, minilm.model_file) == ("Qdrant/all-MiniLM-L6-v2-onnx", "model.onnx")
    assert minilm.label == "sentence-transformers/all-MiniLM-L6-v2"


def test_other_models_come_from_fastembeds_list() -> None:
    spec = lookup("BAAI/bge-base-en-v1.5")
    assert spec.repo == "Qdrant/bge-base-en-v1.5-onnx-Q" and spec.label == "BGE model"
    assert spec.size_hint > 0


def test_unknown_model_lists_known_ones() -> None:
    with pytest.raises(UsageError) as caught:
        lookup("acme/not-a-model")
    assert caught.value.exit_code == 2
    assert BGE_MODEL in caught.value.hint
