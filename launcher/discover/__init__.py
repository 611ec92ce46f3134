"""What the backend's code tells, read without importing it: its app, model and cache folder.

`discover_app` finds the app to serve, `find_hardwired` the model and cache_dir the code
hard-wires; the order of the rules is in docs/adoption.md.
"""

from __future__ import annotations

from launcher.discover.apps import CANDIDATE_FILES, CANDIDATE_NAMES, AppTarget, discover_app
from launcher.discover.hardwired import Found, Hardwired, find_hardwired

__all__ = [
    "CANDIDATE_FILES",
    "CANDIDATE_NAMES",
    "AppTarget",
    "Found",
    "Hardwired",
    "discover_app",
    "find_hardwired",
]
