"""clear-cache's planner: which children of the cache root to delete or skip, and why."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from launcher.cleanup.adapter import holder_text, lock_pid, names_for
from launcher.cleanup.entries import Entry, Plan, Selection, Skip, skipped
from launcher.cleanup.safety import check_root, tree_size
from launcher.errors import UsageError

_TEMP_SUFFIXES = (".incomplete", ".tmp")
_TEMP_PREFIXES = ("tmp", ".adopt-", ".robo-probe-")


def classify(name: str) -> str | None:
    """The kind of a root child robo-backend may delete, or None for foreign entries."""
    if name.startswith(("models--", "fast-", "fastembed-")):
        return "model"  # fast-*/fastembed-*: the fastembed < 0.3 tarball layout
    if name == ".locks":
        return "locks"
    if name.endswith(_TEMP_SUFFIXES) or name.startswith(_TEMP_PREFIXES):
        return "temp"
    return None


def plan_cleanup(
    root: Path,
    selection: Selection,
    *,
    project: Path | None,
    home: Path | None,
    legacy_root: Path | None = None,
    stamp_files: Sequence[Path] = (),
    configured_models: Sequence[str] = (),
) -> Plan:
    """Build the plan; refuses unsafe roots; touches nothing.

    `stamp_files` are the dependency stamps `--all` removes (they live in the project's state
    folder, the one exception to "only inside the cache root").
    """
    safe_root = check_root(root, project=project, home=home)
    plan = Plan(root=safe_root, roots=[safe_root])
    names = list(dict.fromkeys([*selection.models, *configured_models]))
    _Planner(plan, selection, names).plan_root(safe_root, legacy=False)
    include_legacy = selection.legacy or selection.everything
    if include_legacy and legacy_root is not None and os.path.isdir(legacy_root):
        legacy = check_root(legacy_root, project=project, home=home)
        if legacy != safe_root and not safe_root.is_relative_to(legacy):
            plan.roots.append(legacy)
            _Planner(plan, selection, names).plan_root(legacy, legacy=True)
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


class _Planner:
    """Plans one root (the cache, or the old fastembed temp cache when `legacy`)."""

    def __init__(self, plan: Plan, selection: Selection, names: Sequence[str]) -> None:
        self.plan = plan
        self.selection = selection
        self.names = names
        self.prefix = ""
        self.folder_names: dict[str, str] = {}

    def add(self, entry: Entry) -> None:
        self.plan.entries.append(entry)

    def plan_root(self, root: Path, *, legacy: bool) -> None:
        from launcher.models.layout import model_folder

        self.prefix = "legacy-" if legacy else ""
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
        if model_dirs:
            self.folder_names = names_for(root, self.names, model_dirs)
        wanted = {model_folder(root, name).name.lower() for name in self.selection.models}
        for child in children:
            path = Path(child.path)
            if self.selection.models:
                if child.name.lower() in wanted:
                    self.plan_model(root, path)
                continue
            self.plan_child(root, path, classify(child.name), legacy)

    def plan_child(self, root: Path, path: Path, kind: str | None, legacy: bool) -> None:
        if kind is None:
            self.plan_foreign(path, legacy)
        elif kind == "model":
            self.plan_model(root, path)
        elif self.selection.broken:
            return
        elif kind == "locks":
            if self.selection.everything:
                self.plan_locks(path)
        else:
            reason = "leftover of an interrupted download or probe"
            self.add(Entry(path, tree_size(path), self.prefix + kind, reason))

    def plan_foreign(self, path: Path, legacy: bool) -> None:
        if not legacy:
            reason = "not created by robo-backend or fastembed: left alone"
            self.add(skipped(path, tree_size(path), "other", Skip.FOREIGN, reason))
        elif not self.selection.broken:  # fastembed's own folder: everything in it is its own
            reason = "in the old fastembed temp cache"
            self.add(Entry(path, tree_size(path), self.prefix + "other", reason))

    def plan_locks(self, locks: Path) -> None:
        """`--all`: lock files whose holder has ended are deleted, held ones are reported."""
        kind = self.prefix + "lock"
        if os.path.islink(locks):
            self.add(Entry(locks, 0, kind, "symlinked lock folder"))
            return
        for folder, dirs, files in os.walk(locks, followlinks=False):
            links = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
            for name in sorted(files) + sorted(links):
                self.plan_lock_file(Path(folder, name), kind)

    def plan_lock_file(self, path: Path, kind: str) -> None:
        name = path.name
        if name.endswith(".pid") and os.path.lexists(path.with_suffix("")):
            return  # goes (or stays) with its lock
        pid = lock_pid(path) if name.endswith(".lock") and not path.is_symlink() else None
        if pid is not None:
            reason = f"held by {holder_text(pid)}"
            self.add(skipped(path, 0, kind, Skip.LOCK_HELD, reason))
            return
        self.add(Entry(path, tree_size(path), kind, "lock file of a process that has ended"))
        sidecar = Path(str(path) + ".pid")
        if name.endswith(".lock") and os.path.lexists(sidecar):
            self.add(Entry(sidecar, tree_size(sidecar), kind, "pid file of that lock"))

    def plan_model(self, root: Path, path: Path) -> None:
        from launcher.models.condition import inspect_model
        from launcher.models.lock import lock_holder

        model = self.folder_names.get(path.name.lower())
        label = model or path.name
        kind = self.prefix + "model"
        size = tree_size(path)
        if model is not None:
            holder = lock_holder(root, model)
            if holder is not None:
                reason = f"{label}: download lock held by {holder_text(holder)}"
                self.add(skipped(path, size, kind, Skip.LOCK_HELD, reason, model=model))
                return
        if not self.selection.broken:
            where = "in the old fastembed temp cache" if self.prefix else "cached"
            source = inspect_model(root, model).source if model is not None else None
            where += f"; {source.describe()}" if source else ""
            self.add(Entry(path, size, kind, f"{label}, {where}", model=model))
        elif model is None:
            reason = f"{label}: not a known model, so its state cannot be checked"
            self.add(skipped(path, size, kind, Skip.UNCHECKABLE, reason))
        else:
            state = inspect_model(root, model)
            if state.state in {"partial", "corrupt"}:
                problem = f": {state.problems[0]}" if state.problems else ""
                why = f"{label} is {state.state}{problem}"
                self.add(Entry(path, size, kind, why, model=model))
