"""clear-cache's core: plan what to delete, then delete it without ever leaving the root.

The plan is the same object for `--dry-run`, the prompt, the deletion and the JSON document, so
what a user confirms is exactly what gets deleted. The safety rules (docs/clear-cache.md) are
enforced here, never trusted to the caller.
"""

from __future__ import annotations

from launcher.cleanup.entries import Action, Entry, Plan, Selection, Skip, count
from launcher.cleanup.execute import execute, model_lock_now
from launcher.cleanup.for_project import CacheRoot, plan_for_project, stamp_files
from launcher.cleanup.plan import plan_cleanup
from launcher.cleanup.safety import UnsafeRootError, check_root, tree_size

__all__ = [
    "Action",
    "CacheRoot",
    "Entry",
    "Plan",
    "Selection",
    "Skip",
    "UnsafeRootError",
    "check_root",
    "count",
    "execute",
    "model_lock_now",
    "plan_cleanup",
    "plan_for_project",
    "stamp_files",
    "tree_size",
]
