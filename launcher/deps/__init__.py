"""Install the backend's dependencies into its venv from the source the user's tool would read.

`step` is what `up` calls; `sources` decides which file counts (docs/shells.md).
"""

from __future__ import annotations

from launcher.deps.sources import detect_source
from launcher.deps.stamp import STAMP_FILE, compute_stamp, stamp_state
from launcher.deps.step import sync_for_up
from launcher.deps.sync import sync_dependencies

__all__ = [
    "STAMP_FILE",
    "compute_stamp",
    "detect_source",
    "stamp_state",
    "sync_dependencies",
    "sync_for_up",
]
