"""Doctor test helpers: platform facts for Linux and Windows, a context builder type, `only`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from launcher.checks import Check, DoctorContext, run_checks
from launcher.platform import PlatformFacts

LINUX = PlatformFacts(
    platform="linux",
    env={"SHELL": "/bin/bash", "PATH": os.environ.get("PATH", "")},
    parents=("bash",),
    executable=sys.executable,
)
WINDOWS = PlatformFacts(
    platform="win32",
    env={"COMSPEC": r"C:\Windows\system32\cmd.exe", "PSModulePath": r"C:\Users\me\Documents"},
    parents=("pwsh.exe", "explorer.exe"),
)

Builder = Callable[..., DoctorContext]


def only(context: DoctorContext, check_id: str) -> Check:
    """Run one check of the registry and return its single result."""
    prefix = check_id.split(":", 1)[0]
    found = [c for c in run_checks(context, only={prefix}) if c.id == check_id]
    assert len(found) == 1, found
    return found[0]
