"""Shared helpers for the model tests: options pointing at a tmp cache, log capture, the
environment of a helper subprocess, and fastembed loading what we downloaded (offline, in a
subprocess). The CLI itself runs through the `run_cli` fixture (tests/helpers/cli.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from launcher.models.options import PrefetchOptions
from tests.fakehub.server import FakeHub
from tests.helpers import disks
from tests.helpers.cli import merged_env, temp_folder

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 400 KB filesystem (tmpfs), so writes really fail with ENOSPC; root only."""
    with disks.tiny_disk(tmp_path / "tiny-disk") as mount_point:
        yield mount_point


@pytest.fixture
def cache_root(tmp_path: Path) -> Path:
    root = tmp_path / "cache"
    root.mkdir()
    return root


@pytest.fixture
def make_options(tmp_path: Path, cache_root: Path, fake_hub: FakeHub) -> Any:
    """PrefetchOptions for the fake hub with a private cache and a private (empty) legacy dir."""

    def make(**overrides: Any) -> PrefetchOptions:
        values: dict[str, Any] = {
            "cache": cache_root,
            "endpoint": fake_hub.url,
            "retry_delay": 0.01,
            "stall_timeout": 5.0,
            "legacy_dir": tmp_path / "legacy-temp" / "fastembed_cache",
        }
        values.update(overrides)
        return PrefetchOptions(**values)

    return make


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every loguru message emitted during the test, as plain text."""
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(message.record["message"]), level="DEBUG")
    yield lines
    logger.remove(sink)


class Sleeps(list[float]):
    """A `sleep` that records instead of sleeping: proves retry delays without waiting them."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def subprocess_env(tmp_path: Path, hub_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a process the test talks to while it runs (a launcher it kills, a
    lock holder): the one `run_cli` gives (same temp folder, so fastembed's legacy temp cache
    of this machine is never seen), the fake hub, this checkout importable."""
    env: dict[str, str | None] = {"TMPDIR": str(temp_folder(tmp_path))}
    env.update(PYTHONPATH=str(REPO_ROOT), **extra)
    if hub_url is not None:
        env["HF_ENDPOINT"] = hub_url
    return merged_env(env)


def fastembed_embeds(cache_dir: Path, model: str, tmp_path: Path) -> list[float]:
    """Load `model` from `cache_dir` with real fastembed, offline, in a fresh process (what the
    backend does) and return the first values of one embedding; fails the test otherwise."""
    code = (
        "import json, sys\n"
        "from fastembed import TextEmbedding\n"
        "m = TextEmbedding(sys.argv[1], cache_dir=sys.argv[2], local_files_only=True)\n"
        "v = list(m.embed(['a robot reads a textbook']))[0]\n"
        "print(json.dumps([float(x) for x in v[:4]]))\n"
    )
    env = subprocess_env(tmp_path, None, HF_HUB_OFFLINE="1")
    env.pop("HF_ENDPOINT", None)
    done = subprocess.run(
        [sys.executable, "-c", code, model, str(cache_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def read_status(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def assert_status_schema(document: dict[str, Any]) -> None:
    """The status file contract of docs/status-file.md (schema 1)."""
    assert set(document) == {"schema", "updated_at", "model", "environment"}
    assert document["schema"] == 1
    model = document["model"]
    keys = ["requested", "resolved", "state", "attempt_count", "attempts", "cache_dir", "path"]
    # After the run settled its model (launcher.models.switch), it also says which model the
    # runs so far used and the one it replaced, if any.
    assert list(model) in (keys, [*keys, "changed_from", "last_used"])
    assert model["state"] in {"ready", "fallback", "degraded", "failed"}
    assert model["attempt_count"] == len(model["attempts"])
    for attempt in model["attempts"]:
        assert list(attempt) == ["model", "attempt", "ok", "error", "seconds", "bytes"]
        assert isinstance(attempt["ok"], bool)
        assert (attempt["error"] is None) == attempt["ok"]
        assert isinstance(attempt["bytes"], int) and attempt["bytes"] >= 0


def hub_requests(
    hub: FakeHub, predicate: Any = None, *, at_least: int = 0, timeout: float = 5.0
) -> list[Any]:
    """The hub's request log filtered by `predicate`, waiting (bounded) until `at_least` are in
    (for requests no client has seen answered yet: a stalled one, another process's)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in hub.requests if predicate is None or predicate(r)]
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.02)
