"""The type of a fixture that runs the real CLI in a subprocess."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

CliRunner = Callable[..., subprocess.CompletedProcess[str]]
