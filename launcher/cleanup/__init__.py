"""clear-cache's core: plan what to delete, then delete it without ever leaving the root.

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

Where things live: `entries.py` (Selection, Entry, Plan, the Action and Skip enums),
`safety.py` (root checks, sizes, link-safe removal), `adapter.py` (the model-cache seam),
`plan.py` (the planner), `execute.py` (the deletion), `project.py` (a project's cache root).
"""

from __future__ import annotations

from launcher.cleanup.adapter import CacheAdapter
from launcher.cleanup.entries import SCHEMA, Action, Entry, Plan, Selection, Skip, count
from launcher.cleanup.execute import execute, model_lock_now
from launcher.cleanup.for_project import CacheRoot, cache_root, plan_for_project, stamp_files
from launcher.cleanup.plan import classify, plan_cleanup
from launcher.cleanup.safety import DELETE_RETRIES, UnsafeRootError, check_root, tree_size

__all__ = [
    "DELETE_RETRIES",
    "SCHEMA",
    "Action",
    "CacheAdapter",
    "CacheRoot",
    "Entry",
    "Plan",
    "Selection",
    "Skip",
    "UnsafeRootError",
    "cache_root",
    "check_root",
    "classify",
    "count",
    "execute",
    "model_lock_now",
    "plan_cleanup",
    "plan_for_project",
    "stamp_files",
    "tree_size",
]
