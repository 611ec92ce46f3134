"""Find, validate and create the project's venv; build the environment that "activates" it.

A venv made by another OS is never touched: a per-platform sibling such as `.venv-wsl` is used.
"""

from __future__ import annotations

from launcher.venvs.creation import remove_venv
from launcher.venvs.ensure import ensure_venv
from launcher.venvs.environment import activated_env, scrubbed_env
from launcher.venvs.info import VenvInfo
from launcher.venvs.inspection import inspect_venv, same_path
from launcher.venvs.interpreters import find_python, is_store_alias
from launcher.venvs.pyvenv import (
    display_path,
    pyvenv_version,
    read_pyvenv_cfg,
    venv_for_platform,
    venv_layout,
    venv_python,
)

__all__ = [
    "VenvInfo",
    "activated_env",
    "display_path",
    "ensure_venv",
    "find_python",
    "inspect_venv",
    "is_store_alias",
    "pyvenv_version",
    "read_pyvenv_cfg",
    "remove_venv",
    "same_path",
    "scrubbed_env",
    "venv_for_platform",
    "venv_layout",
    "venv_python",
]
