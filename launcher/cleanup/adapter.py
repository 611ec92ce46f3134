"""The model-cache facts clear-cache asks for: which model a folder holds, who holds a lock."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

from launcher.errors import LauncherError


def names_for(root: Path, names: Sequence[str], folders: Collection[str]) -> dict[str, str]:
    """{folder name (lower case): model name} for the `models--*` folders present in `root`.

    The built-in and named models are tried first (cheap); only when a folder is still
    unexplained is fastembed's full model list consulted (it imports fastembed, ~1 s).
    """
    from launcher.models.layout import repo_folder_name
    from launcher.models.registry import BUILTIN, known_models, lookup

    wanted = {f.lower() for f in folders}
    found: dict[str, str] = {}

    def add(candidates: Iterable[str]) -> None:
        for name in candidates:
            with contextlib.suppress(LauncherError):
                folder = repo_folder_name(lookup(name).repo).lower()
                if folder in wanted:
                    found.setdefault(folder, name)

    add([*names, *(spec.name for spec in BUILTIN.values())])
    if wanted - set(found):
        with contextlib.suppress(Exception):
            add(known_models())
    return found


def lock_pid(lock: Path) -> int | None:
    """The pid of a live holder of the file lock at `lock` (-1: held, pid unknown), or None."""
    from filelock import FileLock, Timeout

    from launcher.models.lock import read_pid_file

    probe = FileLock(str(lock), timeout=0)
    try:
        probe.acquire(timeout=0)
    except Timeout:
        pid = read_pid_file(Path(str(lock) + ".pid"))
        return -1 if pid is None else pid
    except OSError:
        return None
    probe.release()
    return None


def holder_text(pid: int) -> str:
    return "a live process (pid unknown)" if pid < 0 else f"live process {pid}"
