"""Old import path of app discovery, kept until every caller imports `launcher.discover`."""

from __future__ import annotations

from launcher.discover.apps import CANDIDATE_FILES, CANDIDATE_NAMES, AppTarget, discover_app

__all__ = ["CANDIDATE_FILES", "CANDIDATE_NAMES", "AppTarget", "discover_app"]
