"""The model step shared by `up` and `prefetch`: the backend's layout, prefetch, switch check.

Both commands must leave the cache the same way: laid out as the venv's own fastembed names
the models (when the venv exists), in the folder that fastembed opens, and with the model
switch recorded (or refused) against the previous runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from launcher.model_change import ModelSwitch, last_used_model, settle_model
from launcher.models.location import CacheLocation, resolve_cache_dir
from launcher.models.options import PrefetchOptions
from launcher.models.outcome import PrefetchResult


def lay_out_as_backend(
    settings: Any,
    options: PrefetchOptions,
    venv: Path,
    python: Path | None,
    env: Mapping[str, str] | None,
) -> None:
    """Point `options` at the layout and folder the venv's fastembed reads (no-op without a
    venv python or a resolved cache location: the built-in table then decides)."""
    from launcher.fastembed_probe import describe_models, ignored_cache_dir

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
    from launcher.models.prefetch import prefetch

    before = last_used_model(settings.status_file)
    result = prefetch(options, status_file=settings.status_file, environment=environment)
    if result.error() is not None:
        return result, None
    switch = settle_model(
        settings.status_file, result.to_json(), before, allow_switch=settings.allow_model_switch
    )
    return result, switch
