"""clear-cache safety: roots that may be emptied, sizes, removal that never follows links."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

from launcher.errors import UsageError

DELETE_RETRIES = 4  # antivirus / indexer locks on Windows (WinError 32) usually clear in < 1 s


class UnsafeRootError(UsageError):
    """The cache root is a folder that must never be emptied (/, home, the project, …)."""


def tree_size(path: Path) -> int:
    """Bytes a deletion of `path` frees: symlinks count as nothing (their targets stay)."""
    try:
        info = os.lstat(path)
    except OSError:
        return 0
    if not stat.S_ISDIR(info.st_mode):
        return info.st_size if stat.S_ISREG(info.st_mode) else 0
    total = 0
    for folder, dirs, files in os.walk(path, followlinks=False, onerror=lambda _exc: None):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            with contextlib.suppress(OSError):
                child = os.lstat(os.path.join(folder, name))
                if stat.S_ISREG(child.st_mode):
                    total += child.st_size
    return total


def is_link(path: Path) -> bool:
    """A symlink, or a Windows junction (which `islink` misses before Python 3.12)."""
    if path.is_symlink():
        return True
    isjunction = getattr(os.path, "isjunction", None)
    return bool(isjunction and isjunction(path))


def _unsafe_reason(resolved: Path, project: Path | None, home: Path | None) -> str:
    if resolved == Path(resolved.anchor) or resolved.parent == resolved:
        return "it is the root of a drive"
    for label, place in (("home folder", home), ("project folder", project)):
        if place is None:
            continue
        real = Path(os.path.realpath(place))
        if resolved == real:
            return f"it is the {label}"
        if real.is_relative_to(resolved):
            return f"it contains the {label} {real}"
    return ""


def check_root(root: Path, *, project: Path | None, home: Path | None) -> Path:
    """The root, resolved; UnsafeRootError for a root whose emptying would be a disaster."""
    resolved = Path(os.path.realpath(root))
    why = _unsafe_reason(resolved, project, home)
    if why:
        raise UnsafeRootError(
            f"refusing to clear the cache root {root}: {why}",
            "Point the cache at a folder used only for models (--cache-dir, "
            "FASTEMBED_CACHE_PATH or ROBO_BACKEND_CACHE_DIR), then run clear-cache again.",
        )
    return resolved


def remove(path: Path) -> None:
    """Delete one entry: a link is unlinked (its target survives), a folder removed in full."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        os.unlink(path)
    elif is_link(path):  # a Windows junction: rmdir removes the link, not the target
        os.rmdir(path)
    elif stat.S_ISDIR(info.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def remove_with_retries(path: Path, sleep: Callable[[float], None]) -> None:
    """`remove`, retried a few times on the transient locks of Windows scanners."""
    for attempt in range(DELETE_RETRIES):
        try:
            remove(path)
            return
        except FileNotFoundError:
            return
        except PermissionError as exc:  # WinError 32: a scanner holds a file for a moment
            if attempt == DELETE_RETRIES - 1 or not _transient(exc):
                raise
            sleep(0.1 * 3**attempt)


def _transient(exc: OSError) -> bool:
    return os.name == "nt" or exc.errno in {errno.EBUSY, errno.EACCES}
