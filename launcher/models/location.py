"""Where the model cache lives: the candidates in order, each write-probed, and the one used."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from launcher.errors import ModelError
from launcher.models.layout import FOLDER_PREFIX

# Windows' MAX_PATH is 260; a model file sits ~140 characters below the cache root.
MAX_ROOT_LENGTH = 115


@dataclass
class CacheLocation:
    """The cache root actually used, where that choice came from, and what was skipped."""

    path: Path
    source: str  # "--cache-dir", "ROBO_BACKEND_CACHE_DIR", "FASTEMBED_CACHE_PATH", "default", …
    persistent: bool  # False when the root lies in the temp folder (cleaners may empty it)
    # False for a read-only cache that already holds models (a baked Docker layer, a read-only
    # mount): its valid models are used as they are; nothing is downloaded, repaired or locked.
    writable: bool = True
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(asdict(self), path=str(self.path))


def default_cache_dir() -> Path:
    """The persistent per-user default: platformdirs' user cache dir + `models`."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("robo-backend", appauthor=False)) / "models"


def legacy_cache_dir() -> Path:
    """fastembed's own default, `<temp>/fastembed_cache`, which temp cleaners empty."""
    return Path(tempfile.gettempdir()) / "fastembed_cache"


def write_probe(path: Path) -> str | None:
    """Really write in `path` (create, write, fsync, rename, delete); None or why it failed:
    `os.access` and `tempfile.gettempdir()` both lie (ACLs, read-only mounts, quota)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        token = f".robo-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        first, second = path / f"{token}.tmp", path / f"{token}.done"
        try:
            with open(first, "wb") as handle:
                handle.write(b"robo-backend write probe\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(first, second)
            second.unlink()
        finally:
            for leftover in (first, second):
                with contextlib.suppress(OSError):
                    leftover.unlink()
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _in_temp(path: Path) -> bool:
    return path.resolve().is_relative_to(Path(tempfile.gettempdir()).resolve())


def _holds_models(path: Path) -> bool:
    try:
        return path.is_dir() and any(
            entry.name.lower().startswith(FOLDER_PREFIX) for entry in os.scandir(path)
        )
    except OSError:
        return False


def _candidates(
    value: str | os.PathLike[str] | None, source: str, environ: Mapping[str, str]
) -> list[tuple[Path, str]]:
    candidates: list[tuple[Path, str]] = []
    if value is not None and value != "":
        candidates.append((Path(os.fspath(value)).expanduser(), source))
    fastembed_path = environ.get("FASTEMBED_CACHE_PATH", "").strip()
    if fastembed_path:
        candidates.append((Path(fastembed_path).expanduser(), "FASTEMBED_CACHE_PATH"))
    with contextlib.suppress(Exception):
        candidates.append((default_cache_dir(), "default"))
    candidates.append((Path.home() / ".robo-backend" / "models", "fallback (home)"))
    candidates.append((Path(tempfile.gettempdir()) / "robo-backend-models", "fallback (temp)"))
    return candidates


def _usable(absolute: Path, where: str, warnings: list[str]) -> CacheLocation:
    if len(str(absolute)) > MAX_ROOT_LENGTH:
        warnings.append(
            f"model cache path is {len(str(absolute))} characters long; Windows paths over "
            f"260 characters fail, keep it under {MAX_ROOT_LENGTH} (use --cache-dir)"
        )
    persistent = not _in_temp(absolute)
    if not persistent:
        warnings.append(f"model cache {absolute} is in the temp folder, which cleaners may empty")
    return CacheLocation(absolute, where, persistent, warnings=warnings)


def resolve_cache_dir(
    value: str | os.PathLike[str] | None,
    source: str = "default",
    env: Mapping[str, str] | None = None,
) -> CacheLocation:
    """Pick the cache root, first usable of: the setting, `FASTEMBED_CACHE_PATH`, platformdirs,
    `~/.robo-backend/models`, the temp folder. Each is write-probed; an unwritable one is skipped
    with a warning unless it holds models (then used read-only). None usable → ModelError."""
    environ = os.environ if env is None else env
    warnings: list[str] = []
    tried: set[str] = set()
    for path, where in _candidates(value, source, environ):
        absolute = path if path.is_absolute() else Path.cwd() / path
        key = os.path.normcase(str(absolute))
        if key in tried:
            continue
        tried.add(key)
        problem = write_probe(absolute)
        if problem is None:
            return _usable(absolute, where, warnings)
        if _holds_models(absolute):
            warnings.append(
                f"model cache {absolute} (from {where}) is read-only ({problem}); using the "
                "models already in it, nothing can be downloaded or repaired there"
            )
            persistent = not _in_temp(absolute)
            return CacheLocation(absolute, where, persistent, writable=False, warnings=warnings)
        warnings.append(
            f"model cache {absolute} (from {where}) is not writable ({problem}); skipped"
        )
    raise ModelError(
        "no writable folder for the model cache: " + "; ".join(warnings),
        "Point --cache-dir (or ROBO_BACKEND_CACHE_DIR) at a folder you can write to.",
    )
