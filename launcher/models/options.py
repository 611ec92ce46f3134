"""What one prefetch needs (`PrefetchOptions`), with the defaults of `registry.py`.

Filling it from resolved settings and the environment is the job of `launcher.model_step`,
outside this package: `models/` knows nothing of settings or the console.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from launcher.fileops import DEFAULT_FILE_OPS, FileOps
from launcher.models.floor import DEFAULT_MIN_RATE
from launcher.models.location import CacheLocation
from launcher.models.lock import DEFAULT_LOCK_WAIT
from launcher.models.parts import DEFAULT_PART_THRESHOLD, DEFAULT_PARTS
from launcher.models.registry import (
    DEFAULT_FALLBACK_MODEL,
    DEFAULT_MODEL,
    DEFAULT_MODEL_BUDGET,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_DELAY,
    DEFAULT_STALL_TIMEOUT,
)
from launcher.models.reporting import ProgressFactory

if TYPE_CHECKING:
    from launcher.models.registry import ModelSpec


@dataclass
class PrefetchOptions:
    """Everything one prefetch needs; None means "decide when prefetch starts"."""

    model: str = DEFAULT_MODEL
    fallback_model: str | None = DEFAULT_FALLBACK_MODEL
    cache: CacheLocation | Path | str | None = None  # None: the default cache location
    retries: int = DEFAULT_RETRIES
    retry_delay: float = DEFAULT_RETRY_DELAY
    stall_timeout: float = DEFAULT_STALL_TIMEOUT
    min_rate: float = DEFAULT_MIN_RATE  # bytes/s over a stall_timeout window (0: no floor)
    budget: float = DEFAULT_MODEL_BUDGET  # seconds the chain may go without progress (0: none)
    offline: bool = False
    require_model: bool = False
    endpoint: str | None = None  # None: HF_ENDPOINT (read then, never at import time)
    token: str | None = None  # None: HF_TOKEN
    lock_timeout: float = DEFAULT_LOCK_WAIT
    symlinks: bool | None = None  # None: unless Windows, HF_HUB_DISABLE_SYMLINKS or unsupported
    legacy_dir: Path | None = None  # None: fastembed's old default, <temp>/fastembed_cache
    sentence_transformers: bool = True
    file_ops: FileOps = field(default_factory=lambda: DEFAULT_FILE_OPS)
    progress: ProgressFactory | None = None  # opens a display per download (None: log lines)
    # the models as the backend's fastembed describes them (`registry.described`): they win
    # over the built-in table, repo spelling included
    described: dict[str, ModelSpec] = field(default_factory=dict)
    parts: int = DEFAULT_PARTS  # parallel ranged connections for a file of part_threshold bytes
    part_threshold: int = DEFAULT_PART_THRESHOLD
    starts_backend: bool = True  # False for `prefetch`: its warnings speak of itself, not `up`
