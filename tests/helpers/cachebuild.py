"""Build model folders in a cache root with huggingface_hub's layout, by hand.

The same layout fastembed and robo-backend's prefetch write (blobs named by their sha256,
snapshot symlinks, refs/main), so `launcher.models.condition.inspect_model` judges it exactly as
it would judge a real download; helpers then break it the ways real caches break.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

from launcher.models.layout import repo_folder_name
from launcher.models.registry import lookup

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def make_model(root: Path, name: str, files: dict[str, bytes]) -> Path:
    """Write `files` (repo path → bytes) as model `name` under `root`; returns its folder."""
    folder = root / repo_folder_name(lookup(name).repo)
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / "main").write_text(COMMIT, encoding="utf-8")
    snapshot = folder / "snapshots" / COMMIT
    for rel, data in files.items():
        digest = hashlib.sha256(data).hexdigest()
        blob = folder / "blobs" / digest
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, link.parent), link)
    return folder


def model_file(root: Path, name: str) -> Path:
    """The blob behind the model's ONNX file."""
    spec = lookup(name)
    link = root / repo_folder_name(spec.repo) / "snapshots" / COMMIT / spec.model_file
    return Path(os.path.realpath(link))


def corrupt_model(root: Path, name: str) -> None:
    """Truncate the ONNX blob (fastembed then fails with 'Protobuf parsing failed')."""
    blob = model_file(root, name)
    data = blob.read_bytes()
    blob.write_bytes(data[: len(data) // 2])


def break_model(root: Path, name: str) -> None:
    """Delete the ONNX blob, leaving a dangling symlink (as after a temp cleaner ran)."""
    model_file(root, name).unlink()


def folder_bytes(folder: Path) -> int:
    """Bytes of the regular files under `folder` (symlinks not followed)."""
    total = 0
    for base, _dirs, names in os.walk(folder):
        for name in names:
            path = os.path.join(base, name)
            if not os.path.islink(path):
                total += os.path.getsize(path)
    return total


class LockHolder:
    """A real second process holding model `name`'s download lock (launcher.models.lock)."""

    def __init__(self, root: Path, name: str) -> None:
        code = (
            "import sys, time\n"
            "from pathlib import Path\n"
            "from launcher.models.lock import model_lock\n"
            "with model_lock(Path(sys.argv[1]), sys.argv[2]):\n"
            "    print('locked', flush=True)\n"
            "    sys.stdin.read()\n"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, str(root), name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # bounded: the child prints or dies
        if line.strip() != "locked":
            self.stop()
            raise RuntimeError(f"lock holder did not start: {line!r}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        time.sleep(0)
