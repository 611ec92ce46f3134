"""clear-cache for a project: which cache root its settings name (and why), and the plan for it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from launcher.cleanup.entries import Plan, Selection
from launcher.cleanup.plan import plan_cleanup
from launcher.settings import Settings


@dataclass(frozen=True)
class CacheRoot:
    """The folder clear-cache empties and where that choice came from (a setting's source)."""

    path: Path
    source: str


def cache_root(settings: Settings, env: Mapping[str, str]) -> CacheRoot:
    """The cache folder to clear and where that choice came from.

    A folder the user named (cache_dir, FASTEMBED_CACHE_PATH) is taken as given, never swapped
    for a fallback: clearing a folder they did not name would be a surprise. Without one, the
    same resolution as `up` (platformdirs default, with its fallbacks).
    """
    from launcher.models.location import resolve_cache_dir

    configured = settings.cache_path
    if configured is not None:
        return CacheRoot(_absolute(str(configured)), settings.origin("cache_dir").detail)
    named = env.get("FASTEMBED_CACHE_PATH", "").strip()
    if named:
        return CacheRoot(_absolute(named), "FASTEMBED_CACHE_PATH")
    location = resolve_cache_dir(None, "default", env)
    return CacheRoot(Path(location.path), location.source)


def _absolute(path: str) -> Path:
    return Path(os.path.abspath(Path(path).expanduser()))


def stamp_files(settings: Settings) -> list[Path]:
    """The project's dependency stamp, which `--all` deletes too."""
    from launcher.deps import STAMP_FILE

    return [settings.state_path / STAMP_FILE]


def plan_for_project(
    settings: Settings, env: Mapping[str, str], selection: Selection, *, dry_run: bool
) -> tuple[Plan, CacheRoot]:
    """The plan for the project's cache root (and the old temp cache when selected)."""
    from launcher.models.location import legacy_cache_dir

    root = cache_root(settings, env)
    plan = plan_cleanup(
        root.path,
        selection,
        project=settings.project,
        home=Path.home(),
        legacy_root=legacy_cache_dir(),
        stamp_files=stamp_files(settings),
        configured_models=[m for m in (settings.model, settings.fallback_model) if m],
    )
    plan.dry_run = dry_run
    return plan, root
