"""The backend server: the public interface of the package that runs and supervises it.

Modules: `port` (port probe), `tree` (stop signals, stopping a tree, `kill_tree`), `guard` and
`watchdog` (the tree dies with the launcher), `health` (readiness, the health route found),
`supervise` (`serve()`), `claim` (one project, one running `up`), `runfile` (which launcher
runs the project's backend), `report` (what `status` says). The `up` flow renders what
serve() reports (`launcher/up/view.py`).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from launcher.server.health import probe_url
    from launcher.server.port import (
        check_port,
        describe_process,
        in_use_error,
        pick_free_port,
        port_holder,
    )
    from launcher.server.supervise import RESTART, ServeEvents, ServeTarget, serve
    from launcher.server.tree import exit_code, kill_tree

# Loaded on first use: a warm `up` starts its backend early (launcher/up/early.py) through
# `server.guard` alone, before any of these is needed.
_HOME = {
    "probe_url": "health",
    "check_port": "port",
    "describe_process": "port",
    "in_use_error": "port",
    "pick_free_port": "port",
    "port_holder": "port",
    "RESTART": "supervise",
    "ServeEvents": "supervise",
    "ServeTarget": "supervise",
    "serve": "supervise",
    "exit_code": "tree",
    "kill_tree": "tree",
}

__all__ = [
    "RESTART",
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


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)
