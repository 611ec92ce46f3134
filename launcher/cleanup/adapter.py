"""The model-cache facts clear-cache asks for (state, lock holder, folder names), as a seam."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from launcher.errors import LauncherError


@dataclass
class CacheAdapter:
    """The model-cache functions the planner needs (from launcher.models), as a seam.

    `names_for` maps `models--*` folder names to model names, so the lock and the state of
    each folder can be asked about by model name.
    """

    model_folder: Callable[[Path, str], Path]
    inspect_state: Callable[[Path, str], tuple[str, list[str]]]
    lock_holder: Callable[[Path, str], int | None]
    names_for: Callable[[Path, Sequence[str], Collection[str]], dict[str, str]]
    # where a cached model came from, for people ("from https://…, main @ …, date"), or None
    origin: Callable[[Path, str], str | None] = lambda root, name: None

    @classmethod
    def default(cls) -> CacheAdapter:
        from launcher.models.condition import inspect_model
        from launcher.models.layout import model_folder
        from launcher.models.lock import lock_holder

        def inspect_state(root: Path, name: str) -> tuple[str, list[str]]:
            state = inspect_model(root, name)
            return state.state, [str(problem) for problem in state.problems]

        def origin(root: Path, name: str) -> str | None:
            source = inspect_model(root, name).source
            return source.describe() if source else None

        return cls(
            model_folder=model_folder,
            inspect_state=inspect_state,
            lock_holder=lock_holder,
            names_for=names_for,
            origin=origin,
        )


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
