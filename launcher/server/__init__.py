"""The backend server: port probe (`port`), process tree (`tree`), readiness (`health`), serve().

The public names below are the package's interface; the `up` flow renders what serve() reports.
"""

from __future__ import annotations

from launcher.server.health import probe_url
from launcher.server.port import (
    check_port,
    describe_process,
    in_use_error,
    pick_free_port,
    port_holder,
)
from launcher.server.supervise import ServeEvents, ServeTarget, serve
from launcher.server.tree import exit_code, kill_tree

__all__ = [
    "ServeEvents",
    "ServeTarget",
    "check_port",
    "describe_process",
    "exit_code",
    "in_use_error",
    "kill_tree",
    "pick_free_port",
    "port_holder",
    "probe_url",
    "serve",
]
