"""File operations: renames and deletes that survive Windows locks, atomic writes, state-file reads.

State files are read as untrusted input: they may be anything by now.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
import stat
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _debug(text: str) -> None:
    """A debug line; loguru is imported on use, so the early start can read state files
    without paying for it."""
    from loguru import logger

    logger.debug(text)


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
                _debug(f"{what} failed ({exc}); retrying in {delay:.2f} s")
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


def clear_empty_dir(path: Path) -> None:
    """An empty folder in the place of a file we are about to write is removed (nothing is lost);
    anything else there is left for the write to replace or to fail on."""
    if os.path.isdir(path) and not os.path.islink(path):
        with contextlib.suppress(OSError):
            os.rmdir(path)
            _debug(f"removed the empty folder {path} where a file belongs")


def atomic_write_text(path: Path, text: str, ops: FileOps = DEFAULT_FILE_OPS) -> None:
    """Write `text` (UTF-8, `\\n` line ends) to a temp file next to `path`, fsync it, then
    rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    clear_empty_dir(path)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temp, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        ops.move(temp, path)
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()


def write_problem(path: Path, exc: OSError, what: str = "") -> tuple[str, str]:
    """Why a file of ours (`what`, e.g. "the status file") could not be written at `path`, and
    what to do: (message, hint)."""
    if os.path.isdir(path) and not os.path.islink(path):
        return (
            f"{path} is a folder, where robo-backend keeps a file of its own",
            "Move that folder away (or delete it) and run the command again.",
        )
    reason = exc.strerror or str(exc)
    path_text = f"{what} {path}" if what else str(path)
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return (
            f"cannot write {path_text}: {reason} (the disk is full)",
            "Free some space on that drive, or move the state folder (state_dir in "
            "[tool.robo-backend] or ROBO_BACKEND_STATE_DIR); `robo-backend doctor` checks it.",
        )
    return (
        f"cannot write {path_text}: {reason}",
        "Make that folder writable (or move the state folder: state_dir in [tool.robo-backend] "
        "or ROBO_BACKEND_STATE_DIR), then run the command again.",
    )


def write_state_text(
    path: Path, text: str, ops: FileOps = DEFAULT_FILE_OPS, what: str = ""
) -> None:
    """`atomic_write_text` of a state file; a failure is a StateFileError in plain words (a
    folder in the file's place, no permission, a full disk), never an internal error."""
    from launcher.errors import StateFileError

    try:
        atomic_write_text(path, text, ops)
    except OSError as exc:
        raise StateFileError(*write_problem(path, exc, what)) from None


# ----------------------------------------------------------------------------- state files

STATE_FILE_LIMIT = 4 << 20  # no state file of ours comes near this
STATE_JSON_DEPTH = 32


def read_state_bytes(path: Path, limit: int = STATE_FILE_LIMIT) -> bytes | None:
    """The bytes of a state file we left on disk, or None when it is anything but a regular
    file of at most `limit` bytes (missing, a directory, a FIFO, a device, a symlink, too big).

    Opened non-blocking and without following a final symlink, then `fstat`-checked, so a FIFO
    or a device in a state file's place can never hang a command.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except (OSError, ValueError):
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                return None
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def read_state_text(path: Path, limit: int = STATE_FILE_LIMIT) -> str | None:
    """`read_state_bytes` decoded as strict UTF-8 (a BOM allowed), or None."""
    data = read_state_bytes(path, limit)
    if data is None:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value) or math.isnan(value):
        raise ValueError("a number out of range")
    return value


def _depth(value: Any, limit: int) -> bool:
    """Whether `value` nests at most `limit` containers deep (iteratively: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            if level > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return True


def read_state_json(path: Path, limit: int = STATE_FILE_LIMIT) -> Any:
    """A JSON state file read as untrusted input (see `read_state_bytes`), as strict JSON: the
    parsed value, or None when it is missing or not what we could have written (NaN or
    Infinity, a number out of range, more than STATE_JSON_DEPTH levels). Callers still check
    the schema of what they get."""
    text = read_state_text(path, limit)
    if text is None:
        return None
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError):
        return None
    return value if _depth(value, STATE_JSON_DEPTH) else None


# The values state files hold, checked for the form we write them in.

PID_LIMIT = 1 << 32  # no OS hands out a pid this large
TIME_LIMIT = 1e10  # epoch seconds (the year 2286): a time beyond it is not one we wrote


def state_pid(value: Any) -> int | None:
    """`value` when it is a pid as we write it (a positive integer an OS could hand out)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < PID_LIMIT:
        return None
    return value


def state_time(value: Any) -> float | None:
    """`value` as a float when it is an epoch time as we write it (finite, 0 up to TIME_LIMIT)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and 0 <= value < TIME_LIMIT else None
