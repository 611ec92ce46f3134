"""clear-cache's deletion: carry out a plan, entry by entry, never outside the plan's roots."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from loguru import logger

from launcher.cleanup.entries import Action, Entry, Plan, Skip
from launcher.cleanup.safety import remove_with_retries
from launcher.errors import LauncherError

LockFactory = Callable[[Path, str], AbstractContextManager[Any]]


def execute(
    plan: Plan,
    *,
    allowed_extra: Sequence[Path] = (),
    lock: LockFactory | None = None,
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
    for entry in plan.pending:
        parent = Path(os.path.realpath(entry.path.parent))
        nested_ok = entry.kind.endswith("lock")  # lock files live below <root>/.locks
        allowed = Path(os.path.abspath(entry.path)) in extras or any(
            parent == root or (nested_ok and parent.is_relative_to(root)) for root in roots
        )
        if not allowed:
            reason = f"no longer inside the cache root ({parent}): left alone"
            entry.skipped_because(Skip.MOVED, reason)
            continue
        _delete(entry, plan.root, lock, sleep)
    return plan


def _delete(
    entry: Entry, root: Path, lock: LockFactory | None, sleep: Callable[[float], None]
) -> None:
    guard: AbstractContextManager[Any] = contextlib.nullcontext()
    if lock is not None and entry.model and entry.kind == "model":
        guard = lock(root, entry.model)
    try:
        with guard:
            remove_with_retries(entry.path, sleep)
    except LauncherError as exc:  # the lock was taken since the plan was made
        entry.skipped_because(Skip.LOCK_HELD, f"{entry.model}: {exc.message}")
        return
    except OSError as exc:
        entry.skipped_because(Skip.DELETE_FAILED, f"could not delete: {exc.strerror or exc}")
        logger.debug(f"delete {entry.path} failed: {exc!r}")
        return
    entry.action = Action.DELETED


def model_lock_now(root: Path, name: str) -> AbstractContextManager[Any]:
    """The model's download lock, taken without waiting (a holder means: skip this model)."""
    from launcher.models.lock import model_lock

    return model_lock(root, name, timeout=0)
