"""Where the cache lives: precedence, write probes, long paths, the legacy temp cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from launcher.models.condition import inspect_model
from launcher.models.fetch import prefetch
from launcher.models.location import default_cache_dir, legacy_cache_dir, resolve_cache_dir
from tests.fakehub.fixtures import BGE_MODEL
from tests.fakehub.server import FakeHub
from tests.models.conftest import REPO_ROOT, fastembed_embeds


def test_default_is_the_persistent_user_cache(tmp_path: Path) -> None:
    # In a subprocess whose temp folder is elsewhere: the test HOME itself lives under /tmp.
    temp = tmp_path / "elsewhere-tmp"
    temp.mkdir()
    code = (
        "import json\n"
        "from launcher.models.location import default_cache_dir, resolve_cache_dir\n"
        "loc = resolve_cache_dir(None, 'default', {})\n"
        "print(json.dumps([loc.to_json(), str(default_cache_dir())]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, TMPDIR=str(temp)),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    location, default = json.loads(done.stdout)

    assert location["path"] == default
    assert location["source"] == "default" and location["persistent"]
    assert location["warnings"] == []
    assert Path(default).is_dir()  # the probe created it
    assert Path(default).parts[-2:] == ("robo-backend", "models")


def test_explicit_setting_beats_fastembed_cache_path(tmp_path: Path) -> None:
    env = {"FASTEMBED_CACHE_PATH": str(tmp_path / "from-env")}

    explicit = resolve_cache_dir(tmp_path / "mine", "--cache-dir", env)
    from_env = resolve_cache_dir(None, "default", env)

    assert (explicit.path, explicit.source) == (tmp_path / "mine", "--cache-dir")
    assert (from_env.path, from_env.source) == (tmp_path / "from-env", "FASTEMBED_CACHE_PATH")


def test_a_file_where_the_folder_should_be_falls_back_with_a_warning(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    location = resolve_cache_dir(blocker / "models", "--cache-dir", {})

    assert location.path == default_cache_dir() and location.source == "default"
    assert any("not writable" in w and "--cache-dir" in w for w in location.warnings)


def test_long_root_warns_about_windows_max_path(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 60) / ("y" * 60)

    location = resolve_cache_dir(deep, "--cache-dir", {})

    assert location.path == deep
    assert any("characters long" in w for w in location.warnings)


def test_temp_root_is_flagged_not_persistent(tmp_path: Path) -> None:
    location = resolve_cache_dir(Path(tempfile.gettempdir()) / "robo-test-cache", "x", {})
    try:
        assert not location.persistent
        assert any("temp folder" in w for w in location.warnings)
    finally:
        shutil.rmtree(location.path, ignore_errors=True)


def test_legacy_cache_dir_is_fastembeds_temp_default() -> None:
    assert legacy_cache_dir() == Path(tempfile.gettempdir()) / "fastembed_cache"


@pytest.mark.skipif(
    shutil.which("setpriv") is None or not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs root and setpriv to drop privileges (chmod does not stop root)",
)
def test_unwritable_candidate_is_skipped_for_real() -> None:
    # pytest's tmp_path is private to root, so the unprivileged user gets a world-readable area.
    area = Path(tempfile.mkdtemp(prefix="robo-unwritable-"))
    try:
        area.chmod(0o755)
        readonly = area / "readonly"  # root's, 0755: nobody cannot write there
        readonly.mkdir(mode=0o755)
        open_dir = area / "open"
        open_dir.mkdir()
        open_dir.chmod(0o777)
        code = (
            "import json, sys\n"
            "from launcher.models.location import resolve_cache_dir\n"
            "loc = resolve_cache_dir(sys.argv[1], '--cache-dir')\n"
            "print(json.dumps(loc.to_json()))\n"
        )
        env = dict(os.environ, FASTEMBED_CACHE_PATH=str(open_dir / "models"), HOME=str(open_dir))
        done = subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                sys.executable,
                "-c",
                code,
                str(readonly / "models"),
            ],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        location = json.loads(done.stdout)
        assert location["path"] == str(open_dir / "models")
        assert location["source"] == "FASTEMBED_CACHE_PATH"
        assert any("not writable" in w and str(readonly) in w for w in location["warnings"])
    finally:
        shutil.rmtree(area, ignore_errors=True)


def test_valid_legacy_temp_cache_is_reused_without_a_download(
    fake_hub: FakeHub, make_options, cache_root: Path, tmp_path: Path, log_lines: list[str]
) -> None:
    legacy = tmp_path / "old-temp" / "fastembed_cache"
    # What fastembed itself leaves in the temp folder: populate it with fastembed (online).
    code = (
        "import sys\n"
        "from fastembed import TextEmbedding\n"
        "TextEmbedding(sys.argv[1], cache_dir=sys.argv[2])\n"
    )
    env = dict(os.environ, HF_ENDPOINT=fake_hub.url, HF_HUB_DISABLE_TELEMETRY="1")
    done = subprocess.run(
        [sys.executable, "-c", code, BGE_MODEL, str(legacy)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    fake_hub.reset_log()

    result = prefetch(make_options(legacy_dir=legacy))

    assert result.state == "ready" and result.source == "legacy-cache"
    assert fake_hub.requests == []  # copied, not downloaded
    assert result.path.startswith(str(cache_root))
    assert any("old temp cache" in line for line in log_lines)
    state = inspect_model(cache_root, BGE_MODEL)
    assert state.ok and state.verified == "stamp"  # stamped after the copy was verified
    assert inspect_model(legacy, BGE_MODEL).ok  # the old copy is left alone
    assert len(fastembed_embeds(cache_root, BGE_MODEL, tmp_path)) == 4


def test_broken_legacy_cache_is_ignored(fake_hub: FakeHub, make_options, tmp_path: Path) -> None:
    legacy = tmp_path / "old-temp" / "fastembed_cache"
    folder = legacy / "models--Qdrant--bge-small-en-v1.5-onnx-Q" / "snapshots" / ("a" * 40)
    folder.mkdir(parents=True)
    (folder / "model_optimized.onnx").symlink_to("../../blobs/" + "b" * 64)  # dangling

    result = prefetch(make_options(legacy_dir=legacy))

    assert result.state == "ready" and result.source == "download"


@pytest.mark.skipif(
    shutil.which("setpriv") is None or not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs root and setpriv to drop privileges (chmod does not stop root)",
)
def test_read_only_cache_with_models_is_used_as_is(fake_hub: FakeHub, make_options) -> None:
    # A baked image layer / read-only mount: filled by root, then used by an unprivileged user.
    area = Path(tempfile.mkdtemp(prefix="robo-readonly-"))
    try:
        area.chmod(0o755)
        baked = area / "baked"
        assert prefetch(make_options(cache=baked)).state == "ready"
        scratch = area / "scratch"
        scratch.mkdir()
        scratch.chmod(0o777)
        before = sorted(str(p) for p in baked.rglob("*"))
        code = (
            "import json, sys\n"
            "from pathlib import Path\n"
            "from launcher.models.location import resolve_cache_dir\n"
            "from launcher.models.fetch import PrefetchOptions, prefetch\n"
            "loc = resolve_cache_dir(sys.argv[1], '--cache-dir')\n"
            "r = prefetch(PrefetchOptions(cache=loc, endpoint='http://127.0.0.1:9',"
            " legacy_dir=Path(sys.argv[2])), status_file=Path(sys.argv[2]) / 'status.json')\n"
            "print(json.dumps([loc.to_json(), r.to_json()]))\n"
        )
        done = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
            + [sys.executable, "-c", code, str(baked), str(scratch)],
            env=dict(os.environ, HOME=str(scratch), XDG_CACHE_HOME=str(scratch / "xdg")),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        location, model = json.loads(done.stdout)
        assert location["path"] == str(baked) and location["writable"] is False
        assert any("read-only" in w for w in location["warnings"])
        assert model["state"] == "ready" and model["path"].startswith(str(baked))
        assert sorted(str(p) for p in baked.rglob("*")) == before  # nothing written there
    finally:
        shutil.rmtree(area, ignore_errors=True)
