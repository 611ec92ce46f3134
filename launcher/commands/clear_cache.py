"""(not built yet)"""

from __future__ import annotations

from launcher.errors import LauncherError


def command() -> None:
    raise LauncherError("'clear_cache' is not built yet", "See the issue tracker.")
