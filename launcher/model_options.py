"""The adapter from resolved settings and the environment to the model step's `PrefetchOptions`.

It lives outside `launcher.models` so that package never imports settings or the console:
this module supplies the settings' values, the cache location and the progress display.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from launcher.models.location import CacheLocation, resolve_cache_dir
from launcher.models.options import PrefetchOptions
from launcher.models.registry import DEFAULT_ENDPOINT
from launcher.values import truthy


def configured_cache_dir(settings: Any) -> str | None:
    """The `cache_dir` setting as a path string; a relative path from pyproject.toml is taken
    relative to the project (like `venv`), one from a flag or the environment to the cwd."""
    value = settings.cache_dir
    if value and settings.source("cache_dir") == "pyproject.toml":
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else Path(settings.project) / path)
    return value  # type: ignore[no-any-return]


def settings_cache_dir(settings: Any, env: Mapping[str, str] | None = None) -> CacheLocation:
    """The cache location for resolved settings: `cache_dir` (relative to the project when it
    comes from pyproject.toml) with its source, then the usual fallbacks. Every command that
    needs the cache goes through here, so `up`, `prefetch` and `doctor` always agree."""
    return resolve_cache_dir(configured_cache_dir(settings), settings.source("cache_dir"), env)


def prefetch_options(
    settings: Any,
    env: Mapping[str, str] | None = None,
    cache: CacheLocation | None = None,
    *,
    show_progress: bool = True,
) -> PrefetchOptions:
    """Options from `launcher.settings.Settings` and the environment (`HF_ENDPOINT`,
    `HF_TOKEN`, `HF_HUB_OFFLINE`, `HF_HUB_DISABLE_SYMLINKS`, `FASTEMBED_CACHE_PATH`).

    Pass `cache` when the caller already resolved the location (saves a second probe)."""
    environ = os.environ if env is None else env
    location = cache or settings_cache_dir(settings, environ)
    progress = None
    if show_progress:
        from launcher.progress import model_progress

        progress = model_progress
    return PrefetchOptions(
        model=settings.model,
        fallback_model=settings.fallback_model,
        cache=location,
        retries=settings.retries,
        retry_delay=settings.retry_delay,
        stall_timeout=settings.stall_timeout,
        budget=settings.model_budget,
        offline=bool(settings.offline) or truthy(environ.get("HF_HUB_OFFLINE")),
        require_model=bool(settings.require_model),
        endpoint=environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT,
        token=environ.get("HF_TOKEN") or None,
        symlinks=False if truthy(environ.get("HF_HUB_DISABLE_SYMLINKS")) else None,
        progress=progress,
    )
