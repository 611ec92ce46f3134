"""(not built yet)"""

from __future__ import annotations

from launcher.errors import LauncherError


def command() -> None:
    raise LauncherError("'doctor' is not built yet", "See the issue tracker.")
