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
    """Everything one prefetch needs.

    `endpoint`/`token` None mean "read HF_ENDPOINT/HF_TOKEN now" (never at import time).
    `cache` None means the default cache location, resolved when prefetch starts.
    `legacy_dir` None means fastembed's old default, `<temp>/fastembed_cache`.
    `symlinks` None means "symlinks unless Windows, HF_HUB_DISABLE_SYMLINKS or unsupported".
    `min_rate` is the throughput floor in bytes/s over a `stall_timeout` window (0: none).
    `budget` is the seconds the whole chain may go without receiving a byte (0: no limit).
    `progress` opens a progress display per download (None: no display, log lines only).
    `starts_backend` says whether a backend starts after this prefetch (`up`) or not
    (`prefetch`), so the degraded warning tells the truth about what happens next.
    `described` holds the models as the backend's fastembed describes them (by name; see
    `registry.described`): they win over the built-in table, repo spelling included.
    `parts` is how many parallel ranged connections a file of at least `part_threshold` bytes
    gets (1: one connection for every file).
    """

    model: str = DEFAULT_MODEL
    fallback_model: str | None = DEFAULT_FALLBACK_MODEL
    cache: CacheLocation | Path | str | None = None
    retries: int = DEFAULT_RETRIES
    retry_delay: float = DEFAULT_RETRY_DELAY
    stall_timeout: float = DEFAULT_STALL_TIMEOUT
    min_rate: float = DEFAULT_MIN_RATE
    budget: float = DEFAULT_MODEL_BUDGET
    offline: bool = False
    require_model: bool = False
    endpoint: str | None = None
    token: str | None = None
    lock_timeout: float = DEFAULT_LOCK_WAIT
    symlinks: bool | None = None
    legacy_dir: Path | None = None
    sentence_transformers: bool = True
    file_ops: FileOps = field(default_factory=lambda: DEFAULT_FILE_OPS)
    progress: ProgressFactory | None = None
    described: dict[str, ModelSpec] = field(default_factory=dict)
    parts: int = DEFAULT_PARTS
    part_threshold: int = DEFAULT_PART_THRESHOLD
    starts_backend: bool = True  # False for `prefetch`: its warnings speak of itself, not `up`
