"""Find, validate and create the project's venv; build the environment that "activates" it.

A venv made by another OS is never touched: a per-platform sibling such as `.venv-wsl` is used.
"""

from __future__ import annotations

from launcher.platform import find_uv
from launcher.venvs.creation import (
    CREATE_TIMEOUT,
    CREATOR_LABELS,
    CREATORS,
    create_venv,
    remove_venv,
)
from launcher.venvs.ensure import ensure_venv
from launcher.venvs.environment import activated_env, scrubbed_env
from launcher.venvs.info import Interpreter, VenvInfo
from launcher.venvs.inspection import VALIDATE_TIMEOUT, Problem, VenvHealth, inspect_venv, same_path
from launcher.venvs.interpreters import find_python, is_store_alias
from launcher.venvs.pyvenv import (
    display_path,
    has_pip,
    health_os,
    pyvenv_version,
    read_pyvenv_cfg,
    sibling_path,
    venv_for_platform,
    venv_layout,
    venv_python,
)

__all__ = [
    "CREATE_TIMEOUT",
    "CREATORS",
    "CREATOR_LABELS",
    "VALIDATE_TIMEOUT",
    "Interpreter",
    "Problem",
    "VenvHealth",
    "VenvInfo",
    "activated_env",
    "create_venv",
    "display_path",
    "ensure_venv",
    "find_python",
    "find_uv",
    "has_pip",
    "health_os",
    "inspect_venv",
    "is_store_alias",
    "pyvenv_version",
    "read_pyvenv_cfg",
    "remove_venv",
    "same_path",
    "scrubbed_env",
    "sibling_path",
    "venv_for_platform",
    "venv_layout",
    "venv_python",
]
