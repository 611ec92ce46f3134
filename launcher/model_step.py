"""The model step shared by `up` and `prefetch`, and its adapter from settings: which cache
folder, laid out as the backend's own fastembed names the models, prefetch, switch check.

It lives outside `launcher.models` so that package never imports settings or the console:
this module supplies the settings' values, the cache location and the progress display. Both
commands leave the cache the same way: in the folder the venv's fastembed opens, and with the
model switch recorded (or refused) against the previous runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from launcher.models.location import CacheLocation, resolve_cache_dir
from launcher.models.options import PrefetchOptions
from launcher.models.outcome import PrefetchResult
from launcher.models.registry import DEFAULT_ENDPOINT
from launcher.models.switch import ModelSwitch, last_used_model, settle_model
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
        from launcher.ui.progress import model_progress

        progress = model_progress
    return PrefetchOptions(
        model=settings.model,
        fallback_model=settings.fallback_model,
        cache=location,
        retries=settings.retries,
        retry_delay=settings.retry_delay,
        stall_timeout=settings.stall_timeout,
        min_rate=settings.min_download_rate,
        budget=settings.model_budget,
        offline=bool(settings.offline) or truthy(environ.get("HF_HUB_OFFLINE")),
        require_model=bool(settings.require_model),
        endpoint=environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT,
        token=environ.get("HF_TOKEN") or None,
        symlinks=False if truthy(environ.get("HF_HUB_DISABLE_SYMLINKS")) else None,
        progress=progress,
    )


def lay_out_as_backend(
    settings: Any,
    options: PrefetchOptions,
    venv: Path,
    python: Path | None,
    env: Mapping[str, str] | None,
) -> None:
    """Point `options` at the layout and folder the venv's fastembed reads (no-op without a
    venv python or a resolved cache location: the built-in table then decides)."""
    from launcher.fastembed.probe import describe_models, ignored_cache_dir

    if python is None or not isinstance(options.cache, CacheLocation):
        return
    names = [settings.model, settings.fallback_model]
    options.described = describe_models(
        venv, python, names, cache=options.cache.path, state_dir=settings.state_dir, env=env
    )
    elsewhere = ignored_cache_dir(venv, settings.state_dir, names)
    hardwired = settings.source("cache_dir").startswith("code:")  # passed as cache_dir=
    if elsewhere is not None and not hardwired:  # it ignores FASTEMBED_CACHE_PATH
        options.cache = resolve_cache_dir(elsewhere, "the venv's fastembed")


def prefetch_and_settle(
    settings: Any, options: PrefetchOptions, environment: dict[str, Any] | None = None
) -> tuple[PrefetchResult, ModelSwitch | None]:
    """Prefetch, then (when it did not fail) record the model against the previous runs'.

    Raises the ModelError of a refused switch (`allow_model_switch = false`); a failed prefetch
    is returned, not raised, so the caller can still report it."""
    from launcher.models.fetch import prefetch

    before = last_used_model(settings.status_file)
    result = prefetch(options, status_file=settings.status_file, environment=environment)
    if result.error() is not None:
        return result, None
    switch = settle_model(
        settings.status_file, result.to_json(), before, allow_switch=settings.allow_model_switch
    )
    return result, switch
