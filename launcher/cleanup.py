"""clear-cache's core: plan what to delete, show it, then delete it without ever leaving the root.

The plan comes first and is the same object for `--dry-run`, the confirmation prompt, the
deletion and the JSON document, so what a user confirms is exactly what gets deleted. Safety
rules, each one enforced here rather than trusted to the caller:

- a root that is `/`, a drive root, the home folder, the project folder or a parent of either
  is refused (a mistyped `FASTEMBED_CACHE_PATH=~` must not wipe a home folder);
- only direct children of the root are planned, and only the kinds robo-backend, fastembed and
  huggingface_hub create there (`models--*`, `fast-*`, `.locks`, …); anything else is listed as
  skipped, never deleted;
- symlinks are unlinked, never followed (`os.lstat`; `shutil.rmtree` never gets a symlink);
- before each deletion the entry's parent must still resolve to the root (a swapped folder is
  skipped);
- a model whose download lock is held by a live process is skipped and reported.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from launcher.errors import LauncherError, UsageError

SCHEMA = 1
DELETE_RETRIES = 4  # antivirus / indexer locks on Windows (WinError 32) usually clear in < 1 s


class UnsafeRootError(UsageError):
    """The cache root is a folder that must never be emptied (/, home, the project, …)."""


def format_bytes(size: int) -> str:
    """Human size with decimal units, as download tools and `hf cache ls` print them."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # pragma: no cover - unreachable


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


def _is_link(path: Path) -> bool:
    """A symlink, or a Windows junction (which `islink` misses before Python 3.12)."""
    if path.is_symlink():
        return True
    isjunction = getattr(os.path, "isjunction", None)
    return bool(isjunction and isjunction(path))


def _within(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def check_root(root: Path, *, project: Path | None, home: Path | None) -> Path:
    """The root, resolved; UnsafeRootError for a root whose emptying would be a disaster."""
    resolved = Path(os.path.realpath(root))
    why = ""
    if resolved == Path(resolved.anchor) or resolved.parent == resolved:
        why = "it is the root of a drive"
    else:
        for label, place in (("home folder", home), ("project folder", project)):
            if place is None:
                continue
            real = Path(os.path.realpath(place))
            if resolved == real:
                why = f"it is the {label}"
            elif _within(real, resolved):
                why = f"it contains the {label} {real}"
            if why:
                break
    if why:
        raise UnsafeRootError(
            f"refusing to clear the cache root {root}: {why}",
            "Point the cache at a folder used only for models (--cache-dir, "
            "FASTEMBED_CACHE_PATH or ROBO_BACKEND_CACHE_DIR), then run clear-cache again.",
        )
    return resolved


@dataclass
class Entry:
    """One path the plan deletes (or skips), with its size and the reason."""

    path: Path
    bytes: int
    kind: str  # model, legacy, locks, stamp, lock, temp, other
    reason: str
    action: str = "would-delete"  # would-delete, deleted, skipped
    model: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "bytes": self.bytes,
            "kind": self.kind,
            "action": self.action,
            "reason": self.reason,
        }


@dataclass
class Plan:
    """What clear-cache will do: the roots it looked in and one entry per path."""

    root: Path
    entries: list[Entry] = field(default_factory=list)
    roots: list[Path] = field(default_factory=list)
    dry_run: bool = False

    @property
    def to_delete(self) -> list[Entry]:
        return [e for e in self.entries if e.action in {"would-delete", "deleted"}]

    @property
    def skipped(self) -> list[Entry]:
        return [e for e in self.entries if e.action == "skipped"]

    @property
    def planned_bytes(self) -> int:
        return sum(e.bytes for e in self.entries if e.action == "would-delete")

    @property
    def freed_bytes(self) -> int:
        return sum(e.bytes for e in self.entries if e.action == "deleted")

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "dry_run": self.dry_run,
            "root": str(self.root),
            "entries": [e.to_json() for e in self.entries],
            "freed_bytes": self.freed_bytes,
        }


@dataclass(frozen=True)
class Selection:
    """Which entries the user asked for (the flags of clear-cache)."""

    models: tuple[str, ...] = ()  # --model NAME (empty: every model)
    broken: bool = False  # --broken: only partial/corrupt models
    legacy: bool = False  # --legacy: also the old fastembed temp cache
    everything: bool = False  # --all: also stamps, stale lock files, the legacy cache


def _classify(name: str) -> str | None:
    """The kind of a root child robo-backend may delete, or None for foreign entries."""
    if name.startswith("models--"):
        return "model"
    if name.startswith("fast-") or name.startswith("fastembed-"):
        return "model"  # fastembed < 0.3 tarball layout
    if name == ".locks":
        return "locks"
    if (
        name.endswith(".incomplete")
        or name.endswith(".tmp")
        or name.startswith("tmp")
        or name.startswith(".adopt-")
        or name.startswith(".robo-probe-")
    ):
        return "temp"
    return None


@dataclass
class CacheAdapter:
    """The model-cache functions the planner needs (from launcher.models.cache), as a seam.

    `names_for` maps `models--*` folder names to model names, so the lock and the state of
    each folder can be asked about by model name.
    """

    model_folder: Callable[[Path, str], Path]
    inspect_state: Callable[[Path, str], tuple[str, list[str]]]
    lock_holder: Callable[[Path, str], int | None]
    names_for: Callable[[Path, Sequence[str], Collection[str]], dict[str, str]]

    @classmethod
    def default(cls) -> CacheAdapter:
        from launcher.models import cache

        def inspect_state(root: Path, name: str) -> tuple[str, list[str]]:
            state = cache.inspect_model(root, name)
            return state.state, list(state.problems)

        return cls(
            model_folder=cache.model_folder,
            inspect_state=inspect_state,
            lock_holder=cache.lock_holder,
            names_for=_names_for,
        )


def _names_for(root: Path, names: Sequence[str], folders: Collection[str]) -> dict[str, str]:
    """{folder name (lower case): model name} for the `models--*` folders present in `root`.

    The built-in and named models are tried first (cheap); only when a folder is still
    unexplained is fastembed's full model list consulted (it imports fastembed, ~1 s).
    """
    from launcher.models.cache import repo_folder_name
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


def _lock_pid(lock: Path) -> int | None:
    """The pid of a live holder of the file lock at `lock` (-1: held, pid unknown), or None."""
    from filelock import FileLock, Timeout

    probe = FileLock(str(lock), timeout=0)
    try:
        probe.acquire(timeout=0)
    except Timeout:
        try:
            pid = int(Path(str(lock) + ".pid").read_text(encoding="utf-8").split()[0])
        except (OSError, ValueError, IndexError):
            return -1
        return pid
    except OSError:
        return None
    probe.release()
    return None


def _holder_text(pid: int) -> str:
    return "a live process (pid unknown)" if pid < 0 else f"live process {pid}"


def plan_cleanup(
    root: Path,
    selection: Selection,
    *,
    project: Path | None,
    home: Path | None,
    legacy_root: Path | None = None,
    stamp_files: Sequence[Path] = (),
    configured_models: Sequence[str] = (),
    adapter: CacheAdapter | None = None,
) -> Plan:
    """Build the plan; refuses unsafe roots; touches nothing.

    `stamp_files` are the dependency stamps `--all` removes (they live in the project's state
    folder, the one exception to "only inside the cache root").
    """
    cache = adapter or CacheAdapter.default()
    safe_root = check_root(root, project=project, home=home)
    plan = Plan(root=safe_root, roots=[safe_root])
    names = list(dict.fromkeys([*selection.models, *configured_models]))
    _plan_root(plan, safe_root, selection, names, cache, legacy=False)
    include_legacy = selection.legacy or selection.everything
    if include_legacy and legacy_root is not None and os.path.isdir(legacy_root):
        legacy = check_root(legacy_root, project=project, home=home)
        if legacy != safe_root and not _within(safe_root, legacy):
            plan.roots.append(legacy)
            _plan_root(plan, legacy, selection, names, cache, legacy=True)
    if selection.everything and not selection.models and not selection.broken:
        for stamp_file in stamp_files:
            if os.path.lexists(stamp_file):
                plan.entries.append(
                    Entry(
                        Path(stamp_file),
                        tree_size(Path(stamp_file)),
                        "stamp",
                        "dependency stamp: the next `up` reinstalls the dependencies",
                    )
                )
    return plan


def _plan_root(
    plan: Plan,
    root: Path,
    selection: Selection,
    names: Sequence[str],
    cache: CacheAdapter,
    *,
    legacy: bool,
) -> None:
    prefix = "legacy-" if legacy else ""
    try:
        # Locks last: deleting a model takes (and so re-creates) its lock file first.
        children = sorted(os.scandir(root), key=lambda d: (d.name == ".locks", d.name))
    except FileNotFoundError:
        return
    except NotADirectoryError:
        raise UsageError(
            f"the cache root {root} is a file, not a folder",
            "Point --cache-dir / FASTEMBED_CACHE_PATH at a folder.",
        ) from None
    model_dirs = [c.name for c in children if c.name.startswith("models--")]
    folder_names = cache.names_for(root, names, model_dirs) if model_dirs else {}
    wanted = {cache.model_folder(root, name).name.lower() for name in selection.models}
    for child in children:
        path = Path(child.path)
        kind = _classify(child.name)
        if selection.models:
            if child.name.lower() in wanted:
                model = folder_names.get(child.name.lower())
                _plan_model(plan, root, path, model, selection, cache, prefix)
            continue
        if kind is None:
            if not legacy:
                plan.entries.append(
                    Entry(
                        path,
                        tree_size(path),
                        "other",
                        "not created by robo-backend or fastembed: left alone",
                        action="skipped",
                    )
                )
            elif not selection.broken:  # fastembed's own folder: everything in it is its own
                plan.entries.append(Entry(path, tree_size(path), prefix + "other",
                                          "in the old fastembed temp cache"))
            continue
        if kind == "model":
            model = folder_names.get(child.name.lower())
            _plan_model(plan, root, path, model, selection, cache, prefix)
        elif selection.broken:
            continue
        elif kind == "locks":
            if selection.everything:
                _plan_locks(plan, path, prefix)
        else:
            plan.entries.append(
                Entry(path, tree_size(path), prefix + kind,
                      "leftover of an interrupted download or probe")
            )


def _plan_locks(plan: Plan, locks: Path, prefix: str) -> None:
    """`--all`: lock files whose holder has ended are deleted, held ones are reported."""
    if os.path.islink(locks):
        plan.entries.append(Entry(locks, 0, prefix + "lock", "symlinked lock folder"))
        return
    for folder, dirs, files in os.walk(locks, followlinks=False):
        links = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
        for name in sorted(files) + sorted(links):
            path = Path(folder, name)
            if name.endswith(".pid") and os.path.lexists(path.with_suffix("")):
                continue  # goes (or stays) with its lock
            pid = _lock_pid(path) if name.endswith(".lock") and not path.is_symlink() else None
            if pid is not None:
                plan.entries.append(Entry(path, 0, prefix + "lock",
                                          f"held by {_holder_text(pid)}", action="skipped"))
                continue
            plan.entries.append(Entry(path, tree_size(path), prefix + "lock",
                                      "lock file of a process that has ended"))
            sidecar = Path(str(path) + ".pid")
            if name.endswith(".lock") and os.path.lexists(sidecar):
                plan.entries.append(Entry(sidecar, tree_size(sidecar), prefix + "lock",
                                          "pid file of that lock"))


def _plan_model(
    plan: Plan,
    root: Path,
    path: Path,
    model: str | None,
    selection: Selection,
    cache: CacheAdapter,
    prefix: str,
) -> None:
    label = model or path.name
    kind = prefix + "model"
    if model is not None:
        holder = cache.lock_holder(root, model)
        if holder is not None:
            plan.entries.append(
                Entry(path, tree_size(path), kind,
                      f"{label}: download lock held by {_holder_text(holder)}",
                      action="skipped", model=model)
            )
            return
    if selection.broken:
        if model is None:
            plan.entries.append(
                Entry(path, tree_size(path), kind,
                      f"{label}: not a known model, so its state cannot be checked",
                      action="skipped")
            )
            return
        state, problems = cache.inspect_state(root, model)
        if state not in {"partial", "corrupt"}:
            return
        why = f"{label} is {state}" + (f": {problems[0]}" if problems else "")
        plan.entries.append(Entry(path, tree_size(path), kind, why, model=model))
        return
    where = "in the old fastembed temp cache" if prefix else "cached"
    plan.entries.append(Entry(path, tree_size(path), kind, f"{label} ({where})", model=model))


def _remove(path: Path) -> None:
    """Delete one entry: a link is unlinked (its target survives), a folder removed in full."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        os.unlink(path)
    elif _is_link(path):  # a Windows junction: rmdir removes the link, not the target
        os.rmdir(path)
    elif stat.S_ISDIR(info.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _remove_with_retries(path: Path, sleep: Callable[[float], None]) -> None:
    for attempt in range(DELETE_RETRIES):
        try:
            _remove(path)
            return
        except FileNotFoundError:
            return
        except PermissionError as exc:  # WinError 32: a scanner holds a file for a moment
            if attempt == DELETE_RETRIES - 1 or not _transient(exc):
                raise
            sleep(0.1 * 3**attempt)


def _transient(exc: OSError) -> bool:
    return os.name == "nt" or exc.errno in {errno.EBUSY, errno.EACCES}


def execute(
    plan: Plan,
    *,
    allowed_extra: Sequence[Path] = (),
    lock: Callable[[Path, str], AbstractContextManager[Any]] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Plan:
    """Delete every planned entry; each entry's action becomes `deleted` or `skipped`.

    An entry is deleted only when its parent still resolves to one of the plan's roots (or it
    is one of `allowed_extra`, the dependency stamps, which live in the project's state dir).
    A model of the main cache root is deleted while holding its download lock (`lock`), so a
    prefetch that started after the plan was made is never cut in half: it is skipped instead.
    Failures are recorded on the entry and the run goes on with the next one.
    """
    roots = list(plan.roots)  # resolved when the plan was made: never re-resolved here
    extras = {Path(os.path.abspath(p)) for p in allowed_extra}
    for entry in plan.entries:
        if entry.action != "would-delete":
            continue
        parent = Path(os.path.realpath(entry.path.parent))
        nested_ok = entry.kind.endswith("lock")  # lock files live below <root>/.locks
        allowed = Path(os.path.abspath(entry.path)) in extras or any(
            parent == root or (nested_ok and _within(parent, root)) for root in roots
        )
        if not allowed:
            entry.action = "skipped"
            entry.reason = f"no longer inside the cache root ({parent}): left alone"
            continue
        guard: AbstractContextManager[Any] = contextlib.nullcontext()
        if lock is not None and entry.model and entry.kind == "model":
            guard = lock(plan.root, entry.model)
        try:
            with guard:
                _remove_with_retries(entry.path, sleep)
        except LauncherError as exc:  # the lock was taken since the plan was made
            entry.action = "skipped"
            entry.reason = f"{entry.model}: {exc.message}"
            continue
        except OSError as exc:
            entry.action = "skipped"
            entry.reason = f"could not delete: {exc.strerror or exc}"
            logger.debug(f"delete {entry.path} failed: {exc!r}")
            continue
        entry.action = "deleted"
    return plan


def model_lock_now(root: Path, name: str) -> AbstractContextManager[Any]:
    """The model's download lock, taken without waiting (a holder means: skip this model)."""
    from launcher.models.cache import model_lock

    return model_lock(root, name, timeout=0)
