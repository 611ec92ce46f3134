"""The model step of `up` and `prefetch`: one cache folder, models as fastembed names them.

Outside `launcher.models` so that package never imports settings or the console. Both commands
leave the model in the folder the venv's fastembed opens, with the switch recorded or refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from launcher.models.location import CacheLocation, resolve_cache_dir
from launcher.models.options import PrefetchOptions
from launcher.models.outcome import PrefetchResult
from launcher.models.registry import DEFAULT_ENDPOINT
from launcher.models.switch import ModelSwitch, last_used_model, settle_model
from launcher.settings import Settings, Source
from launcher.values import truthy

if TYPE_CHECKING:
    from launcher.models.registry import ModelSpec

# How the model step ends once the options are known: prefetch and record the model against
# the previous runs' (`prefetch_and_settle`), or `up`'s wait for its background download.
Settle = Callable[
    [Settings, PrefetchOptions, "dict[str, Any] | None"], tuple[PrefetchResult, ModelSwitch | None]
]


@dataclass(frozen=True)
class BackendFastembed:
    """What the venv's own fastembed says of the configured models (nothing: no fastembed)."""

    specs: dict[str, ModelSpec]  # as it spells them ({}: the built-in table decides)
    own_cache: Path | None = None  # the folder it opens because it ignores FASTEMBED_CACHE_PATH


@dataclass(frozen=True)
class CacheChoice:
    """The cache folder a command uses, and why."""

    location: CacheLocation
    followed: Path | None  # the venv's fastembed's own folder it follows (None: the settings')
    configured: Path  # the settings' folder: the FASTEMBED_CACHE_PATH that fastembed is given


@dataclass(frozen=True)
class ModelStep:
    """What the model step did: the prefetch's result, the switch it recorded, its cache."""

    result: PrefetchResult
    switch: ModelSwitch | None
    cache: CacheLocation


def asked_fastembed(
    settings: Settings, venv: Path, python: Path | None, env: Mapping[str, str], cache: Path
) -> BackendFastembed:
    """What the venv's fastembed says now: remembered, read from its source, or asked (its
    python runs, given FASTEMBED_CACHE_PATH=`cache`); nothing without a venv python."""
    from launcher.fastembed.probe import describe_models, ignored_cache_dir

    if python is None:
        return BackendFastembed({})
    names, state = (settings.model, settings.fallback_model), settings.state_path
    specs = describe_models(venv, python, names, cache=cache, state_dir=state, env=env)
    return BackendFastembed(specs, ignored_cache_dir(venv, state, names))


def decide_cache(
    settings: Settings, env: Mapping[str, str], fastembed: BackendFastembed | None = None
) -> CacheChoice:
    """The one decision of the cache folder: where the venv's fastembed looks when it ignores
    FASTEMBED_CACHE_PATH (unless the backend's code passes its own `cache_dir=`), else the
    `cache_dir` setting with its origin, then the usual fallbacks (`resolve_cache_dir`).
    `fastembed` is what the venv's fastembed says now; without it, what an earlier run found
    while that answer still holds (files only, never a process: for the pre-flight, `doctor`
    and `prefetch`). `up`, `prefetch` and `doctor` all come through here, so they always agree."""
    from launcher.fastembed.probe import ignored_cache_dir

    if fastembed is None:
        names = (settings.model, settings.fallback_model)
        own_cache = ignored_cache_dir(settings.venv_path, settings.state_path, names)
    else:
        own_cache = fastembed.own_cache
    configured = resolve_cache_dir(settings.cache_path, settings.origin("cache_dir").detail, env)
    if own_cache is None or settings.source("cache_dir") is Source.CODE:
        return CacheChoice(configured, None, configured.path)
    own = resolve_cache_dir(own_cache, "the venv's fastembed", env)
    return CacheChoice(own, own_cache, configured.path)


def prefetch_options(
    settings: Settings,
    env: Mapping[str, str],
    cache: CacheLocation,
    described: dict[str, ModelSpec],
    *,
    download: bool = True,
    show_progress: bool = True,
    starts_backend: bool = True,
) -> PrefetchOptions:
    """Options from the settings and the environment (`HF_ENDPOINT`, `HF_TOKEN`,
    `HF_HUB_OFFLINE`, `HF_HUB_DISABLE_SYMLINKS`); `download=False` uses the cache only;
    `starts_backend=False` for `prefetch`, whose warnings speak of itself, not of `up`."""
    progress = None
    if show_progress:
        from launcher.ui.progress import model_progress

        progress = model_progress
    offline = settings.offline or truthy(env.get("HF_HUB_OFFLINE")) or not download
    return PrefetchOptions(
        model=settings.model,
        fallback_model=settings.fallback_model,
        cache=cache,
        retries=settings.retries,
        retry_delay=settings.retry_delay,
        stall_timeout=settings.stall_timeout,
        min_rate=settings.min_download_rate,
        budget=settings.model_budget,
        offline=offline,
        require_model=settings.require_model,
        endpoint=env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT,
        token=env.get("HF_TOKEN") or None,
        symlinks=False if truthy(env.get("HF_HUB_DISABLE_SYMLINKS")) else None,
        progress=progress,
        described=described,
        starts_backend=starts_backend,
    )


def make_model_ready(
    settings: Settings,
    env: Mapping[str, str],
    cache: CacheChoice,
    venv: Path,
    python: Path | None,
    *,
    download: bool = True,
    environment: dict[str, Any] | None = None,
    recheck: Callable[[CacheLocation], None] | None = None,
    starts_backend: bool = True,
    settle: Settle | None = None,
) -> ModelStep:
    """The model in the folder and layout the venv's fastembed opens, recorded against the
    previous runs. When what that fastembed says now moves the cache (it was installed or
    changed since the answer `cache` followed), the folder is decided again and `recheck`ed
    before anything is written there. `settle` ends the step (default: `prefetch_and_settle`).
    Raises the ModelError of a refused switch; a failed prefetch is returned, not raised, so the
    caller can still report it."""
    fastembed = asked_fastembed(settings, venv, python, env, cache.configured)
    if fastembed.own_cache != cache.followed:
        cache = decide_cache(settings, env, fastembed)
        if recheck is not None:
            recheck(cache.location)
    options = prefetch_options(
        settings,
        env,
        cache.location,
        fastembed.specs,
        download=download,
        starts_backend=starts_backend,
    )
    result, switch = (settle or prefetch_and_settle)(settings, options, environment)
    return ModelStep(result, switch, cache.location)


def prefetch_and_settle(
    settings: Settings, options: PrefetchOptions, environment: dict[str, Any] | None = None
) -> tuple[PrefetchResult, ModelSwitch | None]:
    """Prefetch, then (when it did not fail) record the model against the previous runs'."""
    from launcher.models.fetch import prefetch

    before = last_used_model(settings.status_file)
    result = prefetch(options, status_file=settings.status_file, environment=environment)
    if result.error() is not None:
        return result, None
    switch = settle_model(
        settings.status_file, result.to_json(), before, allow_switch=settings.allow_model_switch
    )
    return result, switch
