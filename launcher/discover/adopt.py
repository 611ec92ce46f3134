"""Read what the backend's code hard-wires as the settings' code layer (explicit ones win).

`Settings.with_code` merges the layer (above the defaults, below pyproject, env and flags). A
hard-wired cache_dir also beats FASTEMBED_CACHE_PATH: the backend's code ignores that variable
once it passes `cache_dir=`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from loguru import logger

from launcher.discover.hardwired import Found, Hardwired, find_hardwired
from launcher.discover.source import Interpreter
from launcher.settings import CodeValue, Settings, Source


def venv_interpreter(settings: Settings) -> Callable[[], Path | None]:
    """A finder (run at most once, and only when a file needs it) for the python that knows the
    backend's grammar: the project venv's when it exists, else the configured `python`, else one
    that fits the project's requires-python (the one the venv will be created with)."""
    found: list[Path | None] = []

    def find() -> Path | None:
        if not found:
            found.append(_grammar_python(settings))
        return found[0]

    return find


def _grammar_python(settings: Settings) -> Path | None:
    existing = existing_venv_python(settings.venv_path)
    if existing is not None:
        return existing
    if settings.python:
        configured = shutil.which(str(settings.python))
        return Path(configured) if configured else None
    from launcher.errors import LauncherError
    from launcher.platform import PlatformFacts
    from launcher.venvs.interpreters import find_python
    from launcher.venvs.requires import requires_python

    requires = requires_python(settings.project)
    if requires is None:
        return None  # the venv will get an interpreter like ours: it parses no more than we do
    try:
        chosen = find_python(None, PlatformFacts.current(), requires=requires, cwd=settings.project)
    except LauncherError:
        return None
    return Path(chosen.path)


def existing_venv_python(venv: Path) -> Path | None:
    from launcher.venvs.pyvenv import venv_python

    python = venv_python(venv)
    return python if python.is_file() else None


def adopt_hardwired(settings: Settings, interpreter: Interpreter = None) -> Settings:
    """`settings` (the explicit ones) with the code layer: what the backend's code hard-wires
    fills `model` and `cache_dir` where nobody set them."""
    code = read_code(settings, interpreter or venv_interpreter(settings))
    return settings.with_code(code)


def read_code(settings: Settings, interpreter: Interpreter) -> dict[str, CodeValue]:
    """The model and cache_dir the backend's code hard-wires, as a layer of settings.

    `settings` are the explicit ones. A hard-wired value that an explicit setting overrides is
    logged as a warning: the backend will still read its own value. So is a model the code
    loads that cannot be prefetched.
    """
    found = find_hardwired(settings.project, interpreter)
    known, unknown = _by_prefetchability(found)
    layer: dict[str, CodeValue] = {}
    for name, value in (("model", known[0] if known else None), ("cache_dir", found.cache_dir)):
        if value is not None:
            layer[name] = CodeValue(value.value, value.where)
            _tell(settings, name, value)
    prefetched = layer["model"].value if "model" in layer else settings.model
    for candidate in unknown:
        logger.warning(
            f"{candidate.where}: the backend loads the model {candidate.value!r} "
            f"({candidate.how}), which robo-backend cannot prefetch (fastembed does not list "
            f"it); prefetching {prefetched!r} instead, which the backend may not use"
        )
    return layer


def _by_prefetchability(found: Hardwired) -> tuple[list[Found], list[Found]]:
    """The models the code names that fastembed can prefetch, and those a loading call names
    that it cannot (a sparse model, an LLM in a `*_model_name` field or a custom model that is
    only guessed from a field name is left alone, with a debug note)."""
    from launcher.errors import UsageError
    from launcher.models.registry import lookup

    known: list[Found] = []
    unknown: list[Found] = []
    for candidate in [m for m in (found.model, *found.others) if m is not None]:
        try:
            lookup(candidate.value)
        except UsageError:
            if candidate.loaded:
                unknown.append(candidate)
            else:
                logger.debug(
                    f"{candidate.value!r} ({candidate.where}) is not a fastembed text model "
                    "robo-backend can prefetch; not adopted"
                )
            continue
        known.append(candidate)
    return known, unknown


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
