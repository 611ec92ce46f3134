"""Disk space for a download: what is still to fetch, what is free, and the advice when short.

A download needs its remaining bytes plus a margin, not twice: finished files are renamed, never
copied.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from launcher.models.failures import DISK, DownloadError
from launcher.models.hub import RemoteModel
from launcher.models.layout import INCOMPLETE_SUFFIX
from launcher.values import format_bytes

DISK_MARGIN = 32 * 1024 * 1024


def disk_free(path: Path) -> int:
    """Free bytes on the drive holding `path` (the one seam tests patch to fake a full disk)."""
    probe = Path(path)
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def existing_bytes(folder: Path, remote: RemoteModel) -> int:
    """Bytes of `remote` already in `folder`'s blobs, complete or partial."""
    blobs = folder / "blobs"
    try:
        names = os.listdir(blobs)
    except OSError:
        return 0
    total = 0
    for rf in remote.files:
        if rf.etag in names:
            with contextlib.suppress(OSError):
                total += min((blobs / rf.etag).stat().st_size, rf.size)
            continue
        partial = 0  # the one-connection partial or the parts of a parallel download
        for name in names:
            if name.startswith(rf.etag) and name.endswith(INCOMPLETE_SUFFIX):
                with contextlib.suppress(OSError):
                    partial += (blobs / name).stat().st_size
        total += min(partial, rf.size)
    return total


def free_space_hint(needed: int, folder: Path) -> str:
    """What to do when the drive is short: what to free, how much, or where else to go."""
    return (
        f"Free at least {format_bytes(needed)} on the drive of {folder.parent} (old downloads: "
        "`robo-backend clear-cache --dry-run` lists them), or point --cache-dir "
        "(ROBO_BACKEND_CACHE_DIR) at a drive with that much room; then run `robo-backend "
        "prefetch`."
    )


def check_free_space(folder: Path, remote: RemoteModel, label: str) -> int:
    """Refuse to start when the drive lacks (bytes still to fetch) + a margin; those bytes.
    A disk that fills up halfway costs the whole download and can break other programs."""
    remaining = max(remote.total - existing_bytes(folder, remote), 0)
    needed = remaining + DISK_MARGIN
    free = disk_free(folder)
    if free < needed:
        raise DownloadError(
            f"not enough free space for {label} in {folder.parent}: need "
            f"{format_bytes(needed)} ({format_bytes(remaining)} to download + "
            f"{format_bytes(DISK_MARGIN)} margin; files are renamed into place, never copied), "
            f"{format_bytes(free)} free",
            DISK,
            hint=free_space_hint(needed - free, folder),
        )
    return remaining
