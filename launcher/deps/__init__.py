"""Install the backend's dependencies into its venv from the source the user's tool would read.

`step` is what `up` calls; `sources` decides which file counts (docs/shells.md).
"""

from __future__ import annotations

from launcher.deps.installer import INSTALL_TIMEOUT, install_argv
from launcher.deps.sources import (
    REQUIREMENTS,
    DependencyInputs,
    DependencySource,
    detect_source,
    find_source,
    read_inputs,
)
from launcher.deps.stamp import STAMP_FILE, STAMP_SCHEMA, compute_stamp, stamp_state
from launcher.deps.stamp import write_stamp as _write_stamp
from launcher.deps.step import sync_for_up
from launcher.deps.sync import MODES, DepsResult, InstallFailed, sync_dependencies

__all__ = [
    "INSTALL_TIMEOUT",
    "MODES",
    "REQUIREMENTS",
    "STAMP_FILE",
    "STAMP_SCHEMA",
    "DependencyInputs",
    "DependencySource",
    "DepsResult",
    "InstallFailed",
    "_write_stamp",
    "compute_stamp",
    "detect_source",
    "find_source",
    "install_argv",
    "read_inputs",
    "stamp_state",
    "sync_dependencies",
    "sync_for_up",
]
