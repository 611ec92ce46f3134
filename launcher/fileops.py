"""File operations that survive Windows file locks: atomic writes, retried renames and deletes."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loguru import logger


@dataclass
class FileOps:
    """Renames and deletes that retry on PermissionError (Windows antivirus/indexer locks).

    `replace` is injectable so a test can make it fail N times, the way WinError 32 does.
    """

    replace: Callable[[str | os.PathLike[str], str | os.PathLike[str]], None] = os.replace
    tries: int = 8
    backoff: float = 0.05
    sleep: Callable[[float], None] = time.sleep

    def _retry(self, action: Callable[[], None], what: str) -> None:
        delay = self.backoff
        for attempt in range(1, self.tries + 1):
            try:
                action()
                return
            except PermissionError as exc:
                if attempt == self.tries:
                    raise
                logger.debug(f"{what} failed ({exc}); retrying in {delay:.2f} s")
                self.sleep(delay)
                delay = min(delay * 2, 1.0)

    def move(self, src: Path, dst: Path) -> None:
        """Atomic rename `src` → `dst` (replacing `dst`), retried on PermissionError."""
        self._retry(lambda: self.replace(src, dst), f"rename {src} -> {dst}")

    def unlink(self, path: Path) -> None:
        def action() -> None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

        self._retry(action, f"delete {path}")

    def rmtree(self, path: Path) -> None:
        def action() -> None:
            if path.is_symlink() or path.is_file():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            elif path.exists():
                shutil.rmtree(path)

        self._retry(action, f"delete {path}")


DEFAULT_FILE_OPS = FileOps()


def atomic_write_bytes(path: Path, data: bytes, ops: FileOps = DEFAULT_FILE_OPS) -> None:
    """Write `data` to a temp file next to `path`, fsync it, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        ops.move(temp, path)
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()


def atomic_write_text(path: Path, text: str, ops: FileOps = DEFAULT_FILE_OPS) -> None:
    """`atomic_write_bytes` of UTF-8 text with `\\n` line ends."""
    atomic_write_bytes(path, text.encode("utf-8"), ops)
