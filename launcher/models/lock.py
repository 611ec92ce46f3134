"""The per-model download lock (`<root>/.locks/<model folder>.lock`) and who holds it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from launcher.errors import ModelError
from launcher.fileops import (
    atomic_write_text,
    clear_empty_dir,
    read_state_text,
    state_pid,
    write_problem,
)
from launcher.models.layout import repo_folder_name
from launcher.models.registry import lookup

if TYPE_CHECKING:
    from filelock import FileLock

LOCK_DIR = ".locks"
DEFAULT_LOCK_WAIT = 600.0


def lock_path(root: Path, name: str) -> Path:
    """The lock file of model `name` under cache `root`."""
    return root / LOCK_DIR / (repo_folder_name(lookup(name).repo) + ".lock")


def _pid_alive(pid: int) -> bool:
    import psutil  # type: ignore[import-untyped,unused-ignore]

    return pid > 0 and bool(psutil.pid_exists(pid))


def read_pid_file(path: Path) -> int | None:
    """The pid a lock's `.pid` sidecar names, or None when it is not one we could have written
    (untrusted like every state file; only ever shown, never signalled)."""
    text = read_state_text(path, limit=64)
    words = text.split() if text else []
    if len(words) != 1 or not words[0].isascii() or not words[0].isdigit():
        return None
    return state_pid(int(words[0]))


def _pid_file(lock: Path) -> Path:
    return lock.with_name(lock.name + ".pid")


def lock_holder(cache_root: Path, name: str) -> int | None:
    """The pid of a live process holding model `name`'s download lock, or None (-1: held,
    holder unknown). The OS lock is the truth (it dies with its process); the `.pid` sidecar only
    names the holder."""
    from filelock import FileLock, Timeout

    path = lock_path(Path(cache_root), name)
    if not path.exists():
        return None
    probe = FileLock(str(path), timeout=0)
    try:
        probe.acquire(timeout=0)
    except Timeout:
        pid = read_pid_file(_pid_file(path))
        return pid if pid is not None and _pid_alive(pid) else -1
    except OSError:
        return None
    probe.release()
    return None


def _take(lock: FileLock, path: Path, timeout: float) -> bool:
    """Take the OS lock within `timeout` s (False: another holds it); a lock file that cannot be
    opened (a folder in its place, no permission) is a ModelError in plain words."""
    from filelock import Timeout

    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        return False
    except OSError as exc:
        raise ModelError(*write_problem(path, exc)) from None
    return True


@contextlib.contextmanager
def model_lock(
    cache_root: Path,
    name: str,
    *,
    timeout: float = DEFAULT_LOCK_WAIT,
    on_wait: Callable[[int | None], None] | None = None,
) -> Iterator[Path]:
    """Hold model `name`'s per-model lock for the block; a second process waits (calling
    `on_wait(pid)` once) up to `timeout` s, then gets a ModelError."""
    from filelock import FileLock

    path = lock_path(Path(cache_root), name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(*write_problem(path.parent, exc)) from None
    clear_empty_dir(path)
    lock = FileLock(str(path))
    if not _take(lock, path, 0):
        holder = read_pid_file(_pid_file(path))
        if on_wait is not None:
            on_wait(holder if holder is not None and _pid_alive(holder) else None)
        if not _take(lock, path, timeout):
            raise ModelError(
                f"another process (pid {holder or 'unknown'}) has been downloading {name} for "
                f"more than {timeout:.0f} s",
                f"Wait for it to finish, or stop it; the lock is {path}.",
            )
    try:
        with contextlib.suppress(OSError):
            atomic_write_text(_pid_file(path), f"{os.getpid()}\n")
        yield path
    finally:
        with contextlib.suppress(OSError):
            if read_pid_file(_pid_file(path)) == os.getpid():
                _pid_file(path).unlink()
        lock.release()
