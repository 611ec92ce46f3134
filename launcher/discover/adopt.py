"""Read what the backend's code hard-wires as the settings' code layer (explicit ones win).

`Settings.with_code` merges the layer (above the defaults, below pyproject, env and flags). A
hard-wired cache_dir also beats FASTEMBED_CACHE_PATH: the backend's code ignores that variable
once it passes `cache_dir=`.
"""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from launcher.discover.hardwired import Found, find_hardwired
from launcher.discover.source import Interpreter
from launcher.settings import CodeValue, Settings, Source


def adopt_hardwired(settings: Settings, interpreter: Interpreter = None) -> Settings:
    """`settings` (the explicit ones) with the code layer: what the backend's code hard-wires
    fills `model` and `cache_dir` where nobody set them. `interpreter` parses what the
    launcher's Python cannot (`venvs.interpreters.venv_interpreter`).

    A hard-wired value that an explicit setting overrides is logged as a warning: the backend
    will still read its own value. So is a model the code loads that cannot be prefetched.
    """
    found = find_hardwired(settings.project, interpreter)
    layer: dict[str, CodeValue] = {}
    for name, value in (("model", found.prefetchable), ("cache_dir", found.cache_dir)):
        if value is not None:
            layer[name] = CodeValue(value.value, value.where)
            _tell(settings, name, value)
    prefetched = layer["model"].value if "model" in layer else settings.model
    for candidate in found.unprefetchable:
        logger.warning(
            f"{candidate.where}: the backend loads the model {candidate.value!r} "
            f"({candidate.how}), which robo-backend cannot prefetch (fastembed does not list "
            f"it); prefetching {prefetched!r} instead, which the backend may not use"
        )
    return settings.with_code(layer)


def _tell(settings: Settings, name: str, found: Found) -> None:
    origin = settings.origin(name)
    if origin.source is Source.DEFAULT:
        logger.debug(found.describe(name))
        return
    if not _same(settings, name, found.value):
        current = getattr(settings, name)
        logger.warning(
            f"{name} = {current!r} ({origin.detail}) wins, but the backend's code reads "
            f"{found.value!r} ({found.where}); the backend may not find what was prefetched"
        )


def _same(settings: Settings, name: str, hardwired: str) -> bool:
    if name == "model":
        return settings.model.lower() == hardwired.lower()
    return settings.cache_path is not None and (
        settings.cache_path.resolve() == Path(hardwired).resolve()
    )
